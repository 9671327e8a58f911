import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ManualClock, systemClock } from '../../src/clock.js';
import { CoreEvents } from '../../src/events.js';
import { MemoryBus } from '../../src/bus/memory-bus.js';
import { Metrics } from '../../src/metrics.js';
import { NumberQueue } from '../../src/sms/number-queue.js';
import { Outbox } from '../../src/sms/outbox.js';
import { PlivoProvider } from '../../src/sms/plivo-provider.js';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { nextEvent } from '../helpers/wait.js';
import { tempDir } from '../helpers/temp-dir.js';
import { startSimulatorServer } from '../helpers/simulator-server.js';
import { contact, conversation, department, groupAccount, outboundMessage } from '../contract/store-fixtures.js';

interface Job {
  id: string;
}

function setup(options: { intervalMs: number; maxInFlight?: number; holdUntil?: (j: Job, now: number) => number | null }) {
  const clock = new ManualClock(0);
  const started: Array<{ id: string; at: number }> = [];
  const finish = new Map<string, { resolve: () => void; reject: (e: unknown) => void }>();
  const failures: Array<{ id: string; error: unknown }> = [];
  const q = new NumberQueue<Job>({
    clock,
    intervalMs: options.intervalMs,
    maxInFlight: options.maxInFlight ?? 1,
    run: (job) => {
      started.push({ id: job.id, at: clock.now() });
      return new Promise<void>((resolve, reject) => finish.set(job.id, { resolve, reject }));
    },
    onFailure: (job, error) => failures.push({ id: job.id, error }),
    ...(options.holdUntil ? { holdUntil: options.holdUntil } : {}),
  });
  const settle = async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  const complete = async (id: string) => {
    finish.get(id)!.resolve();
    await settle();
  };
  const fail = async (id: string, error: unknown) => {
    finish.get(id)!.reject(error);
    await settle();
  };
  return { clock, q, started, complete, fail, failures, settle };
}

describe('a pool number queue', () => {
  it('starts one message every 12 seconds, first in first out', async () => {
    const { clock, q, started, complete } = setup({ intervalMs: 12_000 });
    for (const id of ['a', 'b', 'c']) q.push({ id });
    expect(started).toEqual([{ id: 'a', at: 0 }]);
    await complete('a');
    clock.advance(11_999);
    expect(started).toHaveLength(1);
    clock.advance(1);
    expect(started.map((s) => s.id)).toEqual(['a', 'b']);
    await complete('b');
    clock.advance(12_000);
    expect(started).toEqual([
      { id: 'a', at: 0 },
      { id: 'b', at: 12_000 },
      { id: 'c', at: 24_000 },
    ]);
  });

  it('keeps the number\'s schedule when a start runs a little late, and starts a new one after a long delay', async () => {
    const { clock, q, started, complete } = setup({ intervalMs: 12_000 });
    for (const id of ['a', 'b', 'c', 'd', 'e']) q.push({ id });
    // a's call is still open when b is due: b starts 600 ms late (a twentieth of the interval)…
    clock.advance(12_600);
    await complete('a');
    expect(started.at(-1)).toEqual({ id: 'b', at: 12_600 });
    await complete('b');
    // …and c is due on the schedule, not 12 s after b ran: lateness does not add up.
    clock.advance(24_000 - clock.now() - 1);
    expect(started).toHaveLength(2);
    clock.advance(1);
    expect(started.at(-1)).toEqual({ id: 'c', at: 24_000 });
    // Later than a tenth of the interval (c's call open for 14 s): the schedule starts again from d's start.
    clock.advance(14_000);
    await complete('c');
    expect(started.at(-1)).toEqual({ id: 'd', at: 38_000 });
    await complete('d');
    clock.advance(11_999);
    expect(started).toHaveLength(4);
    clock.advance(1);
    expect(started.at(-1)).toEqual({ id: 'e', at: 50_000 });
  });

  it('never has more calls in flight than allowed, even with no rate limit', async () => {
    const { q, started, complete } = setup({ intervalMs: 0, maxInFlight: 2 });
    for (const id of ['a', 'b', 'c', 'd']) q.push({ id });
    expect(started.map((s) => s.id)).toEqual(['a', 'b']);
    expect(q.depth).toBe(4);
    await complete('b');
    expect(started.map((s) => s.id)).toEqual(['a', 'b', 'c']);
    await complete('a');
    await complete('c');
    await complete('d');
    expect(q.depth).toBe(0);
  });

  it('puts a throttled message back at the head and waits before trying again', async () => {
    const { clock, q, started, complete } = setup({ intervalMs: 0 });
    q.push({ id: 'a' });
    q.push({ id: 'b' });
    q.retryFirst({ id: 'a' }, 5_000);
    await complete('a'); // the first attempt's call ends after it was re-queued
    expect(started.map((s) => s.id)).toEqual(['a']);
    clock.advance(5_000);
    expect(started.map((s) => s.id)).toEqual(['a', 'a']);
  });

  it('holds a message until the time its hold says (quiet hours)', async () => {
    const { clock, q, started } = setup({ intervalMs: 0, holdUntil: (j, now) => (j.id === 'night' && now < 60_000 ? 60_000 : null) });
    q.push({ id: 'night' });
    expect(started).toHaveLength(0);
    clock.advance(59_999);
    expect(started).toHaveLength(0);
    clock.advance(1);
    expect(started).toEqual([{ id: 'night', at: 60_000 }]);
  });

  it('resolves idle() once everything has been sent', async () => {
    const { q, complete } = setup({ intervalMs: 0, maxInFlight: 4 });
    q.push({ id: 'a' });
    let idle = false;
    void q.idle().then(() => (idle = true));
    await Promise.resolve();
    expect(idle).toBe(false);
    await complete('a');
    expect(idle).toBe(true);
  });

  it('hands a send that throws to its owner and goes on with the next one', async () => {
    const { q, started, complete, fail, failures } = setup({ intervalMs: 0 });
    q.push({ id: 'a' });
    q.push({ id: 'b' });
    const boom = new Error('disk I/O error');
    await fail('a', boom);
    expect(failures).toEqual([{ id: 'a', error: boom }]);
    expect(started.map((s) => s.id)).toEqual(['a', 'b']);
    await complete('b');
    expect(q.depth).toBe(0);
  });
});

