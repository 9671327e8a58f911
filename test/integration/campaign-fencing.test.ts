import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { StaleOwnerEpoch, type Store } from '../../src/store/store.js';
import type { SendRequest } from '../../src/sms/sms-provider.js';
import { startSimulatorServer, type SimulatorServer } from '../helpers/simulator-server.js';
import { startTestSwitchboard, type TestSwitchboard } from '../helpers/switchboard.js';
import { tempDir } from '../helpers/temp-dir.js';
import { buildOrg, type Org } from '../helpers/org.js';
import { until } from '../helpers/wait.js';

// Two activations of one campaign: two nodes on one SQLite file that both believe they own it
// (each runs alone, so each owns everything), as a paused or partitioned old owner does while
// placement has moved the campaign. The second activation claims a newer owner epoch; from then on
// the first one's hand-overs are refused by the store, it stops, and every recipient is texted once,
// by the node that owns the campaign now. Both nodes' real Plivo SDKs talk to one standalone
// simulator; the pacing (one text per number per minute) runs on a simulated clock.

const INTERVAL_MS = 60_000;
const PHONES = Array.from({ length: 18 }, (_, i) => `+1617555${String(3000 + i)}`);

describe('two activations of one campaign', () => {
  const shared = tempDir();
  const file = `${shared.path}/switchboard.db`;
  const clock = new ManualClock(Date.parse('2026-01-05T10:00:00-05:00'));
  let simulator: SimulatorServer;
  let a: TestSwitchboard;
  let b: TestSwitchboard | undefined;
  let org: Org;
  /** Every call to the provider, by node. */
  const sends: Array<{ node: string; to: string }> = [];
  /** Hand-overs node A's store refused for a newer owner epoch. */
  const refusedOnA: StaleOwnerEpoch[] = [];
  let onRefusedOnA: () => void = () => undefined;

  const start = async (node: string, store: Store): Promise<TestSwitchboard> => {
    const { authId, authToken } = simulator.sim.credentials;
    const t = await startTestSwitchboard(
      {
        PLIVO_AUTH_ID: authId,
        PLIVO_AUTH_TOKEN: authToken,
        PLIVO_API_URL: simulator.apiUrl,
        NUMBER_SEND_INTERVAL_MS: String(INTERVAL_MS),
        SESSION_TTL_MS: String(24 * 3600_000),
      },
      { store, clock },
    );
    const provider = t.sb.core.context.provider;
    const send = provider.send.bind(provider);
    provider.send = (input: SendRequest) => {
      sends.push({ node, to: input.to });
      return send(input);
    };
    return t;
  };

  beforeAll(async () => {
    simulator = await startSimulatorServer();
    const storeA = await createSqliteStore({ file });
    // What node A's store answers its hand-overs, seen as they happen.
    const enqueue = storeA.messages.enqueueOutbound.bind(storeA.messages);
    storeA.messages.enqueueOutbound = async (...args) => {
      try {
        return await enqueue(...args);
      } catch (err) {
        if (err instanceof StaleOwnerEpoch) {
          refusedOnA.push(err);
          onRefusedOnA();
        }
        throw err;
      }
    };
    a = await start('a', storeA);
    org = await buildOrg(a, { timeZone: 'America/New_York' });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await simulator?.close();
    shared.remove();
  });

  const countsOn = async (t: TestSwitchboard, id: string) => t.sb.store.campaigns.counts(id);

  it("refuses the older activation's hand-over, and texts every recipient once", async () => {
    const created = await a.http.post('/api/v1/campaigns', { groupAccountCode: org.account.apiCode, name: 'Fenced', text: 'Hello', recipients: { phones: PHONES } }, org.member.token);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;
    await until(a.sb.core.events, async () => (await countsOn(a, id)).total === PHONES.length, 'the expansion');
    expect((await a.http.post(`/api/v1/campaigns/${id}/start`, {}, org.member.token)).status).toBe(200);
    // Node A texts one recipient per pool number, then waits a minute for the next.
    await until(a.sb.core.events, async () => (await countsOn(a, id)).queued === PHONES.length - 6, "node A's first six texts");
    expect(sends.filter((s) => s.node === 'a')).toHaveLength(6);

    // Half a minute later node B starts on the same file and resumes the unfinished campaign: a
    // second activation, under the next owner epoch. Its queues are fresh, so it texts six at once.
    clock.advance(INTERVAL_MS / 2);
    b = await start('b', await createSqliteStore({ file }));
    await until(b.sb.core.events, async () => (await countsOn(b!, id)).queued === PHONES.length - 12, "node B's first six texts");

    // Node A's minute is up first: its next hand-over is refused and it stops.
    const refused = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("timed out waiting for node A's hand-over to be refused")), 5_000);
      onRefusedOnA = () => {
        clearTimeout(timer);
        resolve();
      };
      if (refusedOnA.length > 0) onRefusedOnA();
    });
    clock.advance(INTERVAL_MS / 2);
    await refused;

    // Node B's minute: it texts the rest and completes the campaign.
    clock.advance(INTERVAL_MS / 2 + 1_000);
    await until(b.sb.core.events, async () => (await b!.sb.store.campaigns.get(id))?.state === 'completed', 'the campaign completed on node B');

    expect(sends.filter((s) => s.node === 'a')).toHaveLength(6);
    expect(sends.filter((s) => s.node === 'b')).toHaveLength(12);
    expect(sends.map((s) => s.to).sort()).toEqual([...PHONES].sort());
    const recipients = await b.sb.store.campaigns.listRecipients(id, { limit: 100 });
    expect(new Set(recipients.map((r) => r.messageId)).size).toBe(PHONES.length);
    expect(await countsOn(b, id)).toMatchObject({ total: PHONES.length, queued: 0 });
  });
});
