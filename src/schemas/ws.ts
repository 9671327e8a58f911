import { z } from 'zod';
import { ApiCode, ErrorCode, Id } from './common.js';
import { CampaignCounts, CampaignKind, CampaignState, LockHolder, LockView, MessageView, PausedReason, Timestamp } from './views.js';
import { RELEASE_REASONS } from '../../actors/conversation/index.js';

// WebSocket protocol v1: one schema per frame. The gateway validates every client frame against
// ClientFrame and builds every frame it sends as a ServerFrame; docs/asyncapi.json is generated
// from these same schemas.

export const PROTOCOL_VERSION = 1;

/** A request's id: echoed as `re` in its answer. An id that is not 1–64 characters is not echoed. */
export const RequestId = z.string().min(1).max(64);
const Ref = RequestId.optional().meta({ description: 'Echoed as `re` in the ack or error answering this frame' });
/** `personal` or a group account's apiCode. */
const AccountRef = z.union([z.literal('personal'), ApiCode]).meta({ description: '`personal`, or a group account’s apiCode' });
const LockToken = z
  .number()
  .int()
  .min(1)
  .meta({ description: 'The fencing token of your lock grant: owner epoch × 2^24 + counter, only ever growing; opaque to clients' });

export const SubscribeFrame = z.strictObject({ type: z.literal('subscribe'), id: Ref, account: AccountRef }).meta({ id: 'Subscribe' });
export const UnsubscribeFrame = z.strictObject({ type: z.literal('unsubscribe'), id: Ref, account: AccountRef }).meta({ id: 'Unsubscribe' });
export const WatchLocksFrame = z.strictObject({ type: z.literal('watchLocks'), id: Ref, departmentId: Id }).meta({ id: 'WatchLocks' });
export const UnwatchLocksFrame = z.strictObject({ type: z.literal('unwatchLocks'), id: Ref, departmentId: Id }).meta({ id: 'UnwatchLocks' });
export const OpenFrame = z.strictObject({ type: z.literal('open'), id: Ref, conversationId: Id }).meta({ id: 'Open' });
export const ActivityFrame = z.strictObject({ type: z.literal('activity'), id: Ref, conversationId: Id }).meta({ id: 'Activity' });
export const StillWorkingFrame = z.strictObject({ type: z.literal('stillWorking'), id: Ref, conversationId: Id }).meta({ id: 'StillWorking' });
export const LeaveFrame = z.strictObject({ type: z.literal('leave'), id: Ref, conversationId: Id }).meta({ id: 'Leave' });
export const ReplyFrame = z
  .strictObject({
    type: z.literal('reply'),
    id: Ref,
    conversationId: Id,
    lockToken: LockToken.optional().meta({ description: 'Group accounts: the token of your lock (lock_required without it); personal accounts have no lock' }),
    text: z.string().max(1600),
    clientRef: z.string().min(1).max(64).optional().meta({ description: "The client's own id for the text, echoed back" }),
  })
  .meta({ id: 'Reply' });
export const TakeOverFrame = z.strictObject({ type: z.literal('takeOver'), id: Ref, conversationId: Id }).meta({ id: 'TakeOver' });
export const PingFrame = z.strictObject({ type: z.literal('ping'), id: Ref }).meta({ id: 'Ping' });

export const ClientFrame = z.discriminatedUnion('type', [
  SubscribeFrame,
  UnsubscribeFrame,
  WatchLocksFrame,
  UnwatchLocksFrame,
  OpenFrame,
  ActivityFrame,
  StillWorkingFrame,
  LeaveFrame,
  ReplyFrame,
  TakeOverFrame,
  PingFrame,
]);
export type ClientFrame = z.infer<typeof ClientFrame>;

// --- server → client: answers ----------------------------------------------------------------

const Re = RequestId.optional().meta({ description: 'The id of the request answered; absent when it had none' });
const ack = <Shape extends z.ZodRawShape>(id: string, description: string, shape: Shape) =>
  z.object({ type: z.literal('ack'), re: Re, ...shape }).meta({ id, description });

export const Hello = z
  .object({
    type: z.literal('ack'),
    re: z.literal('hello'),
    protocol: z.literal(PROTOCOL_VERSION),
    connectionId: z.string().meta({ description: 'This connection, as lock holders are known by' }),
    user: z.object({ id: Id, name: z.string() }),
  })
  .meta({ id: 'Hello', description: 'The first frame of every connection' });

const AccountSummary = z.object({ id: Id, apiCode: ApiCode.nullable(), name: z.string() });
export const SubscribeAck = ack('SubscribeAck', 'subscribe: the account, and every lock held in it now (none for a personal account); its events follow', {
  account: AccountSummary,
  locks: z.array(LockView),
});
export const EmptyAck = ack('EmptyAck', 'unsubscribe, unwatchLocks: done', {});
export const WatchLocksAck = ack('WatchLocksAck', "watchLocks: every held lock of the department now; `board` frames follow", { locks: z.array(LockView) });
export const OpenAck = z
  .union([
    ack('OpenGranted', 'The lock is yours: reply with lockToken', { granted: z.literal(true), lock: LockView, lockToken: LockToken }),
    ack('OpenNotGranted', 'Someone else holds it: lock.holder and lock.since say who, since when', { granted: z.literal(false), lock: LockView }),
  ])
  .meta({ id: 'OpenAck', description: 'open: the lock granted (with its token), or who holds it' });
