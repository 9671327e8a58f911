import { z } from 'zod';
import * as W from '../../src/schemas/ws.js';
import { CloseCode } from './close-codes.js';

// The AsyncAPI document of WebSocket protocol v1, generated from the schemas the gateway validates
// frames with. Written to docs/asyncapi.json by `npm run docs`.

const clientFrames = {
  subscribe: [W.SubscribeFrame, 'Receive the events of an account (`personal` or an apiCode) you have access to.'],
  unsubscribe: [W.UnsubscribeFrame, 'Stop receiving them.'],
  watchLocks: [W.WatchLocksFrame, "Operators (owner, the department's admins): the ack carries every held lock of the department; then `lock` events stream."],
  unwatchLocks: [W.UnwatchLocksFrame, 'Stop watching the board.'],
  open: [W.OpenFrame, 'Click into a group-account conversation: locks it for you (ack `granted: true` with `lockToken`) or tells you who holds it.'],
  activity: [W.ActivityFrame, 'Typing, focus: keeps your lock from going idle.'],
  stillWorking: [W.StillWorkingFrame, 'The answer to "Are you still working?".'],
  leave: [W.LeaveFrame, 'This tab leaves the conversation; the lock goes when your last tab leaves.'],
  reply: [W.ReplyFrame, 'Reply to the student; accepted only with the current lockToken.'],
  takeOver: [W.TakeOverFrame, "Department admins: take the lock; the holder gets `released` with reason `takenOver`."],
  ping: [W.PingFrame, 'Keep-alive / clock check; the ack carries the server time.'],
} as const;

const serverFrames = {
  lock: [W.LockEvent, "A conversation's lock changed (to subscribers of its account and to its department board). The holder's own copy carries lockToken."],
  idleWarning: [W.IdleWarningEvent, 'To the holder: "Are you still working?"; the lock goes at releaseAt unless you answer.'],
  released: [W.ReleasedEvent, 'To the previous holder: why the lock went.'],
  message: [W.MessageEvent, 'A message in a subscribed account was stored or changed status.'],
  conversation: [W.ConversationEvent, 'A conversation moved folder or its unread count changed.'],
  ack: [W.AckEvent, 'The answer to a request (`re` = its id); the first frame after connecting is an ack with re "hello".'],
  error: [W.ErrorEvent, 'A refused request (`re` = its id) or a notice (no `re`, e.g. code access_revoked). Codes: docs/errors.md.'],
} as const;

function schema(s: z.ZodType): unknown {
  const { $schema: _drop, ...rest } = z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

export function asyncApiDocument(): Record<string, unknown> {
  const messages: Record<string, unknown> = {};
  for (const [name, [s, description]] of [...Object.entries(clientFrames), ...Object.entries(serverFrames)]) {
    messages[name] = { name, summary: description, contentType: 'application/json', payload: schema(s) };
  }
  const ref = (names: string[]) => names.map((n) => ({ $ref: `#/channels/ws/messages/${n}` }));
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Switchboard WebSocket protocol',
      version: String(W.PROTOCOL_VERSION),
      description:
        'GET /ws with the session token as ?token= or in Sec-WebSocket-Protocol (`switchboard.v1, bearer.<token>`). JSON text frames. ' +
        `Close codes: ${Object.entries(CloseCode)
          .map(([k, v]) => `${v} ${k}`)
          .join(', ')}. See docs/protocol.md.`,
    },
    channels: { ws: { address: '/ws', messages } },
    operations: {
      clientSends: { action: 'receive', channel: { $ref: '#/channels/ws' }, messages: ref(Object.keys(clientFrames)) },
      serverSends: { action: 'send', channel: { $ref: '#/channels/ws' }, messages: ref(Object.keys(serverFrames)) },
    },
  };
}
