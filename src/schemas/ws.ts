import { z } from 'zod';
import { ApiCode, Id } from './common.js';

// WebSocket protocol v1: one schema per frame. The gateway validates every client frame against
// ClientFrame; docs/asyncapi.json is generated from these same schemas.

export const PROTOCOL_VERSION = 1;

const Ref = z.string().min(1).max(64).optional().meta({ description: 'Echoed as `re` in the ack or error' });
/** `personal` or a group account's apiCode. */
const AccountRef = z.union([z.literal('personal'), ApiCode]);

export const SubscribeFrame = z.strictObject({ type: z.literal('subscribe'), id: Ref, account: AccountRef }).meta({ id: 'subscribe' });
export const UnsubscribeFrame = z.strictObject({ type: z.literal('unsubscribe'), id: Ref, account: AccountRef }).meta({ id: 'unsubscribe' });
export const WatchLocksFrame = z.strictObject({ type: z.literal('watchLocks'), id: Ref, departmentId: Id }).meta({ id: 'watchLocks' });
export const UnwatchLocksFrame = z.strictObject({ type: z.literal('unwatchLocks'), id: Ref, departmentId: Id }).meta({ id: 'unwatchLocks' });
export const OpenFrame = z.strictObject({ type: z.literal('open'), id: Ref, conversationId: Id }).meta({ id: 'open' });
export const ActivityFrame = z.strictObject({ type: z.literal('activity'), id: Ref, conversationId: Id }).meta({ id: 'activity' });
export const StillWorkingFrame = z.strictObject({ type: z.literal('stillWorking'), id: Ref, conversationId: Id }).meta({ id: 'stillWorking' });
export const LeaveFrame = z.strictObject({ type: z.literal('leave'), id: Ref, conversationId: Id }).meta({ id: 'leave' });
export const ReplyFrame = z
  .strictObject({
    type: z.literal('reply'),
    id: Ref,
    conversationId: Id,
    lockToken: z.number().int().min(1),
    text: z.string().max(1600),
    clientRef: z.string().min(1).max(64).optional().meta({ description: "The client's own id for the text, echoed back" }),
  })
  .meta({ id: 'reply' });
export const TakeOverFrame = z.strictObject({ type: z.literal('takeOver'), id: Ref, conversationId: Id }).meta({ id: 'takeOver' });
export const PingFrame = z.strictObject({ type: z.literal('ping'), id: Ref }).meta({ id: 'ping' });

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

// --- server → client -------------------------------------------------------------------------

const Holder = z.object({ userId: Id, name: z.string() });

export const LockEvent = z
  .object({
    type: z.literal('lock'),
    conversationId: Id,
    accountId: Id,
    state: z.enum(['idle', 'locked', 'idleWarning']),
    holder: Holder.optional(),
    since: z.number().optional(),
    releaseAt: z.number().optional(),
    lockToken: z.number().int().optional().meta({ description: "Only in the holder's own copy" }),
  })
  .meta({ id: 'lockEvent' });
export const IdleWarningEvent = z.object({ type: z.literal('idleWarning'), conversationId: Id, releaseAt: z.number() }).meta({ id: 'idleWarningEvent' });
export const ReleasedEvent = z
  .object({
    type: z.literal('released'),
    conversationId: Id,
    reason: z.enum(['left', 'idle', 'disconnected', 'takenOver', 'revoked']),
    by: Holder.optional().meta({ description: 'Who took the lock over (reason takenOver)' }),
  })
  .meta({ id: 'releasedEvent' });
export const MessageEvent = z.object({ type: z.literal('message'), conversationId: Id, accountId: Id, message: z.record(z.string(), z.unknown()) }).meta({ id: 'messageEvent' });
export const ConversationEvent = z
  .object({
    type: z.literal('conversation'),
    conversationId: Id,
    accountId: Id,
    folder: z.enum(['inbox', 'archived']),
    unread: z.number().int(),
    lastMessageAt: z.number().nullable(),
  })
  .meta({ id: 'conversationEvent' });
export const AckEvent = z.object({ type: z.literal('ack'), re: z.string().optional() }).catchall(z.unknown()).meta({ id: 'ack' });
export const ErrorEvent = z
  .object({
    type: z.literal('error'),
    re: z.string().optional(),
    code: z.string(),
    message: z.string(),
    accountId: Id.optional().meta({ description: 'access_revoked: the account whose events stop' }),
    departmentId: Id.optional().meta({ description: "access_revoked: the department whose lock board stops" }),
  })
  .meta({ id: 'errorEvent' });

export const ServerFrame = z.discriminatedUnion('type', [LockEvent, IdleWarningEvent, ReleasedEvent, MessageEvent, ConversationEvent, AckEvent, ErrorEvent]);
