import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { newId } from '../../src/ids.js';
import { newConversation } from '../../src/domain/conversation.js';
import type { Message } from '../../src/domain/types.js';
import type { NewOutbound } from '../../src/store/store.js';
import type { SendRequest } from '../../src/sms/sms-provider.js';
import type { ComposeResult } from '../../src/schemas/views.js';
import { NatsBus } from '../../src/bus/nats-bus.js';
import { DEPTHS_SUBJECT } from '../../src/sms/queue-depths.js';
import { startNats, type NatsCluster } from '../helpers/nats-server.js';
import { startSimulatorServer, type SimulatorServer } from '../helpers/simulator-server.js';
import { startTestSwitchboard, type TestSwitchboard } from '../helpers/switchboard.js';
import { tempDir } from '../helpers/temp-dir.js';
import { buildOrg, type Org } from '../helpers/org.js';
import { nextEvent, until } from '../helpers/wait.js';

// Per-number send queues in a cluster: two nodes in this process on one SQLite file, one real
// nats-server and one standalone Plivo simulator that both nodes' real Plivo SDKs talk to. Each
// pool number's queue runs on one node, its owner: only the owner recovers its interrupted sends,
// only the owner sends from it (a message composed elsewhere is handed over through the outbox), so
// the number's pacing holds across the cluster.

const LEASE_MS = 600;
/** Sends are paced per number; short here, the order and counts are what the test checks. */
const INTERVAL_MS = 50;

/**
 * Node A on a fresh organisation, a nats-server and a simulator for the tests of one describe;
 * `start` adds a node on the same SQLite file.
 */
function twoNodeRig(intervalMs: number) {
  const shared = tempDir();
  const file = `${shared.path}/switchboard.db`;
  const r = {
    nats: undefined as unknown as NatsCluster,
    simulator: undefined as unknown as SimulatorServer,
    a: undefined as unknown as TestSwitchboard,
    b: undefined as TestSwitchboard | undefined,
    org: undefined as unknown as Org,
    /** Every call to the provider, by node, in the order they were made. */
    sends: [] as Array<{ node: string; from: string; text: string }>,
    start: async (node: string): Promise<TestSwitchboard> => {
      const { authId, authToken } = r.simulator.sim.credentials;
      const t = await startTestSwitchboard(
        {
          NATS_URL: r.nats.urls,
          NODE_ID: node,
          NODE_LEASE_MS: String(LEASE_MS),
          PLIVO_AUTH_ID: authId,
          PLIVO_AUTH_TOKEN: authToken,
          PLIVO_API_URL: r.simulator.apiUrl,
          NUMBER_SEND_INTERVAL_MS: String(intervalMs),
          NUMBER_MAX_IN_FLIGHT: '1',
        },
        { store: await createSqliteStore({ file }) },
      );
      // Records which node calls the (real) provider; the call itself goes through unchanged.
      const provider = t.sb.core.context.provider;
      const send = provider.send.bind(provider);
      provider.send = (input: SendRequest) => {
        r.sends.push({ node, from: input.from, text: input.text });
        return send(input);
      };
      return t;
    },
    compose: async (t: TestSwitchboard, studentIds: string[], text: string): Promise<ComposeResult> => {
      const res = await t.http.post('/api/v1/messages', { groupAccountCode: r.org.account.apiCode, to: studentIds, text }, r.org.member.token);
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      return res.body as ComposeResult;
    },
    /** Resolves once `each` messages of every one of `texts` are delivered. */
    delivered: (t: TestSwitchboard, texts: string[], each: number) =>
      until(
        t.sb.core.events,
        async () => {
          const rows = (await t.sb.store.messages.listByStatus('delivered')).filter((m) => texts.includes(m.text));
          return rows.length === texts.length * each ? rows : null;
        },
        `delivered: ${texts.join(', ')}`,
        15_000,
      ),
  };
  beforeAll(async () => {
    [r.nats, r.simulator] = await Promise.all([startNats(1), startSimulatorServer({ retryScale: 0.001 })]);
    r.a = await r.start('node-a');
    r.org = await buildOrg(r.a);
  });
  afterAll(async () => {
    await r.b?.close();
    if (r.a?.sb.core.ready) await r.a.close();
    await Promise.all([r.nats?.close(), r.simulator?.close()]);
    shared.remove();
  });
  return r;
}

