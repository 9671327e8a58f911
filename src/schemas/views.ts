import { z } from 'zod';
import { ApiCode, Id, Role } from './common.js';
import { LOCK_STATES } from '../../actors/conversation/index.js';
import type { AccountLockView, LockHolderIdentity } from '../locks/lock-view.js';
import type { CampaignCounts as CampaignCountsRecord, CampaignRecipient } from '../domain/types.js';
import { CAMPAIGN_STATES } from '../../actors/campaign/index.js';
import type { Equal } from './type-equality.js';

// What clients see of each record: the answers of the REST API and the payloads of WebSocket
// frames. The gateway's view functions are typed by these schemas, and the generated OpenAPI and
// AsyncAPI documents describe them, so the descriptions cannot drift from what is sent. Objects are
// closed: a field added to a view but not here fails the type check or the conformance tests.

export const Timestamp = z.number().int().min(0).meta({ description: 'Epoch milliseconds' });
export const E164 = z
  .string()
  .regex(/^\+[1-9]\d{1,14}$/)
  .meta({ description: 'An E.164 phone number', examples: ['+16175550123'] });
const Count = z.number().int().min(0);

export const UserView = z
  .object({
    id: Id,
    email: z.email(),
    name: z.string(),
    role: Role,
    departmentIds: z.array(Id),
    disabled: z.boolean(),
    createdAt: Timestamp,
  })
  .meta({ id: 'User' });
export type UserView = z.infer<typeof UserView>;

export const CreatedUser = UserView.extend({ personalNumber: E164.meta({ description: 'The personal number rented for them' }) }).meta({
  id: 'CreatedUser',
});
export const UserList = z.object({ items: z.array(UserView) }).meta({ id: 'UserList' });

export const SessionView = z.object({ token: z.string().meta({ description: 'The bearer token' }), expiresAt: Timestamp, user: UserView }).meta({ id: 'Session' });

export const DepartmentView = z
  .object({
    id: Id,
    name: z.string(),
    code: z.string().regex(/^[A-Z0-9]{2,12}$/),
    timeZone: z.string().meta({ description: 'IANA time zone for quiet hours' }),
    createdAt: Timestamp,
  })
  .meta({ id: 'Department' });
export type DepartmentView = z.infer<typeof DepartmentView>;
export const DepartmentList = z.object({ items: z.array(DepartmentView) }).meta({ id: 'DepartmentList' });

