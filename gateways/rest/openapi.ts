import { z } from 'zod';
import * as S from '../../src/schemas/rest.js';
import { ErrorBody } from '../../src/schemas/common.js';

// The OpenAPI document, generated from the same schemas that validate requests. Served at
// GET /api/v1/openapi.json and written to docs/openapi.json by `npm run docs` (a test checks that
// the committed copy is current).

interface Operation {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  path: string;
  summary: string;
  tag: string;
  body?: z.ZodType;
  bodyType?: string;
  query?: z.ZodType;
  status: number;
  auth: 'bearer' | 'none' | 'plivo';
  /** Sends texts: takes an Idempotency-Key header (src/services/idempotency.ts). */
  idempotent?: true;
}

const ops: Operation[] = [
  { method: 'post', path: '/api/v1/sessions', summary: 'Sign in (email + password) and get a bearer token', tag: 'identity', body: S.SessionCreate, status: 201, auth: 'none' },
  { method: 'delete', path: '/api/v1/sessions', summary: 'Sign out (revokes this session)', tag: 'identity', status: 204, auth: 'bearer' },
  { method: 'get', path: '/api/v1/me', summary: 'The signed-in user and the accounts they can use', tag: 'identity', status: 200, auth: 'bearer' },
  { method: 'get', path: '/api/v1/departments', summary: 'Departments visible to the caller', tag: 'directory', status: 200, auth: 'bearer' },
  { method: 'post', path: '/api/v1/departments', summary: 'Create a department (owner)', tag: 'directory', body: S.DepartmentCreate, status: 201, auth: 'bearer' },
  { method: 'get', path: '/api/v1/departments/{id}/api-keys', summary: "A department's API keys (admins)", tag: 'directory', status: 200, auth: 'bearer' },
  { method: 'post', path: '/api/v1/departments/{id}/api-keys', summary: 'Create an API key (shown once)', tag: 'directory', body: S.ApiKeyCreate, status: 201, auth: 'bearer' },
  { method: 'delete', path: '/api/v1/departments/{id}/api-keys/{keyId}', summary: 'Revoke an API key', tag: 'directory', status: 204, auth: 'bearer' },
  { method: 'get', path: '/api/v1/users', summary: 'Users (admins)', tag: 'directory', status: 200, auth: 'bearer' },
  { method: 'post', path: '/api/v1/users', summary: 'Create a user with a personal number (admins)', tag: 'directory', body: S.UserCreate, status: 201, auth: 'bearer' },
  { method: 'get', path: '/api/v1/users/{id}', summary: 'A user', tag: 'directory', status: 200, auth: 'bearer' },
  { method: 'patch', path: '/api/v1/users/{id}', summary: 'Change a user', tag: 'directory', body: S.UserPatch, status: 200, auth: 'bearer' },
  { method: 'get', path: '/api/v1/contacts', summary: 'Search contacts (students)', tag: 'contacts', query: S.ContactQuery, status: 200, auth: 'bearer' },
  { method: 'post', path: '/api/v1/contacts', summary: 'Create a contact', tag: 'contacts', body: S.ContactCreate, status: 201, auth: 'bearer' },
  { method: 'get', path: '/api/v1/contacts/{id}', summary: 'A contact', tag: 'contacts', status: 200, auth: 'bearer' },
  { method: 'post', path: '/api/v1/contacts/import', summary: 'Import contacts from CSV (all or nothing; StaffId blank clears)', tag: 'contacts', bodyType: 'text/csv', status: 200, auth: 'bearer' },
  { method: 'get', path: '/api/v1/numbers/available', summary: 'Search numbers to rent by area code and exchange', tag: 'numbers', query: S.NumberSearchQuery, status: 200, auth: 'bearer' },
  { method: 'post', path: '/api/v1/group-accounts', summary: 'Create a group account (six numbers)', tag: 'group accounts', body: S.GroupAccountCreate, status: 201, auth: 'bearer' },
  { method: 'get', path: '/api/v1/group-accounts', summary: 'Group accounts the caller has access to', tag: 'group accounts', status: 200, auth: 'bearer' },
  { method: 'get', path: '/api/v1/group-accounts/{apiCode}', summary: 'A group account', tag: 'group accounts', status: 200, auth: 'bearer' },
  { method: 'patch', path: '/api/v1/group-accounts/{apiCode}', summary: 'Change a group account', tag: 'group accounts', body: S.GroupAccountPatch, status: 200, auth: 'bearer' },
  { method: 'delete', path: '/api/v1/group-accounts/{apiCode}', summary: 'Delete a group account (releases its numbers)', tag: 'group accounts', status: 204, auth: 'bearer' },
  { method: 'get', path: '/api/v1/group-accounts/{apiCode}/members', summary: 'Members', tag: 'group accounts', status: 200, auth: 'bearer' },
  { method: 'put', path: '/api/v1/group-accounts/{apiCode}/members', summary: 'Replace the members', tag: 'group accounts', body: S.MembersPut, status: 200, auth: 'bearer' },
  { method: 'get', path: '/api/v1/accounts/{accountRef}/conversations', summary: "An account's Inbox or Archived (accountRef: personal or an apiCode)", tag: 'conversations', query: S.ConversationListQuery, status: 200, auth: 'bearer' },
  { method: 'get', path: '/api/v1/conversations/{id}', summary: 'A conversation', tag: 'conversations', status: 200, auth: 'bearer' },
  { method: 'get', path: '/api/v1/conversations/{id}/messages', summary: 'The history, oldest first, with who sent each text', tag: 'conversations', query: S.MessageListQuery, status: 200, auth: 'bearer' },
  { method: 'post', path: '/api/v1/conversations/{id}/archive', summary: 'Move to Archived', tag: 'conversations', status: 200, auth: 'bearer' },
  { method: 'post', path: '/api/v1/conversations/{id}/unarchive', summary: 'Move back to the Inbox', tag: 'conversations', status: 200, auth: 'bearer' },
  { method: 'post', path: '/api/v1/conversations/{id}/read', summary: 'Mark read', tag: 'conversations', status: 200, auth: 'bearer' },
  { method: 'post', path: '/api/v1/conversations/{id}/messages', summary: 'Reply (queued; lockToken fences group-account replies)', tag: 'messages', body: S.Reply, status: 202, auth: 'bearer', idempotent: true },
  { method: 'post', path: '/api/v1/messages', summary: 'Compose to one or many (queued per pool number)', tag: 'messages', body: S.Compose, status: 202, auth: 'bearer', idempotent: true },
  { method: 'get', path: '/api/v1/locks', summary: "The department's held conversation locks (owners and the department's admins): the live board's first picture", tag: 'locks', query: S.LocksQuery, status: 200, auth: 'bearer' },
  { method: 'post', path: '/api/v1/messages/measure', summary: 'Encoding, length and segments of a text', tag: 'messages', status: 200, auth: 'bearer' },
  { method: 'post', path: '/webhooks/plivo/message', summary: 'Plivo inbound SMS (signed by Plivo)', tag: 'webhooks', bodyType: 'application/x-www-form-urlencoded', status: 200, auth: 'plivo' },
  { method: 'post', path: '/webhooks/plivo/status', summary: 'Plivo delivery report (signed by Plivo)', tag: 'webhooks', bodyType: 'application/x-www-form-urlencoded', status: 200, auth: 'plivo' },
  { method: 'post', path: '/webhooks/plivo/voice', summary: 'Plivo voice answer URL: forwarding XML', tag: 'webhooks', bodyType: 'application/x-www-form-urlencoded', status: 200, auth: 'plivo' },
  { method: 'get', path: '/healthz', summary: 'Liveness', tag: 'operations', status: 200, auth: 'none' },
  { method: 'get', path: '/readyz', summary: 'Readiness (store open, provider application set, queues running)', tag: 'operations', status: 200, auth: 'none' },
  { method: 'get', path: '/metrics', summary: 'Prometheus metrics', tag: 'operations', status: 200, auth: 'none' },
];

