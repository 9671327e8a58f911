import { afterAll, beforeAll, expect } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { startTestSwitchboard, type TestSwitchboard } from './switchboard.js';
import { buildOrg, type Org } from './org.js';
import { WsClient, type Frame } from './ws-client.js';

// One Switchboard per test file for WebSocket tests: the server's clock simulated, the
// organisation of helpers/org.ts built, every client a test connects closed at the end. Call at
// the top level of the file (it registers beforeAll/afterAll); read `t` and `org` inside tests.

export interface WsTestbed {
  readonly clock: ManualClock;
  readonly t: TestSwitchboard;
  readonly org: Org;
  connect(token: string, via?: 'query' | 'protocol'): Promise<WsClient>;
  /** A fresh conversation in the group account's Inbox: a new student texts in. */
  newConversation(): Promise<string>;
  /** Lets one lock-board tick pass once the lock host has announced all it had: the board frame goes out. */
  boardTick(): Promise<void>;
}

/** Matches a lock-board frame showing the conversation's lock in that state. */
export const boardShows =
  (conversationId: string, state: 'idle' | 'locked' | 'idleWarning') =>
  (f: Frame): boolean =>
    f.type === 'board' && (f.locks as Frame[]).some((l) => l.conversationId === conversationId && l.state === state);

/** `phoneBlock`: the first four-digit line number of this file's students (keep files apart). */
export function wsTestbed(options: { env?: Record<string, string>; phoneBlock: number }): WsTestbed {
  const clock = new ManualClock(Date.parse('2026-01-05T10:00:00-05:00'));
  const clients: WsClient[] = [];
  let t: TestSwitchboard | undefined;
  let org: Org | undefined;
  let studentSeq = 0;

  beforeAll(async () => {
    t = await startTestSwitchboard(options.env ?? {}, { clock });
    org = await buildOrg(t);
  });
  afterAll(async () => {
    clients.forEach((c) => c.close());
    await t?.close();
  });

  const started = () => {
    if (!t || !org) throw new Error('the testbed is used before its beforeAll ran');
    return { t, org };
  };
  return {
    clock,
    get t() {
      return started().t;
    },
    get org() {
      return started().org;
    },
    async connect(token, via = 'query') {
      const c = await WsClient.connect(started().t.sb.wsUrl, token, via);
      clients.push(c);
      return c;
    },
    async newConversation() {
      const { t, org } = started();
      const phone = `+1617555${String(options.phoneBlock + ++studentSeq).padStart(4, '0')}`;
      const r = await t.http.post('/simulator/messages', { from: phone, to: org.account.numbers[0], text: 'Hi, question about my application' });
      expect(r.body.delivery.state).toBe('delivered');
      const contact = await t.sb.store.contacts.getByPhone(phone);
      return (await t.sb.store.conversations.getByPair(org.account.id, contact!.id))!.id;
    },
    async boardTick() {
      const { t } = started();
      await t.sb.core.locks.settled();
      clock.advance(t.sb.config.ws.boardTickMs);
    },
  };
}
