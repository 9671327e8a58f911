import { z } from 'zod';
import * as S from '../../src/schemas/rest.js';
import * as V from '../../src/schemas/views.js';
import { DeliveryReportForm, InboundMessageForm, VoiceCallForm } from '../../src/schemas/webhooks.js';
import { ApiCode, ErrorBody, Id } from '../../src/schemas/common.js';
import { componentName, toJsonSchemas, type Io, type JsonSchema } from '../../src/schemas/json-schema.js';
import { ERROR_CODES, errorStatus } from '../../src/errors.js';
import { WEBHOOK_PATHS } from '../webhooks/webhook-paths.js';

// The OpenAPI 3.1 document, generated from the same schemas that validate requests and type the
// answers. Served at GET /api/v1/openapi.json and written to docs/openapi.json by `npm run docs`
// (a test checks that the committed copy is current, and independent validators check the copy).
//
// One entry per route. What a route answers is declared with it: `answers` (success bodies, by
// status) and `errors` (the refusals particular to it). Refusals every route of its kind can give
// are added here: 401 with a bearer, 400 with a query, body or headers, 413/415 with a body, 404
// with a path parameter, 403 for a webhook's signature. Request headers go in `headers`.

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

interface Answer {
  status: number;
  description: string;
  /** A JSON body of this schema. */
  json?: z.ZodType;
  /** Other bodies: JSON Schema by media type. */
  media?: Record<string, JsonSchema>;
}

interface Operation {
  id: string;
  method: Method;
  path: string;
  summary: string;
  tag: Tag;
  auth: 'bearer' | 'none' | 'plivo';
  /** A JSON request body. */
  body?: z.ZodType;
  /** Request bodies of other media types (a zod schema, or `text` for a plain string). */
  bodies?: Record<string, z.ZodType | 'text'>;
  query?: z.ZodObject;
  headers?: z.ZodObject;
  answers: Answer[];
  /** Refusals of this route beyond those every route of its kind can give (see above). */
  errors?: number[];
}

const TAGS = {
  identity: 'Signing in and out; who am I',
  directory: 'Departments, people and API keys',
  contacts: 'Students, their CSV import',
  numbers: 'Numbers to rent for group accounts',
  'group accounts': 'Shared texting accounts with six numbers each',
  conversations: 'Inbox and Archived, and histories',
  messages: 'Composing and replying',
  campaigns: 'Paced outreach to many recipients: schedule, start, pause, resume, cancel, watch (live: the `campaign` WebSocket event)',
  locks: 'The conversation lock board (the WebSocket has the live protocol: docs/asyncapi.json)',
  webhooks: 'Called by Plivo, signed by Plivo',
  operations: 'Health, readiness, metrics and this document',
} as const;
type Tag = keyof typeof TAGS;

const json = (status: number, schema: z.ZodType, description: string): Answer => ({ status, description, json: schema });
const noContent = (description: string): Answer => ({ status: 204, description });
const emptyText: Answer = { status: 200, description: 'Received (Plivo retries any other answer)', media: { 'text/plain': { type: 'string', maxLength: 0 } } };

/** The path parameters of every route, by name. */
const PATH_PARAMS: Record<string, z.ZodType> = {
  id: Id,
  keyId: Id,
  apiCode: ApiCode,
  accountRef: z.union([z.literal('personal'), ApiCode]).meta({ description: '`personal` or a group account’s apiCode' }),
};

const csvText = { type: 'string', description: 'The CSV file; a header row names the columns (Phone required; FirstName, LastName, StaffId, any custom field)' };

