import { describe, expect, it } from 'vitest';
import { ManualClock, type Clock } from '../../src/clock.js';
import { SessionTimers } from '../../gateways/ws/session-timers.js';

describe('session timers', () => {
  it('arms one timer per session, fires it once at the expiry, and drops it with the last socket', () => {
    const clock = new ManualClock(0);
    const expired: string[] = [];
    const timers = new SessionTimers(clock, (tokenHash, userId) => expired.push(`${userId}/${tokenHash}`));
    timers.add('s1', 'u1', 1_000);
    timers.add('s1', 'u1', 1_000);
    timers.add('s2', 'u1', 2_000);
    timers.add('s3', 'u2', 500);
    expect(clock.pending()).toBe(3);
    timers.remove('s3');
    clock.advance(999);
    expect(expired).toEqual([]);
    clock.advance(1);
    expect(expired).toEqual(['u1/s1']);
    timers.remove('s2');
    timers.remove('s2');
    clock.advance(10_000);
    expect(expired).toEqual(['u1/s1']);
    expect(timers.size()).toBe(0);
    expect(clock.pending()).toBe(0);
  });

  it('waits out an expiry beyond what one Node timer can hold, in steps', () => {
    const clock = new ManualClock(0);
    // Node's setTimeout fires at once past 2^31-1 ms; this clock refuses such a delay instead.
    const nodeLike: Clock = {
      now: () => clock.now(),
      setTimeout: (fn, ms) => {
        if (ms > 2 ** 31 - 1) throw new Error(`a ${ms} ms timer would fire at once in Node`);
        return clock.setTimeout(fn, ms);
      },
      clearTimeout: (h) => clock.clearTimeout(h),
    };
    const expired: string[] = [];
    const timers = new SessionTimers(nodeLike, (tokenHash) => expired.push(tokenHash));
    const thirtyDays = 30 * 24 * 3_600_000;
    timers.add('long', 'u1', thirtyDays);
    clock.advance(2 ** 31 - 1);
    expect(expired).toEqual([]);
    clock.advance(thirtyDays - (2 ** 31 - 1) - 1);
    expect(expired).toEqual([]);
    clock.advance(1);
    expect(expired).toEqual(['long']);
  });
});