export const AccountView = z
  .object({
    id: Id,
    kind: z.enum(['personal', 'group']),
    name: z.string(),
    apiCode: ApiCode.nullable().meta({ description: 'Group accounts: how the API addresses them; personal: null' }),
    departmentId: Id.nullable(),
    color: z
      .string()
      .regex(/^#[0-9a-f]{6}$/)
      .nullable(),
    numbers: z.array(E164).meta({ description: 'Six for a group account, one for a personal account' }),
    forwardingNumber: E164.nullable(),
    memberIds: z.array(Id).optional().meta({ description: 'Group accounts, where the answer says who has access' }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .meta({ id: 'Account' });
export type AccountView = z.infer<typeof AccountView>;
export const AccountList = z.object({ items: z.array(AccountView) }).meta({ id: 'AccountList' });
export const SimulatorInfo = z
  .object({
    handsetRoutes: z.boolean().meta({
      description: "Whether this server serves the simulator's student-phone routes (/simulator/messages, /simulator/calls): on a loopback HOST, or with SIMULATOR_ROUTES=true",
    }),
  })
  .meta({ id: 'SimulatorInfo' });
export const Me = z
  .object({
    user: UserView,
    accounts: z.array(AccountView).meta({ description: 'Personal first, then the group accounts' }),
    simulator: SimulatorInfo.nullable().meta({ description: 'null: texts go through Plivo. Otherwise this server runs on the built-in Plivo simulator' }),
  })
  .meta({ id: 'Me' });
export type Me = z.infer<typeof Me>;
export const Members = z.object({ memberIds: z.array(Id) }).meta({ id: 'Members' });

export const ContactView = z
  .object({
    id: Id,
    firstName: z.string(),
    lastName: z.string(),
    phone: E164,
    staffId: Id.nullable(),
    customFields: z.record(z.string(), z.string()),
    tags: z.array(z.string()).meta({ description: 'Lowercase, each once, sorted' }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .meta({ id: 'Contact' });
export type ContactView = z.infer<typeof ContactView>;
export const ContactList = z.object({ items: z.array(ContactView) }).meta({ id: 'ContactList' });
export const ContactImportResult = z.object({ created: Count, updated: Count }).meta({ id: 'ContactImportResult' });

export const ConversationView = z
  .object({
    id: Id,
    accountId: Id,
    contact: z.object({ id: Id, firstName: z.string(), lastName: z.string(), phone: E164 }).nullable(),
    folder: z.enum(['inbox', 'archived']),
    unread: Count,
    senderNumber: E164.nullable().meta({ description: 'The pool number this contact texts with (sticky sender)' }),
    lastMessageAt: Timestamp.nullable(),
    lastMessagePreview: z.string().nullable(),
    lastMessageDirection: z.enum(['inbound', 'outbound']).nullable(),
    createdAt: Timestamp,
  })
  .meta({ id: 'Conversation' });
export type ConversationView = z.infer<typeof ConversationView>;
export const ConversationPage = z
  .object({
    items: z.array(ConversationView),
    nextBefore: z.string().nullable().meta({ description: 'Pass as `before` for the next page; null on the last page' }),
  })
  .meta({ id: 'ConversationPage' });

export const Encoding = z.enum(['GSM-7', 'UCS-2']);
export const MessageView = z
  .object({
    id: Id,
    conversationId: Id,
    direction: z.enum(['inbound', 'outbound']),
    text: z.string(),
    encoding: Encoding,
    segments: Count,
    status: z
      .enum(['queued', 'sending', 'submitted', 'sent', 'delivered', 'undelivered', 'failed', 'rejected', 'unknown', 'received'])
      .meta({ description: 'Outbound: queued → sending → submitted → sent → delivered | undelivered | failed (rejected, unknown); inbound: received' }),
    from: E164,
    to: E164,
    sentBy: z
      .object({ userId: Id.nullable(), name: z.string().nullable() })
      .nullable()
      .meta({ description: 'Outbound: who sent it; null for inbound and automatic replies' }),
    errorCode: z.string().nullable().meta({ description: "Plivo's error code of a failed delivery" }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .meta({ id: 'Message' });
export type MessageView = z.infer<typeof MessageView>;
export const MessageList = z.object({ items: z.array(MessageView) }).meta({ id: 'MessageList' });

export const ComposeResult = z
  .object({
    accountId: Id,
    queued: Count,
    skipped: z.object({ optedOut: Count, notYourStudent: Count, unassigned: Count }),
    messages: z.array(z.object({ id: Id, conversationId: Id, to: E164, from: E164, segments: Count, encoding: Encoding })),
  })
  .meta({ id: 'ComposeResult' });
export type ComposeResult = z.infer<typeof ComposeResult>;

export const Measurement = z
  .object({
    encoding: Encoding,
    units: Count.meta({ description: 'Septets (GSM-7) or UTF-16 code units (UCS-2)' }),
    segments: Count,
    characters: Count.meta({ description: 'Characters as a person counts them' }),
    remainingInSegment: Count,
    maxLength: Count.meta({ description: 'The hard limit in characters (MESSAGE_MAX_LENGTH)' }),
  })
  .meta({ id: 'Measurement' });

export const ApiKeyView = z
  .object({
    id: Id,
    departmentId: Id,
    name: z.string(),
    prefix: z.string().meta({ description: 'The first characters of the key, to tell keys apart' }),
    createdAt: Timestamp,
    revokedAt: Timestamp.nullable(),
  })
  .meta({ id: 'ApiKey' });
export type ApiKeyView = z.infer<typeof ApiKeyView>;
export const ApiKeyList = z.object({ items: z.array(ApiKeyView) }).meta({ id: 'ApiKeyList' });
export const CreatedApiKey = z.object({ key: z.string().meta({ description: 'The key itself, shown only this once' }), apiKey: ApiKeyView }).meta({ id: 'CreatedApiKey' });

export const AvailableNumber = z
  .object({
    number: E164,
    city: z.string().nullable(),
    region: z.string().nullable(),
    monthlyRentalRate: z.string().nullable(),
    smsEnabled: z.boolean(),
    voiceEnabled: z.boolean(),
  })
  .meta({ id: 'AvailableNumber' });
export const AvailableNumberList = z.object({ items: z.array(AvailableNumber) }).meta({ id: 'AvailableNumberList' });

export const LockHolder = z.object({ userId: Id, name: z.string() }).meta({ id: 'LockHolder' });
export const LockView = z
  .object({
    conversationId: Id,
    accountId: Id,
    state: z.enum(LOCK_STATES),
    holder: LockHolder.optional().meta({ description: 'Who is responding (locked, idleWarning)' }),
    since: Timestamp.optional().meta({ description: 'When the holder got the lock' }),
    releaseAt: Timestamp.optional().meta({ description: 'idleWarning: when the lock goes unless the holder confirms' }),
  })
  .meta({ id: 'Lock' });
export const LockList = z.object({ items: z.array(LockView) }).meta({ id: 'LockList' });
// The wire schemas describe the actor's own types: a field added to one and not the other fails here.
true satisfies Equal<z.infer<typeof LockHolder>, LockHolderIdentity>;
true satisfies Equal<z.infer<typeof LockView>, AccountLockView>;

export const Health = z.object({ status: z.literal('ok') }).meta({ id: 'Health' });
export const Readiness = z
  .object({ status: z.enum(['ready', 'starting']).meta({ description: 'ready (200), or starting (503) until start-up is complete' }) })
  .meta({ id: 'Readiness' });

export const OpenApiDocument = z
  .object({ openapi: z.string(), info: z.object({ title: z.string(), version: z.string() }).catchall(z.unknown()), paths: z.record(z.string(), z.unknown()) })
  .catchall(z.unknown())
  .meta({ id: 'OpenApiDocument', description: 'An OpenAPI 3.1 document (this one)' });

export const CampaignState = z.enum(CAMPAIGN_STATES).meta({ id: 'CampaignState' });
export const PausedReason = z
  .enum(['person', 'quietHours'])
  .nullable()
  .meta({ description: '`paused` only: by a person (waits for resume), or by quiet hours (resumes at 06:00 by itself)' });
export const RECIPIENT_STATUSES = ['queued', 'sent', 'delivered', 'failed', 'skipped_opted_out', 'skipped_invalid', 'unknown'] as const;
export const RecipientStatus = z.enum(RECIPIENT_STATUSES).meta({ id: 'RecipientStatus' });

export const CampaignCounts = z
  .object({
    total: Count.meta({ description: 'Recipients (distinct phones, invalid ones included)' }),
    queued: Count.meta({ description: 'Not sent yet (waiting, or in a number queue)' }),
    sent: Count,
    delivered: Count,
    failed: Count,
    unknown: Count.meta({ description: 'A crash hid whether the text went out; never re-sent automatically' }),
    skippedOptedOut: Count,
    skippedDuplicate: Count.meta({ description: 'Inputs naming a phone already in the campaign' }),
    skippedInvalid: Count.meta({ description: 'Numbers that are not phone numbers, unknown contact ids, texts too long after merge fields' }),
    replies: Count.meta({ description: 'Recipients who replied after their campaign text' }),
  })
  .meta({ id: 'CampaignCounts' });

export const CampaignKind = z
  .enum(['campaign', 'message'])
  .meta({ id: 'CampaignKind', description: '`message`: a single message scheduled with POST /messages and `scheduledAt`, run as a campaign of its `to`' });

export const CampaignView = z
  .object({
    id: Id,
    kind: CampaignKind,
    accountId: Id,
    name: z.string(),
    text: z.string(),
    state: CampaignState,
    pausedReason: PausedReason,
    scheduledAt: Timestamp.nullable(),
    counts: CampaignCounts,
    estimatedDurationMs: Count.meta({ description: "What is left at the pool's pacing: each number sends one text per NUMBER_SEND_INTERVAL_MS, the numbers in parallel" }),
    createdBy: z.object({ userId: Id.nullable(), name: z.string() }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .meta({ id: 'Campaign' });
export const CampaignList = z.object({ items: z.array(CampaignView) }).meta({ id: 'CampaignList' });

export const CampaignRecipientView = z
  .object({
    phone: z.string().meta({ description: 'E.164, or the input as given when it is not a phone number' }),
    seq: Count.meta({ description: 'Order in the campaign; the cursor of `after`' }),
    contactId: Id.nullable(),
    senderNumber: E164.nullable(),
    status: RecipientStatus,
    messageId: Id.nullable(),
    handedAt: Timestamp.nullable(),
    repliedAt: Timestamp.nullable(),
  })
  .meta({ id: 'CampaignRecipient' });
export const CampaignPreview = Measurement.extend({
  phone: E164,
  contactId: Id.nullable().meta({ description: 'The contact with this phone; null when none is on file yet' }),
  text: z.string().meta({ description: "The campaign's text with this recipient's merge fields filled, as it would be sent" }),
  tooLong: z.boolean().meta({ description: 'Over MESSAGE_MAX_LENGTH: this recipient would be skipped as invalid' }),
}).meta({ id: 'CampaignPreview', description: "The campaign's text for one recipient, with its encoding and segments" });
export const CampaignRecipientList = z.object({ items: z.array(CampaignRecipientView) }).meta({ id: 'CampaignRecipientList' });

true satisfies Equal<z.infer<typeof CampaignCounts>, CampaignCountsRecord>;
true satisfies Equal<z.infer<typeof RecipientStatus>, CampaignRecipient['status']>;