export const OPERATIONS: Operation[] = [
  { id: 'createSession', method: 'post', path: '/api/v1/sessions', summary: 'Sign in (email + password) and get a bearer token', tag: 'identity', auth: 'none', body: S.SessionCreate, answers: [json(201, V.SessionView, 'Signed in')], errors: [401, 429] },
  { id: 'deleteSession', method: 'delete', path: '/api/v1/sessions', summary: 'Sign out (revokes this session)', tag: 'identity', auth: 'bearer', answers: [noContent('Signed out')], errors: [400] },
  { id: 'getMe', method: 'get', path: '/api/v1/me', summary: 'The signed-in user and the accounts they can use', tag: 'identity', auth: 'bearer', answers: [json(200, V.Me, 'You')], errors: [403] },
  { id: 'listDepartments', method: 'get', path: '/api/v1/departments', summary: 'Departments visible to the caller', tag: 'directory', auth: 'bearer', answers: [json(200, V.DepartmentList, 'Departments')] },
  { id: 'createDepartment', method: 'post', path: '/api/v1/departments', summary: 'Create a department (owner)', tag: 'directory', auth: 'bearer', body: S.DepartmentCreate, answers: [json(201, V.DepartmentView, 'Created')], errors: [403, 409] },
  { id: 'listApiKeys', method: 'get', path: '/api/v1/departments/{id}/api-keys', summary: "A department's API keys (admins)", tag: 'directory', auth: 'bearer', answers: [json(200, V.ApiKeyList, 'Keys (never the keys themselves)')], errors: [403] },
  { id: 'createApiKey', method: 'post', path: '/api/v1/departments/{id}/api-keys', summary: 'Create an API key (shown once)', tag: 'directory', auth: 'bearer', body: S.ApiKeyCreate, answers: [json(201, V.CreatedApiKey, 'Created')], errors: [403] },
  { id: 'revokeApiKey', method: 'delete', path: '/api/v1/departments/{id}/api-keys/{keyId}', summary: 'Revoke an API key', tag: 'directory', auth: 'bearer', answers: [noContent('Revoked')], errors: [403] },
  { id: 'listUsers', method: 'get', path: '/api/v1/users', summary: 'Users (admins: the people of the departments they manage)', tag: 'directory', auth: 'bearer', query: S.UserListQuery, answers: [json(200, V.UserList, 'Users')], errors: [403] },
  { id: 'createUser', method: 'post', path: '/api/v1/users', summary: 'Create a user with a personal number (admins)', tag: 'directory', auth: 'bearer', body: S.UserCreate, answers: [json(201, V.CreatedUser, 'Created')], errors: [403, 409, 422] },
  { id: 'getUser', method: 'get', path: '/api/v1/users/{id}', summary: 'A user', tag: 'directory', auth: 'bearer', answers: [json(200, V.UserView, 'The user')] },
  { id: 'updateUser', method: 'patch', path: '/api/v1/users/{id}', summary: 'Change a user', tag: 'directory', auth: 'bearer', body: S.UserPatch, answers: [json(200, V.UserView, 'Changed')], errors: [403, 429] },
  { id: 'listContacts', method: 'get', path: '/api/v1/contacts', summary: 'Search contacts (students)', tag: 'contacts', auth: 'bearer', query: S.ContactQuery, answers: [json(200, V.ContactList, 'Contacts')] },
  { id: 'createContact', method: 'post', path: '/api/v1/contacts', summary: 'Create a contact', tag: 'contacts', auth: 'bearer', body: S.ContactCreate, answers: [json(201, V.ContactView, 'Created')], errors: [409] },
  { id: 'getContact', method: 'get', path: '/api/v1/contacts/{id}', summary: 'A contact', tag: 'contacts', auth: 'bearer', answers: [json(200, V.ContactView, 'The contact')] },
  { id: 'updateContact', method: 'patch', path: '/api/v1/contacts/{id}', summary: 'Change a contact: names, assignment, custom fields, tags (admins)', tag: 'contacts', auth: 'bearer', body: S.ContactPatch, answers: [json(200, V.ContactView, 'The contact now')], errors: [403, 404] },
  {
    id: 'importContacts',
    method: 'post',
    path: '/api/v1/contacts/import',
    summary: 'Import contacts from CSV (admins; all or nothing; a blank StaffId clears the assignment)',
    tag: 'contacts',
    auth: 'bearer',
    bodies: { 'text/csv': 'text', 'text/plain': 'text', 'application/json': S.ContactImportJson },
    answers: [json(200, V.ContactImportResult, 'Imported')],
    errors: [403],
  },
  { id: 'searchNumbers', method: 'get', path: '/api/v1/numbers/available', summary: 'Search numbers to rent by area code and exchange (admins)', tag: 'numbers', auth: 'bearer', query: S.NumberSearchQuery, answers: [json(200, V.AvailableNumberList, 'Numbers free to rent')], errors: [403] },
  { id: 'createGroupAccount', method: 'post', path: '/api/v1/group-accounts', summary: 'Create a group account (six numbers, rented now)', tag: 'group accounts', auth: 'bearer', body: S.GroupAccountCreate, answers: [json(201, V.AccountView, 'Created, with its members')], errors: [403, 404, 409] },
  { id: 'listGroupAccounts', method: 'get', path: '/api/v1/group-accounts', summary: 'Group accounts the caller has access to', tag: 'group accounts', auth: 'bearer', answers: [json(200, V.AccountList, 'Group accounts')] },
  { id: 'getGroupAccount', method: 'get', path: '/api/v1/group-accounts/{apiCode}', summary: 'A group account', tag: 'group accounts', auth: 'bearer', answers: [json(200, V.AccountView, 'The account, with its members')] },
  { id: 'updateGroupAccount', method: 'patch', path: '/api/v1/group-accounts/{apiCode}', summary: 'Change a group account (its admins)', tag: 'group accounts', auth: 'bearer', body: S.GroupAccountPatch, answers: [json(200, V.AccountView, 'Changed')], errors: [403, 409] },
  { id: 'deleteGroupAccount', method: 'delete', path: '/api/v1/group-accounts/{apiCode}', summary: 'Delete a group account (releases its numbers; history stays)', tag: 'group accounts', auth: 'bearer', answers: [noContent('Deleted')], errors: [403] },
  { id: 'getMembers', method: 'get', path: '/api/v1/group-accounts/{apiCode}/members', summary: 'Members', tag: 'group accounts', auth: 'bearer', answers: [json(200, V.Members, 'Members')] },
  { id: 'setMembers', method: 'put', path: '/api/v1/group-accounts/{apiCode}/members', summary: 'Replace the members (removed ones lose access at once)', tag: 'group accounts', auth: 'bearer', body: S.MembersPut, answers: [json(200, V.Members, 'Members now')], errors: [403] },
  { id: 'listConversations', method: 'get', path: '/api/v1/accounts/{accountRef}/conversations', summary: "An account's Inbox or Archived, newest first", tag: 'conversations', auth: 'bearer', query: S.ConversationListQuery, answers: [json(200, V.ConversationPage, 'A page')], errors: [403] },
  { id: 'getConversation', method: 'get', path: '/api/v1/conversations/{id}', summary: 'A conversation', tag: 'conversations', auth: 'bearer', answers: [json(200, V.ConversationView, 'The conversation')] },
  { id: 'listMessages', method: 'get', path: '/api/v1/conversations/{id}/messages', summary: 'The history, oldest first, with who sent each text', tag: 'conversations', auth: 'bearer', query: S.MessageListQuery, answers: [json(200, V.MessageList, 'Messages')] },
  { id: 'archiveConversation', method: 'post', path: '/api/v1/conversations/{id}/archive', summary: 'Move to Archived', tag: 'conversations', auth: 'bearer', answers: [json(200, V.ConversationView, 'Moved')] },
  { id: 'unarchiveConversation', method: 'post', path: '/api/v1/conversations/{id}/unarchive', summary: 'Move back to the Inbox', tag: 'conversations', auth: 'bearer', answers: [json(200, V.ConversationView, 'Moved')] },
  { id: 'markConversationRead', method: 'post', path: '/api/v1/conversations/{id}/read', summary: 'Mark read', tag: 'conversations', auth: 'bearer', answers: [json(200, V.ConversationView, 'Read')] },
  { id: 'reply', method: 'post', path: '/api/v1/conversations/{id}/messages', summary: 'Reply (queued; group accounts need the lock’s lockToken)', tag: 'messages', auth: 'bearer', body: S.Reply, headers: S.SendHeaders, answers: [json(202, V.MessageView, 'Queued for sending')], errors: [403, 409, 422] },
  { id: 'compose', method: 'post', path: '/api/v1/messages', summary: 'Compose to one or many (queued per pool number), or schedule it with scheduledAt', tag: 'messages', auth: 'bearer', body: S.Compose, headers: S.SendHeaders, answers: [json(202, V.ComposeResult, 'Queued for sending'), json(201, V.CampaignView, 'Scheduled (with scheduledAt): a campaign of kind `message`')], errors: [403, 404, 409, 422] },
  { id: 'measureMessage', method: 'post', path: '/api/v1/messages/measure', summary: 'Encoding, length and segments of a text', tag: 'messages', auth: 'bearer', body: S.Measure, answers: [json(200, V.Measurement, 'The measurement')] },
  { id: 'createCampaign', method: 'post', path: '/api/v1/campaigns', summary: 'Create a campaign (a draft, or scheduled with scheduledAt); its recipients are expanded in the background', tag: 'campaigns', auth: 'bearer', body: S.CampaignCreate, headers: S.SendHeaders, answers: [json(201, V.CampaignView, 'Created')], errors: [404, 409, 422] },
  { id: 'listCampaigns', method: 'get', path: '/api/v1/campaigns', summary: "An account's campaigns, newest first", tag: 'campaigns', auth: 'bearer', query: S.CampaignListQuery, answers: [json(200, V.CampaignList, 'Campaigns')], errors: [403, 404] },
  { id: 'getCampaign', method: 'get', path: '/api/v1/campaigns/{id}', summary: 'A campaign with its counts and the time it still needs', tag: 'campaigns', auth: 'bearer', answers: [json(200, V.CampaignView, 'The campaign')] },
  { id: 'listCampaignRecipients', method: 'get', path: '/api/v1/campaigns/{id}/recipients', summary: 'Recipients in order, with their status; `status` filters', tag: 'campaigns', auth: 'bearer', query: S.CampaignRecipientsQuery, answers: [json(200, V.CampaignRecipientList, 'Recipients')] },
  { id: 'previewCampaign', method: 'get', path: '/api/v1/campaigns/{id}/preview', summary: "The campaign's text for one recipient (phone or contactId), merge fields filled, with its encoding and segments", tag: 'campaigns', auth: 'bearer', query: S.CampaignPreviewQuery, answers: [json(200, V.CampaignPreview, 'The preview')] },
  { id: 'startCampaign', method: 'post', path: '/api/v1/campaigns/{id}/start', summary: 'Start sending now (a draft, or a scheduled one early); after 20:00 with sendAnyway', tag: 'campaigns', auth: 'bearer', body: S.CampaignStart, answers: [json(200, V.CampaignView, 'The campaign now')], errors: [409, 422] },
  { id: 'pauseCampaign', method: 'post', path: '/api/v1/campaigns/{id}/pause', summary: 'Pause: nothing more is handed to the number queues until resumed', tag: 'campaigns', auth: 'bearer', answers: [json(200, V.CampaignView, 'The campaign now')], errors: [409] },
  { id: 'resumeCampaign', method: 'post', path: '/api/v1/campaigns/{id}/resume', summary: 'Resume a campaign a person paused; after 20:00 with sendAnyway', tag: 'campaigns', auth: 'bearer', body: S.CampaignStart, answers: [json(200, V.CampaignView, 'The campaign now')], errors: [409, 422] },
  { id: 'cancelCampaign', method: 'post', path: '/api/v1/campaigns/{id}/cancel', summary: 'Cancel: recipients not handed over yet are never sent to', tag: 'campaigns', auth: 'bearer', answers: [json(200, V.CampaignView, 'The campaign now')], errors: [409] },
  { id: 'listLocks', method: 'get', path: '/api/v1/locks', summary: "The department's held conversation locks (owners and the department's admins): the live board's first picture", tag: 'locks', auth: 'bearer', query: S.LocksQuery, answers: [json(200, V.LockList, 'Held locks')], errors: [403, 404] },
  { id: 'plivoInboundMessage', method: 'post', path: WEBHOOK_PATHS.message, summary: 'Plivo inbound SMS (signed by Plivo)', tag: 'webhooks', auth: 'plivo', bodies: { 'application/x-www-form-urlencoded': InboundMessageForm }, answers: [emptyText] },
  { id: 'plivoDeliveryReport', method: 'post', path: WEBHOOK_PATHS.status, summary: 'Plivo delivery report (signed by Plivo)', tag: 'webhooks', auth: 'plivo', bodies: { 'application/x-www-form-urlencoded': DeliveryReportForm }, answers: [emptyText] },
  {
    id: 'plivoVoiceAnswer',
    method: 'post',
    path: WEBHOOK_PATHS.voice,
    summary: "Plivo voice answer URL: forward the call to the account's forwarding number, or say so and hang up",
    tag: 'webhooks',
    auth: 'plivo',
    bodies: { 'application/x-www-form-urlencoded': VoiceCallForm },
    answers: [{ status: 200, description: 'Plivo XML', media: { 'application/xml': { type: 'string', description: 'A Plivo <Response> with <Dial> or <Speak>' } } }],
  },
  { id: 'getHealth', method: 'get', path: '/healthz', summary: 'Liveness', tag: 'operations', auth: 'none', answers: [json(200, V.Health, 'Alive')] },
  {
    id: 'getReadiness',
    method: 'get',
    path: '/readyz',
    summary: 'Readiness (store open, provider application set, queues running)',
    tag: 'operations',
    auth: 'none',
    answers: [json(200, V.Readiness, 'Ready'), json(503, V.Readiness, 'Still starting')],
  },
  { id: 'getMetrics', method: 'get', path: '/metrics', summary: 'Prometheus metrics', tag: 'operations', auth: 'none', answers: [{ status: 200, description: 'Prometheus text format 0.0.4', media: { 'text/plain': { type: 'string' } } }] },
  { id: 'getOpenApi', method: 'get', path: '/api/v1/openapi.json', summary: 'This document', tag: 'operations', auth: 'none', answers: [json(200, V.OpenApiDocument, 'OpenAPI 3.1')] },
];

