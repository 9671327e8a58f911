import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { newId } from '../../src/ids.js';
import { newConversation } from '../../src/domain/conversation.js';
import type { Message } from '../../src/domain/types.js';
import type { NewOutbound } from '../../src/store/store.js';
import type { SendRequest } from '../../src/sms/sms-provider.js';
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

describe('per-number send queues on two nodes', () => {
  let nats: NatsCluster;
  let simulator: SimulatorServer;
  const shared = tempDir();
  const file = `${shared.path}/switchboard.db`;
  let a: TestSwitchboard;
  let b: TestSwitchboard | undefined;
  let org: Org;
  /** Every call to the provider, by node, in the order they were made. */
  const sends: Array<{ node: string; from: string; text: string }> = [];

  const start = async (node: string) => {
    const { authId, authToken } = simulator.sim.credentials;
    const t = await startTestSwitchboard(
      {
        NATS_URL: nats.urls,
        NODE_ID: node,
        NODE_LEASE_MS: String(LEASE_MS),
        PLIVO_AUTH_ID: authId,
        PLIVO_AUTH_TOKEN: authToken,
        PLIVO_API_URL: simulator.apiUrl,
        NUMBER_SEND_INTERVAL_MS: String(INTERVAL_MS),
        NUMBER_MAX_IN_FLIGHT: '1',
      },
      { store: await createSqliteStore({ file }) },
    );
    // Records which node calls the (real) provider; the call itself goes through unchanged.
    const provider = t.sb.core.context.provider;
    const send = provider.send.bind(provider);
    provider.send = (input: SendRequest) => {
      sends.push({ node, from: input.from, text: input.text });
      return send(input);
    };
    return t;
  };

  beforeAll(async () => {
    [nats, simulator] = await Promise.all([startNats(1), startSimulatorServer({ retryScale: 0.001 })]);
    a = await start('node-a');
    org = await buildOrg(a);
  });
  afterAll(async () => {
    await b?.close();
    if (a?.sb.core.ready) await a.close();
    await Promise.all([nats?.close(), simulator?.close()]);
    shared.remove();
  });

  const compose = async (t: TestSwitchboard, studentIds: string[], text: string): Promise<void> => {
    const r = await t.http.post('/api/v1/messages', { groupAccountCode: org.account.apiCode, to: studentIds, text }, org.member.token);
    expect(r.status, JSON.stringify(r.body)).toBe(202);
  };
  const delivered = (t: TestSwitchboard, texts: string[], each: number) =>
    until(
      t.sb.core.events,
      async () => {
        const rows = (await t.sb.store.messages.listByStatus('delivered')).filter((m) => texts.includes(m.text));
        return rows.length === texts.length * each ? rows : null;
      },
      `delivered: ${texts.join(', ')}`,
      15_000,
    );

  let inFlight: Message;

  it("does not take the owner's in-flight sends for interrupted when another node starts", async () => {
    // Node A sends first and so claims the number it sends from.
    await compose(a, [org.students[0]!.id], 'first');
    const [first] = await delivered(a, ['first'], 1);
    // A send of node A's that is with the provider now: `sending`, no provider id yet.
    inFlight = await writeSending(a, org, first!.fromNumber);

    b = await start('node-b');
    expect((await b.sb.store.messages.get(inFlight.id))?.status).toBe('sending');
  });

  it("sends a message composed on another node from the number's owner only, paced as one queue", async () => {
    const students = org.students.map((s) => s.id);
    const texts: string[] = [];
    // Both nodes compose to the same students (each conversation keeps its number), interleaved.
    for (let i = 1; i <= 3; i++) {
      await compose(b!, students, `from B ${i}`);
      await compose(a, students, `from A ${i}`);
      texts.push(`from B ${i}`, `from A ${i}`);
    }
    await delivered(a, texts, students.length);

    const byNumber = new Map<string, Set<string>>();
    for (const s of sends) byNumber.set(s.from, (byNumber.get(s.from) ?? new Set()).add(s.node));
    for (const [number, nodes] of byNumber) expect([...nodes], `the nodes that sent from ${number}`).toHaveLength(1);
    // The number node A claimed first sent what node B composed too.
    const first = sends[0]!.from;
    expect(sends.filter((s) => s.from === first && s.text.startsWith('from B')).map((s) => s.node)).toContain('node-a');
    // Every message went to the provider exactly once.
    expect(sends).toHaveLength(1 + texts.length * students.length);
  });

  it("recovers the owner's in-flight sends on another node once the owner is gone", async () => {
    // Node A goes; once its lease has lapsed node B takes the number over and settles the send.
    const settled = nextEvent(b!.sb.core.events, (e) => e.type === 'message' && e.message.id === inFlight.id, 'the in-flight send settled on node B', 15_000);
    await a.close();
    expect(await settled).toMatchObject({ message: { status: 'unknown' } });
    expect(sends.filter((s) => s.text === inFlight.text)).toEqual([]);
  });
});

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
