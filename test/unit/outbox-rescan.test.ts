import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { CoreEvents } from '../../src/events.js';
import { MemoryBus } from '../../src/bus/memory-bus.js';
import { Metrics } from '../../src/metrics.js';
import { silentLogger } from '../../src/logger.js';
import { Outbox } from '../../src/sms/outbox.js';
import { PlivoProvider } from '../../src/sms/plivo-provider.js';
import type { SendRequest } from '../../src/sms/sms-provider.js';
import { singleNodePlacement } from '../../src/actors-runtime/placement.js';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import type { Account, Contact, Message } from '../../src/domain/types.js';
import { nextEvent } from '../helpers/wait.js';
import { tempDir } from '../helpers/temp-dir.js';
import { startSimulatorServer, type SimulatorServer } from '../helpers/simulator-server.js';
import { contact, conversation, department, groupAccount, outboundMessage } from '../contract/store-fixtures.js';

// A cluster node's outbox runs the send queues of the numbers it owns; a message committed on
// another node reaches it by a nudge over the bus, which may be lost. The owner re-reads its
// numbers' `queued` rows every QUEUE_RESCAN_MS, so such a message goes out after one rescan, and
// only once. Real SQLite file, the real Plivo SDK against the simulator, a simulated clock.

const RESCAN_MS = 5_000;

describe('the send queues of a cluster node', () => {
  let dir: ReturnType<typeof tempDir>;
  let simulator: SimulatorServer;
  let store: Store;
  let account: Account;
  let student: Contact;
  let events: CoreEvents;
  let outbox: Outbox | undefined;
  const clock = new ManualClock();
  const sent: string[] = [];
  let onSend: () => void = () => undefined;

  beforeEach(async () => {
    dir = tempDir();
    simulator = await startSimulatorServer();
    store = await createSqliteStore({ file: join(dir.path, 'switchboard.db') });
    const [pool] = simulator.sim.searchNumbers({ countryIso: 'US', pattern: '617', limit: 1, offset: 0 });
    simulator.sim.buyNumber(pool!.number, undefined);
    const d = await store.departments.create(department());
    account = await store.accounts.create(groupAccount(d.id, { numbers: [`+${pool!.number.replace(/\D/g, '')}`] }), []);
    student = await store.contacts.create(contact());
    events = new CoreEvents({ bus: new MemoryBus(), prefix: 'sb', nodeId: 'n1', onError: (err) => { throw err; } });
    sent.length = 0;
  });
  afterEach(async () => {
    outbox?.stop();
    await store.close();
    await simulator.close();
    dir.remove();
  });

  /** The owner's outbox, in cluster mode on a placement that gives it every number. */
  async function startOwner(intervalMs = 0, gate?: Promise<void>): Promise<Outbox> {
    const { authId, authToken } = simulator.sim.credentials;
    const provider = new PlivoProvider({ authId, authToken, apiUrl: simulator.apiUrl, timeoutMs: 5_000 });
    // Records each call to the (real) provider; with a gate, the call waits for it first.
    const send = provider.send.bind(provider);
    provider.send = async (r: SendRequest) => {
      sent.push(r.text);
      onSend();
      if (gate) await gate;
      return send(r);
    };
    outbox = new Outbox({
      store,
      provider,
      clock,
      log: silentLogger,
      events,
      metrics: new Metrics({ defaultMetrics: false }),
      intervalMs,
      maxInFlight: 1,
      statusCallbackUrl: () => `${simulator.base}/nowhere`,
      cluster: { placement: singleNodePlacement('n1'), bus: new MemoryBus(), prefix: 'sb', rescanMs: RESCAN_MS },
    });
    await outbox.start();
    return outbox;
  }

  /** A text committed as `queued`, as any node commits one (the commit point), not handed to a queue. */
  async function commit(text: string): Promise<Message> {
    const [done] = await store.messages.enqueueOutbound([{ message: outboundMessage({ account, contact: student, text }), conversation: conversation(account.id, student.id) }]);
    return done!.message;
  }

  const submitted = (id: string) =>
    nextEvent(events, (e) => e.type === 'message' && e.message.id === id && e.message.status === 'submitted', `message ${id} submitted`);

  it('sends a message whose nudge was lost after one rescan interval, once', async () => {
    const owner = await startOwner();
    // This node takes the number with a message of its own.
    const first = await commit('first');
    const firstSent = submitted(first.id);
    owner.enqueue([first]);
    await firstSent;

    // Another node commits a text for the number; its nudge never arrives.
    const orphan = await commit('nudge lost');
    expect((await store.messages.get(orphan.id))?.status).toBe('queued');
    const orphanSent = submitted(orphan.id);
    clock.advance(RESCAN_MS);
    await orphanSent;

    // Rescans after it find nothing more to send.
    expect(await owner.rescan()).toBe(0);
    expect(sent).toEqual(['first', 'nudge lost']);
    expect(simulator.sim.listMessages({ direction: 'outbound', limit: 10, offset: 0 }).total).toBe(2);
  });

  it('does not queue again what is waiting in the queue or already with the provider', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    // One send a minute: the second message waits in the queue while the first is at the provider.
    const owner = await startOwner(60_000, gate);
    const [atProvider, waiting] = [await commit('at the provider'), await commit('waiting')];
    const calling = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for the first send to reach the provider')), 5_000);
      onSend = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    owner.enqueue([atProvider, waiting]);
    await calling;
    const number = account.numbers[0]!;
    expect(owner.depth(number)).toBe(2);

    expect(await owner.rescan()).toBe(0);
    expect(owner.depth(number)).toBe(2);

    const bothSent = Promise.all([submitted(atProvider.id), submitted(waiting.id)]);
    release();
    clock.advance(60_000);
    await bothSent;
    expect(await owner.rescan()).toBe(0);
    expect(sent).toEqual(['at the provider', 'waiting']);
  });
});