/** Component names of the error answers, by status. */
const ERROR_RESPONSES: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthenticated',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'Conflict',
  413: 'PayloadTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Unprocessable',
  429: 'TooManyRequests',
  503: 'Unavailable',
};

function errorStatuses(op: Operation): number[] {
  const out = new Set(op.errors);
  const hasBody = op.body !== undefined || op.bodies !== undefined;
  if (op.auth === 'bearer') out.add(401);
  if (op.auth === 'plivo') out.add(403);
  if (hasBody || op.query || op.headers) out.add(400);
  if (hasBody) {
    out.add(413);
    out.add(415);
  }
  if (op.path.includes('{')) out.add(404);
  // Until start-up is done the API (but this document) and the webhooks answer 503 not_ready.
  if (op.path.startsWith('/webhooks/') || (op.path.startsWith('/api/v1/') && op.id !== 'getOpenApi')) out.add(503);
  return [...out].sort((a, b) => a - b);
}

const codesOf = (status: number) => ERROR_CODES.filter((c) => errorStatus(c) === status);
const codeList = (codes: string[]) => codes.map((c) => `\`${c}\``).join(', ');

const SCHEMAS = '#/components/schemas/';

export function openApiDocument(): Record<string, unknown> {
  // Every schema the document names, converted together so each becomes one shared component.
  const named: Array<[z.ZodType, Io]> = [[ErrorBody, 'output']];
  const inline: Record<string, [z.ZodType, Io]> = {};
  const use = (key: string, schema: z.ZodType, io: Io) => {
    if (componentName(schema)) named.push([schema, io]);
    else inline[key] = [schema, io];
  };
  for (const op of OPERATIONS) {
    if (op.body) use(`${op.id}.body`, op.body, 'input');
    for (const [media, body] of Object.entries(op.bodies ?? {})) if (body !== 'text') use(`${op.id}.${media}`, body, 'input');
    if (op.query) inline[`${op.id}.query`] = [op.query, 'input'];
    if (op.headers) inline[`${op.id}.headers`] = [op.headers, 'input'];
    for (const a of op.answers) if (a.json) use(`${op.id}.${a.status}`, a.json, 'output');
  }
  for (const [name, schema] of Object.entries(PATH_PARAMS)) inline[`path.${name}`] = [schema, 'input'];
  const { components, inline: inlined } = toJsonSchemas(named, inline, { target: 'draft-2020-12', refPrefix: SCHEMAS });
  const schemaOf = (key: string, schema: z.ZodType): JsonSchema => {
    const name = componentName(schema);
    return name ? { $ref: SCHEMAS + name } : inlined[key]!;
  };
  const parametersOf = (key: string, where: 'query' | 'header'): unknown[] => {
    const object = inlined[key] as { properties?: Record<string, JsonSchema>; required?: string[] };
    return Object.entries(object.properties ?? {}).map(([name, schema]) => ({ name, in: where, required: (object.required ?? []).includes(name), schema }));
  };

  const usedErrors = new Set<number>();
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const parameters: unknown[] = [...op.path.matchAll(/\{(\w+)\}/g)].map(([, name]) => {
      if (!PATH_PARAMS[name!]) throw new Error(`Declare the path parameter {${name}} in PATH_PARAMS`);
      return { name, in: 'path', required: true, schema: inlined[`path.${name}`] };
    });
    if (op.query) parameters.push(...parametersOf(`${op.id}.query`, 'query'));
    if (op.headers) parameters.push(...parametersOf(`${op.id}.headers`, 'header'));

    const responses: Record<string, unknown> = {};
    for (const a of op.answers) {
      const content = a.json ? { 'application/json': { schema: schemaOf(`${op.id}.${a.status}`, a.json) } } : a.media ? Object.fromEntries(Object.entries(a.media).map(([m, schema]) => [m, { schema }])) : undefined;
      responses[String(a.status)] = { description: a.description, ...(content ? { content } : {}) };
    }
    for (const status of errorStatuses(op)) {
      if (!ERROR_RESPONSES[status]) throw new Error(`Name the error answer ${status} in ERROR_RESPONSES`);
      usedErrors.add(status);
      responses[String(status)] = { $ref: `#/components/responses/${ERROR_RESPONSES[status]}` };
    }
    responses.default = { $ref: '#/components/responses/Error' };

    const operation: Record<string, unknown> = {
      operationId: op.id,
      summary: op.summary,
      tags: [op.tag],
      security: op.auth === 'bearer' ? [{ bearer: [] }] : op.auth === 'plivo' ? [{ plivoSignature: [] }] : [],
      ...(parameters.length ? { parameters } : {}),
    };
    const bodies: Record<string, unknown> = {};
    let required = true;
    if (op.body) {
      bodies['application/json'] = { schema: schemaOf(`${op.id}.body`, op.body) };
      // A JSON body whose every field is optional may be left out (it reads as {}).
      required = !op.body.safeParse({}).success;
    }
    for (const [media, body] of Object.entries(op.bodies ?? {})) {
      bodies[media] = { schema: body === 'text' ? csvText : schemaOf(`${op.id}.${media}`, body) };
    }
    if (Object.keys(bodies).length) operation.requestBody = { required, content: bodies };
    operation.responses = responses;
    (paths[op.path] ??= {})[op.method] = operation;
  }

  const errorContent = { 'application/json': { schema: { $ref: `${SCHEMAS}Error` } } };
  const responses: Record<string, unknown> = {};
  for (const status of [...usedErrors].sort((a, b) => a - b)) {
    responses[ERROR_RESPONSES[status]!] = { description: `${status}: ${codeList(codesOf(status))}`, content: errorContent };
  }
  const other = [...new Set(ERROR_CODES.map(errorStatus))].filter((s) => s >= 500 || !usedErrors.has(s)).sort((a, b) => a - b);
  responses.Error = { description: `Any other refusal or fault: ${other.map((s) => `${s} (${codeList(codesOf(s))})`).join('; ')}`, content: errorContent };

  return {
    openapi: '3.1.0',
    info: {
      title: 'Switchboard',
      version: '1',
      description:
        'Team texting from shared group accounts. REST under /api/v1 with a bearer token (a session from POST /api/v1/sessions, or a department API key). ' +
        'Errors are {"error":{"code","message"}}; codes are listed in docs/errors.md. The WebSocket protocol is described in docs/asyncapi.json.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [
      {
        url: '{scheme}://{host}',
        description: 'A Switchboard node (its PUBLIC_URL; `npm start` listens on 127.0.0.1:3000)',
        variables: { scheme: { default: 'http', enum: ['http', 'https'] }, host: { default: '127.0.0.1:3000' } },
      },
    ],
    tags: Object.entries(TAGS).map(([name, description]) => ({ name, description })),
    paths,
    components: {
      schemas: Object.fromEntries(Object.entries(components).sort(([a], [b]) => a.localeCompare(b))),
      responses,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'A session token from POST /api/v1/sessions, or a department API key (sbk_...)' },
        plivoSignature: { type: 'apiKey', in: 'header', name: 'X-Plivo-Signature-V3', description: 'Plivo V3 signature of PUBLIC_URL + path and the form (V2 accepted on messaging routes)' },
      },
    },
  };
}