const IDEMPOTENCY_KEY = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description:
    'Makes the send safe to retry: the same key with the same body answers the first outcome (same status and body) and sends nothing again, also after a restart; ' +
    'the same key with another body is refused (422 idempotency_key_reused); while the first request is still being processed, 409 idempotency_key_in_flight. ' +
    'Keys are per caller and kept 24 hours (IDEMPOTENCY_KEY_TTL_MS). 1 to 255 printable ASCII characters, as a quoted string ("…") or bare.',
  schema: { type: 'string', minLength: 1, maxLength: 257 },
  example: '"8e03978e-40d5-43e8-bc93-6894a57f9324"',
};

function jsonSchema(schema: z.ZodType): unknown {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'openapi-3.0' }) as Record<string, unknown>;
  return rest;
}

export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of ops) {
    const params = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    if (op.query) {
      const q = jsonSchema(op.query) as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, schema] of Object.entries(q.properties ?? {})) {
        params.push({ name, in: 'query', required: (q.required ?? []).includes(name), schema } as never);
      }
    }
    if (op.idempotent) params.push(IDEMPOTENCY_KEY as never);
    const errorBody = { 'application/json': { schema: jsonSchema(ErrorBody) } };
    const operation: Record<string, unknown> = {
      summary: op.summary,
      tags: [op.tag],
      ...(params.length ? { parameters: params } : {}),
      ...(op.auth === 'bearer' ? { security: [{ bearer: [] }] } : op.auth === 'plivo' ? { security: [{ plivoSignature: [] }] } : { security: [] }),
      responses: {
        [String(op.status)]: { description: 'Success' },
        ...(op.idempotent
          ? {
              '409': { description: 'A request with this Idempotency-Key is still being processed (idempotency_key_in_flight), or another conflict', content: errorBody },
              '422': { description: 'This Idempotency-Key was used with another request (idempotency_key_reused), or a sending rule refused it', content: errorBody },
            }
          : {}),
        default: { description: 'Error', content: errorBody },
      },
    };
    if (op.body) operation.requestBody = { required: true, content: { 'application/json': { schema: jsonSchema(op.body) } } };
    else if (op.bodyType) operation.requestBody = { required: true, content: { [op.bodyType]: { schema: { type: 'string' } } } };
    (paths[op.path] ??= {})[op.method] = operation;
  }
  return {
    openapi: '3.0.3',
    info: {
      title: 'Switchboard',
      version: '1',
      description: 'Team texting from shared group accounts. Errors are {"error":{"code","message"}}; codes are listed in docs/errors.md.',
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'A session token from POST /api/v1/sessions, or a department API key (sbk_...)' },
        plivoSignature: { type: 'apiKey', in: 'header', name: 'X-Plivo-Signature-V3', description: 'Plivo V3 signature (V2 accepted on messaging routes)' },
      },
    },
    paths,
  };
}
