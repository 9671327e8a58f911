import type { z } from 'zod';
import * as W from '../../src/schemas/ws.js';
import { componentName, toJsonSchemas, type Io } from '../../src/schemas/json-schema.js';
import { CloseCode } from './close-codes.js';

// The AsyncAPI 3 document of WebSocket protocol v1, generated from the schemas the gateway
// validates client frames with and builds its frames from. Written to docs/asyncapi.json by
// `npm run docs`. In AsyncAPI the application is the server: it `receive`s commands and `send`s
// answers and events. Each command is an operation whose reply lists its ack and the error frame.

interface Command {
  frame: z.ZodType;
  summary: string;
  /** The message answering it (name, payload schema, summary). */
  ack: [string, z.ZodType, string];
}

const COMMANDS: Record<string, Command> = {
  subscribe: { frame: W.SubscribeFrame, summary: 'Receive the events of an account (`personal` or an apiCode) you have access to.', ack: ['subscribeAck', W.SubscribeAck, 'The account and the locks held in it now'] },
  unsubscribe: { frame: W.UnsubscribeFrame, summary: 'Stop receiving them.', ack: ['unsubscribeAck', W.EmptyAck, 'Done'] },
  watchLocks: { frame: W.WatchLocksFrame, summary: "Operators (owner, the department's admins): the department's lock board.", ack: ['watchLocksAck', W.WatchLocksAck, 'Every held lock of the department now; `board` frames follow'] },
  unwatchLocks: { frame: W.UnwatchLocksFrame, summary: 'Stop watching the board.', ack: ['unwatchLocksAck', W.EmptyAck, 'Done'] },
  open: { frame: W.OpenFrame, summary: 'Click into a group-account conversation: locks it for you, or tells you who holds it.', ack: ['openAck', W.OpenAck, 'Granted with its lockToken, or who holds it'] },
  activity: { frame: W.ActivityFrame, summary: 'Typing, focus: keeps your lock from going idle.', ack: ['activityAck', W.LockAck, 'The lock now'] },
  stillWorking: { frame: W.StillWorkingFrame, summary: 'The answer to "Are you still working?".', ack: ['stillWorkingAck', W.LockAck, 'The lock now'] },
  leave: { frame: W.LeaveFrame, summary: 'This tab leaves the conversation; the lock goes when your last tab leaves.', ack: ['leaveAck', W.LockAck, 'The lock now'] },
  reply: { frame: W.ReplyFrame, summary: 'Reply to the student; in a group account only with the current lockToken.', ack: ['replyAck', W.ReplyAck, 'The message, queued'] },
  takeOver: { frame: W.TakeOverFrame, summary: "Department admins: take the lock; the holder gets `released` with reason `takenOver`.", ack: ['takeOverAck', W.TakeOverAck, 'The lock is yours'] },
  ping: { frame: W.PingFrame, summary: 'Keep-alive and clock check.', ack: ['pingAck', W.PingAck, 'The server time'] },
};

/** Frames the server sends on its own, by message name. */
const EVENTS: Record<string, [z.ZodType, string]> = {
  hello: [W.Hello, 'The first frame of every connection: an ack with re "hello".'],
  lock: [W.LockEvent, "A conversation's lock changed: to subscribers of its account. The holder's own copy carries lockToken."],
  board: [W.BoardEvent, "To watchers of a department's lock board (watchLocks): the current lock of every conversation that changed since the previous board frame, at most one frame per BOARD_TICK_MS."],
  idleWarning: [W.IdleWarningEvent, 'To the holder: "Are you still working?"; the lock goes at releaseAt unless you answer (stillWorking, activity).'],
  released: [W.ReleasedEvent, 'To the previous holder: why the lock went.'],
  message: [W.MessageEvent, 'A message of a subscribed account was stored or changed status (queued → sent → delivered …).'],
  conversation: [W.ConversationEvent, 'A conversation of a subscribed account moved folder or got a new message.'],
  campaign: [W.CampaignEvent, "A campaign of a subscribed account changed state or counts; coalesced: at most one per campaign per CAMPAIGN_PROGRESS_INTERVAL_MS (250 ms), carrying the latest state and counts."],
  accessRevoked: [W.AccessRevokedEvent, 'Your access to an account was removed; its events stop (no `re`).'],
  accessGranted: [W.AccessGrantedEvent, 'You were given access to a group account: to every socket of yours, whatever it subscribed to. Its events start once you subscribe to it.'],
};

