import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_TIMER_MS, systemClock } from '../../src/clock.js';

// Node takes a timer of more than 2^31 − 1 ms (about 24.8 days) for 1 ms and fires it at once. A
// campaign scheduled a month ahead arms such a timer: it must not start the next millisecond.

describe('the system clock', () => {
  afterEach(() => vi.useRealTimers());

  it('fires a timer further away than Node allows at its time, not at once', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const asked: number[] = [];
    const real = globalThis.setTimeout;
    const spy = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms: number) => {
      asked.push(ms);
      return real(fn, ms);
    }) as typeof setTimeout);
    const fired = vi.fn();
    const thirtyDays = 30 * 24 * 3600_000;
    systemClock.setTimeout(fired, thirtyDays);
    expect(Math.max(...asked)).toBeLessThanOrEqual(MAX_TIMER_MS);
    vi.advanceTimersByTime(thirtyDays - 1);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fired).toHaveBeenCalledOnce();
    spy.mockRestore();
  });

  it('cancels such a timer at any link of its chain', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const fired = vi.fn();
    const handle = systemClock.setTimeout(fired, 2 * MAX_TIMER_MS + 10);
    vi.advanceTimersByTime(MAX_TIMER_MS + 5);
    systemClock.clearTimeout(handle);
    vi.advanceTimersByTime(2 * MAX_TIMER_MS);
    expect(fired).not.toHaveBeenCalled();
  });
});