export const LockAck = ack('LockAck', 'activity, stillWorking, leave: the lock as it is now', { lock: LockView });
export const ReplyAck = ack('ReplyAck', 'reply: the message, queued for sending', {
  message: MessageView,
  clientRef: z.string().optional().meta({ description: "The reply's clientRef, when it had one" }),
});
export const TakeOverAck = ack('TakeOverAck', 'takeOver: the lock is yours now', { granted: z.literal(true), lock: LockView, lockToken: LockToken });
export const PingAck = ack('PingAck', 'ping: the server time', { pong: Timestamp });

export const ErrorFrame = z
  .object({ type: z.literal('error'), re: Re, code: ErrorCode, message: z.string() })
  .meta({ id: 'ErrorFrame', description: 'A refused frame (`re` = its id), or `rate_limited` (no `re`). Codes: docs/errors.md' });

// --- server → client: events -----------------------------------------------------------------

export const LockEvent = LockView.extend({
  type: z.literal('lock'),
  lockToken: LockToken.optional().meta({ description: "Only in the holder's own copy" }),
}).meta({ id: 'LockEvent', description: "A conversation's lock changed" });
export const BoardEvent = z
  .object({
    type: z.literal('board'),
    departmentId: Id,
    locks: z.array(LockView).min(1).meta({ description: 'The current lock of every conversation that changed since the previous board frame, one entry each' }),
  })
  .meta({ id: 'BoardEvent', description: "The department's lock board changed: one frame per tick" });
export const IdleWarningEvent = z
  .object({ type: z.literal('idleWarning'), conversationId: Id, releaseAt: Timestamp })
  .meta({ id: 'IdleWarningEvent', description: '"Are you still working?"' });
export const ReleasedEvent = z
  .object({
    type: z.literal('released'),
    conversationId: Id,
    reason: z.enum(RELEASE_REASONS),
    by: LockHolder.optional().meta({ description: 'Who took the lock over (reason takenOver)' }),
  })
  .meta({ id: 'ReleasedEvent', description: 'Your lock went' });
export const MessageEvent = z
  .object({ type: z.literal('message'), conversationId: Id, accountId: Id, message: MessageView })
  .meta({ id: 'MessageEvent', description: 'A message was stored or changed status' });
export const ConversationEvent = z
  .object({
    type: z.literal('conversation'),
    conversationId: Id,
    accountId: Id,
    folder: z.enum(['inbox', 'archived']),
    unread: z.number().int().min(0),
    lastMessageAt: Timestamp.nullable(),
  })
  .meta({ id: 'ConversationEvent', description: 'A conversation moved folder or got a new message' });
export const CampaignEvent = z
  .object({ type: z.literal('campaign'), id: Id, kind: CampaignKind, accountId: Id, state: CampaignState, pausedReason: PausedReason, counts: CampaignCounts })
  .meta({ id: 'CampaignEvent', description: "A campaign's state or counts changed (at most one per campaign per CAMPAIGN_PROGRESS_INTERVAL_MS)" });
const revoked = { type: z.literal('error'), code: z.literal('access_revoked'), message: z.string() };
export const AccessRevokedEvent = z
  .union([
    z.object({ ...revoked, accountId: Id.meta({ description: 'The account whose events stop' }) }),
    z.object({ ...revoked, departmentId: Id.meta({ description: 'The department whose lock board stops' }) }),
  ])
  .meta({ id: 'AccessRevokedEvent', description: "Your access to an account, or to a department's lock board, was removed: its events stop" });
export const AccessGrantedEvent = z
  .object({
    type: z.literal('accessGranted'),
    account: AccountSummary.meta({ description: 'The group account: `subscribe` to it by its apiCode for its events; GET /me lists it with its color and numbers' }),
  })
  .meta({ id: 'AccessGrantedEvent', description: 'You were given access to a group account (added as a member, a new account you may use, a new role or department)' });

export const ServerFrame = z.union([
  Hello,
  SubscribeAck,
  EmptyAck,
  WatchLocksAck,
  OpenAck,
  LockAck,
  ReplyAck,
  TakeOverAck,
  PingAck,
  ErrorFrame,
  LockEvent,
  BoardEvent,
  IdleWarningEvent,
  ReleasedEvent,
  MessageEvent,
  ConversationEvent,
  CampaignEvent,
  AccessRevokedEvent,
  AccessGrantedEvent,
]);
export type ServerFrame = z.output<typeof ServerFrame>;

type Answer<S extends z.ZodType> = z.output<S> extends infer A ? (A extends unknown ? Omit<A, 'type' | 're'> : never) : never;
/** What each command's ack carries besides `type` and `re`. */
export type AckBody = Answer<typeof SubscribeAck | typeof EmptyAck | typeof WatchLocksAck | typeof OpenAck | typeof LockAck | typeof ReplyAck | typeof TakeOverAck | typeof PingAck>;