const ERROR: [string, z.ZodType, string] = [
  'error',
  W.ErrorFrame,
  'A refused frame: `re` is its id (absent when the frame had no valid id, or was not JSON). Also `rate_limited`, without `re`, when frames come too fast.',
];

const SCHEMAS = '#/components/schemas/';

export function asyncApiDocument(): Record<string, unknown> {
  const named: Array<[z.ZodType, Io]> = [
    ...Object.values(COMMANDS).map((c): [z.ZodType, Io] => [c.frame, 'input']),
    ...Object.values(COMMANDS).map((c): [z.ZodType, Io] => [c.ack[1], 'output']),
    ...Object.values(EVENTS).map(([s]): [z.ZodType, Io] => [s, 'output']),
    [ERROR[1], 'output'],
  ];
  const { components } = toJsonSchemas(named, {}, { target: 'draft-07', refPrefix: SCHEMAS });

  const messages: Record<string, unknown> = {};
  const message = (name: string, schema: z.ZodType, summary: string) => {
    messages[name] = { name, title: name, summary, contentType: 'application/json', payload: { $ref: SCHEMAS + componentName(schema)! } };
  };
  for (const [name, c] of Object.entries(COMMANDS)) {
    message(name, c.frame, c.summary);
    message(...c.ack);
  }
  message(...ERROR);
  for (const [name, [schema, summary]] of Object.entries(EVENTS)) message(name, schema, summary);

  const channelMessages = Object.fromEntries(Object.keys(messages).map((n) => [n, { $ref: `#/components/messages/${n}` }]));
  const inChannel = (name: string) => ({ $ref: `#/channels/ws/messages/${name}` });
  const channel = { $ref: '#/channels/ws' };
  const operations: Record<string, unknown> = {};
  for (const [name, c] of Object.entries(COMMANDS)) {
    operations[name] = {
      action: 'receive',
      channel,
      summary: c.summary,
      messages: [inChannel(name)],
      reply: { channel, messages: [inChannel(c.ack[0]), inChannel(ERROR[0])] },
    };
  }
  operations.events = {
    action: 'send',
    channel,
    summary: 'Frames the server sends on its own',
    messages: [...Object.keys(EVENTS), ERROR[0]].map(inChannel),
  };

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Switchboard WebSocket protocol',
      version: String(W.PROTOCOL_VERSION),
      description:
        'GET /ws with the session token as ?token= or in Sec-WebSocket-Protocol (`switchboard.v1, bearer.<token>`). JSON text frames, one object each. ' +
        'A request may carry an `id` (1–64 characters), echoed as `re` in its ack or error. ' +
        `Close codes: ${Object.entries(CloseCode)
          .map(([k, v]) => `${v} ${k}`)
          .join(', ')}. See docs/protocol.md.`,
      license: { name: 'MIT', url: 'https://opensource.org/license/mit' },
    },
    defaultContentType: 'application/json',
    servers: {
      node: {
        host: '127.0.0.1:3000',
        protocol: 'ws',
        description: 'A Switchboard node (wss behind TLS); `npm start` listens on 127.0.0.1:3000',
        security: [{ $ref: '#/components/securitySchemes/sessionToken' }],
      },
    },
    channels: { ws: { address: '/ws', title: 'The connection', messages: channelMessages } },
    operations,
    components: {
      schemas: Object.fromEntries(Object.entries(components).sort(([a], [b]) => a.localeCompare(b))),
      messages,
      securitySchemes: {
        sessionToken: {
          type: 'httpApiKey',
          in: 'query',
          name: 'token',
          description:
            'A session token from POST /api/v1/sessions, as ?token= or in Sec-WebSocket-Protocol (`switchboard.v1, bearer.<token>`). Refused: 401; an API key: 403.',
        },
      },
    },
  };
}
