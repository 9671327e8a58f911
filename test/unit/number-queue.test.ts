import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { NumberQueue } from '../../src/sms/number-queue.js';

interface Job {
  id: string;
}

function setup(options: { intervalMs: number; maxInFlight?: number; holdUntil?: (j: Job, now: number) => number | null }) {
  const clock = new ManualClock(0);
  const started: Array<{ id: string; at: number }> = [];
  const finish = new Map<string, () => void>();
  const q = new NumberQueue<Job>({
    clock,
    intervalMs: options.intervalMs,
    maxInFlight: options.maxInFlight ?? 1,
    run: (job) => {
      started.push({ id: job.id, at: clock.now() });
      return new Promise<void>((resolve) => finish.set(job.id, resolve));
    },
    ...(options.holdUntil ? { holdUntil: options.holdUntil } : {}),
  });
  const settle = async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  const complete = async (id: string) => {
    finish.get(id)!();
    await settle();
  };
  return { clock, q, started, complete, settle };
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
});
