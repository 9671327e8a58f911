import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { TimerQueue } from '../../src/actors-runtime/timer-queue.js';

// Many actors' timers on one clock timer: they fire at their own times, in order, and the clock
// holds one timer however many are armed.

describe('the timer queue', () => {
  it('fires each timer at its own time, in order of due time and then of arming', () => {
    const clock = new ManualClock(1_000);
    const q = new TimerQueue(clock);
    const fired: string[] = [];
    const timer = (name: string) => q.timer(() => fired.push(`${name}@${clock.now()}`));
    q.arm(timer('c'), 1_300);
    q.arm(timer('a'), 1_100);
    q.arm(timer('b1'), 1_200);
    q.arm(timer('b2'), 1_200);
    expect(clock.pending()).toBe(1);
    clock.advance(199);
    expect(fired).toEqual(['a@1100']);
    clock.advance(1_000);
    expect(fired).toEqual(['a@1100', 'b1@1200', 'b2@1200', 'c@1300']);
    expect(q.size).toBe(0);
    expect(clock.pending()).toBe(0);
  });

  it('holds one clock timer for a thousand armed timers, and none once they are disarmed', () => {
    const clock = new ManualClock(0);
    const q = new TimerQueue(clock);
    const timers = Array.from({ length: 1_000 }, () => q.timer(() => undefined));
    timers.forEach((t, i) => q.arm(t, 180_000 - i));
    expect(q.size).toBe(1_000);
    expect(clock.pending()).toBe(1);
    for (const t of timers) q.disarm(t);
    expect(q.size).toBe(0);
    expect(clock.pending()).toBe(0);
  });

  it('moves a timer armed again to its new time, earlier or later', () => {
    const clock = new ManualClock(0);
    const q = new TimerQueue(clock);
    const fired: string[] = [];
    const a = q.timer(() => fired.push(`a@${clock.now()}`));
    const b = q.timer(() => fired.push(`b@${clock.now()}`));
    q.arm(a, 100);
    q.arm(b, 200);
    q.arm(a, 300); // later
    q.arm(b, 50); // earlier
    expect(a).toMatchObject({ armed: true, at: 300 });
    clock.advance(1_000);
    expect(fired).toEqual(['b@50', 'a@300']);
    expect(a.armed).toBe(false);
    // Armed again after it fired: fires again.
    q.arm(a, clock.now() + 10);
    clock.advance(10);
    expect(fired).toEqual(['b@50', 'a@300', 'a@1010']);
  });

  it('never fires a disarmed timer, and disarming twice or after firing is harmless', () => {
    const clock = new ManualClock(0);
    const q = new TimerQueue(clock);
    const fired: number[] = [];
    const timers = [5, 1, 4, 2, 3].map((n) => {
      const t = q.timer(() => fired.push(n));
      q.arm(t, n * 10);
      return t;
    });
    q.disarm(timers[2]!); // the one due at 40
    q.disarm(timers[2]!);
    clock.advance(15);
    q.disarm(timers[1]!); // already fired
    clock.advance(100);
    expect(fired).toEqual([1, 2, 3, 5]);
    expect(clock.pending()).toBe(0);
  });

  it('runs a timer armed by a firing one when it is due, also at the same time', () => {
    const clock = new ManualClock(0);
    const q = new TimerQueue(clock);
    const fired: string[] = [];
    const now = q.timer(() => fired.push(`now@${clock.now()}`));
    const later = q.timer(() => fired.push(`later@${clock.now()}`));
    const first = q.timer(() => {
      fired.push(`first@${clock.now()}`);
      q.arm(now, clock.now());
      q.arm(later, clock.now() + 50);
    });
    q.arm(first, 10);
    clock.advance(100);
    expect(fired).toEqual(['first@10', 'now@10', 'later@60']);
  });

  it('re-arms the clock for a timer earlier than the one it waits for', () => {
    const clock = new ManualClock(0);
    const q = new TimerQueue(clock);
    const fired: number[] = [];
    q.arm(q.timer(() => fired.push(clock.now())), 1_000);
    q.arm(q.timer(() => fired.push(clock.now())), 10);
    clock.advance(10);
    expect(fired).toEqual([10]);
    clock.advance(990);
    expect(fired).toEqual([10, 1_000]);
  });

  it('keeps firing the others when one timer throws, then reports the failure', () => {
    const clock = new ManualClock(0);
    const q = new TimerQueue(clock);
    const fired: number[] = [];
    q.arm(
      q.timer(() => {
        throw new Error('boom');
      }),
      10,
    );
    q.arm(q.timer(() => fired.push(clock.now())), 10);
    q.arm(q.timer(() => fired.push(clock.now())), 20);
    expect(() => clock.advance(10)).toThrow('boom');
    expect(fired).toEqual([10]);
    clock.advance(10);
    expect(fired).toEqual([10, 20]);
  });
});