describe('per-number send queues on two nodes', () => {
  const r = twoNodeRig(INTERVAL_MS);

  let inFlight: Message;

  it("does not take the owner's in-flight sends for interrupted when another node starts", async () => {
    // Node A sends first and so claims the number it sends from.
    await r.compose(r.a, [r.org.students[0]!.id], 'first');
    const [first] = await r.delivered(r.a, ['first'], 1);
    // A send of node A's that is with the provider now: `sending`, no provider id yet.
    inFlight = await writeSending(r.a, r.org, first!.fromNumber);

    r.b = await r.start('node-b');
    expect((await r.b.sb.store.messages.get(inFlight.id))?.status).toBe('sending');
  });

  it("sends what another node composes from the number's owner only, each message once", async () => {
    const students = r.org.students.map((s) => s.id);
    const texts: string[] = [];
    // Both nodes compose to the same students (each conversation keeps its number), interleaved.
    for (let i = 1; i <= 3; i++) {
      await r.compose(r.b!, students, `from B ${i}`);
      await r.compose(r.a, students, `from A ${i}`);
      texts.push(`from B ${i}`, `from A ${i}`);
    }
    await r.delivered(r.a, texts, students.length);

    const byNumber = new Map<string, Set<string>>();
    for (const s of r.sends) byNumber.set(s.from, (byNumber.get(s.from) ?? new Set()).add(s.node));
    for (const [number, nodes] of byNumber) expect([...nodes], `the nodes that sent from ${number}`).toHaveLength(1);
    // The number node A claimed first sent what node B composed too.
    const first = r.sends[0]!.from;
    expect(r.sends.filter((s) => s.from === first && s.text.startsWith('from B')).map((s) => s.node)).toContain('node-a');
    // Every message went to the provider exactly once.
    expect(r.sends).toHaveLength(1 + texts.length * students.length);
  });

  it("recovers the owner's in-flight sends on another node once the owner is gone", async () => {
    // Node A goes; once its lease has lapsed node B takes the number over and settles the send.
    const settled = nextEvent(r.b!.sb.core.events, (e) => e.type === 'message' && e.message.id === inFlight.id, 'the in-flight send settled on node B', 15_000);
    await r.a.close();
    expect(await settled).toMatchObject({ message: { status: 'unknown' } });
    expect(r.sends.filter((s) => s.text === inFlight.text)).toEqual([]);
  });
});

describe('sender choice by queue depth on two nodes', () => {
  // One send per number per hour: what is composed after a number's first send waits in its queue.
  const r = twoNodeRig(3_600_000);

  it("gives a new conversation on node B the number that is idle, not the one node A's queue is busy on", async () => {
    r.b = await r.start('node-b');
    const reports = await NatsBus.connect({ servers: r.nats.urls, name: 'test' });
    try {
      const pool = r.org.account.numbers;
      // Node A's queue on the pool's first number: one send made, one waiting for the hour.
      const heard = nextReport(reports, (x) => x.node === 'node-a' && x.depths.some(([n, d]) => n === pool[0] && d === 1));
      await reports.flush();
      const first = await r.compose(r.a, [r.org.students[0]!.id], 'first');
      expect(first.messages[0]!.from).toBe(pool[0]);
      expect((await r.compose(r.a, [r.org.students[0]!.id], 'second')).messages[0]!.from).toBe(pool[0]);
      await heard;
      // The server routed the report to node B before it answers B's flush.
      await r.b.sb.core.events.settled();

      // A student of no pool number's area code goes to the least busy number, in pool order.
      const other = r.org.students.find((s) => !s.phone.startsWith('+1617'))!;
      const composed = await r.compose(r.b, [other.id], 'from B');
      expect(composed.messages[0]!.from).toBe(pool[1]);
    } finally {
      await reports.close();
    }
  });

  it("keeps a number's pace when another node composes on it: the text waits in the owner's queue", async () => {
    const reports = await NatsBus.connect({ servers: r.nats.urls, name: 'test' });
    try {
      const pool = r.org.account.numbers;
      // Node A's queue on the first number holds 'second' for the hour; node B's text joins it there.
      const heard = nextReport(reports, (x) => x.node === 'node-a' && x.depths.some(([n, d]) => n === pool[0] && d === 2));
      await reports.flush();
      const composed = await r.compose(r.b!, [r.org.students[0]!.id], 'third, from B');
      expect(composed.messages[0]!.from).toBe(pool[0]);
      await heard;
      expect((await r.b!.sb.store.messages.get(composed.messages[0]!.id))?.status).toBe('queued');
      expect(r.sends.filter((s) => s.from === pool[0]).map((s) => `${s.node}: ${s.text}`)).toEqual(['node-a: first']);
    } finally {
      await reports.close();
    }
  });
});

/** The next depth report on the bus that matches, or a rejection at the deadline. */
function nextReport(bus: NatsBus, match: (r: { node: string; depths: Array<[string, number]> }) => boolean, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for a queue depth report`));
    }, timeoutMs);
    const off = bus.subscribe(`sb.${DEPTHS_SUBJECT}`, (payload) => {
      if (!match(payload as { node: string; depths: Array<[string, number]> })) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

/** A message of `org`'s account from `number`, as a node leaves it between `sending` and the provider's answer. */
async function writeSending(t: TestSwitchboard, org: Org, number: string): Promise<Message> {
  const now = Date.now();
  const to = org.students[0]!;
  const conversationId = newId();
  const item: NewOutbound = {
    conversation: newConversation({ id: conversationId, accountId: org.account.id, contactId: to.id, folder: 'archived', senderNumber: number, now }),
    message: { id: newId(), conversationId, accountId: org.account.id, contactId: to.id, direction: 'outbound', text: 'with the provider', encoding: 'GSM-7', segments: 1, status: 'queued', fromNumber: number, toNumber: to.phone, sentByUserId: org.member.id, sentByName: org.member.name, providerId: null, statusSequence: 0, errorCode: null, quietHoursTimeZone: null, createdAt: now, updatedAt: now },
  };
  const [made] = await t.sb.store.messages.enqueueOutbound([item]);
  const sending = await t.sb.store.messages.transition(made!.message.id, { status: 'sending', at: now }, ['queued']);
  return sending!;
}