// The outbox over a real SQLite file whose write fails for real (a trigger raises an SQLite error,
// as a full disk or an I/O error would), the real Plivo SDK and the simulator: a send that throws
// leaves a log line naming the message, a count in /metrics, and a message a person can see.
describe('a send the store cannot record', () => {
  for (const failing of ['sending', 'submitted'] as const) {
    it(`is logged, counted and marked unknown when writing \`${failing}\` fails`, async () => {
      const dir = tempDir();
      const simulator = await startSimulatorServer();
      const file = join(dir.path, 'switchboard.db');
      const store = await createSqliteStore({ file });
      try {
        const [pool] = simulator.sim.searchNumbers({ countryIso: 'US', pattern: '617', limit: 1, offset: 0 });
        simulator.sim.buyNumber(pool!.number, undefined);
        const from = `+${pool!.number.replace(/\D/g, '')}`;
        const d = await store.departments.create(department());
        const account = await store.accounts.create(groupAccount(d.id, { numbers: [from] }), []);
        const student = await store.contacts.create(contact());
        const [queued] = await store.messages.enqueueOutbound([
          { message: outboundMessage({ account, contact: student }), conversation: conversation(account.id, student.id) },
        ]);
        const message = queued!.message;

        const ddl = new Database(file);
        ddl.exec(`CREATE TRIGGER fail_${failing} BEFORE UPDATE OF status ON messages WHEN NEW.status = '${failing}'
                  BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END`);
        ddl.close();

        const lines: Array<Record<string, unknown>> = [];
        const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
        const metrics = new Metrics({ defaultMetrics: false });
        const events = new CoreEvents({ bus: new MemoryBus(), prefix: 'sb', nodeId: 'n1', onError: (err) => { throw err; } });
        const { authId, authToken } = simulator.sim.credentials;
        const outbox = new Outbox({
          store,
          provider: new PlivoProvider({ authId, authToken, apiUrl: simulator.apiUrl, timeoutMs: 5_000 }),
          clock: systemClock,
          log,
          events,
          metrics,
          intervalMs: 0,
          maxInFlight: 1,
          statusCallbackUrl: () => `${simulator.base}/nowhere`,
        });
        const marked = nextEvent(events, (e) => e.type === 'message' && e.message.status === 'unknown', 'the message marked unknown');
        outbox.enqueue([message]);
        await marked;
        outbox.stop();

        expect(await store.messages.get(message.id)).toMatchObject({ status: 'unknown', errorCode: 'internal' });
        expect(lines.find((l) => l['messageId'] === message.id && l['level'] === 50)).toBeDefined();
        expect((await metrics.sendFailures.get()).values).toEqual([expect.objectContaining({ labels: { reason: 'internal' }, value: 1 })]);
        // Whether the text left depends on which write failed; either way it is never sent twice.
        const sent = simulator.sim.listMessages({ direction: 'outbound', limit: 10, offset: 0 }).rows;
        expect(sent).toHaveLength(failing === 'sending' ? 0 : 1);
      } finally {
        await store.close();
        await simulator.close();
        dir.remove();
      }
    });
  }
});

