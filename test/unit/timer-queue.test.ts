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
    q.setTimeout(() => fired.push(`c@${clock.now()}`), 300);
    q.setTimeout(() => fired.push(`a@${clock.now()}`), 100);
    q.setTimeout(() => fired.push(`b1@${clock.now()}`), 200);
    q.setTimeout(() => fired.push(`b2@${clock.now()}`), 200);
    expect(clock.pending()).toBe(1);
    clock.advance(199);
    expect(fired).toEqual(['a@1100']);
    clock.advance(1_000);
    expect(fired).toEqual(['a@1100', 'b1@1200', 'b2@1200', 'c@1300']);
    expect(q.size).toBe(0);
    expect(clock.pending()).toBe(0);
  });

  it('holds one clock timer for a thousand armed timers, and none once they are cleared', () => {
    const clock = new ManualClock(0);
    const q = new TimerQueue(clock);
    const handles = Array.from({ length: 1_000 }, (_, i) => q.setTimeout(() => undefined, 180_000 - i));
    expect(q.size).toBe(1_000);
    expect(clock.pending()).toBe(1);
    for (const h of handles) q.clearTimeout(h);
    expect(q.size).toBe(0);
    expect(clock.pending()).toBe(0);
  });

  it('never fires a cleared timer, and clearing twice or after firing is harmless', () => {
    const clock = new ManualClock(0);
    const q = new TimerQueue(clock);
    const fired: number[] = [];
    const handles = [5, 1, 4, 2, 3].map((n) => q.setTimeout(() => fired.push(n), n * 10));
    q.clearTimeout(handles[2]); // the one due at 40
    q.clearTimeout(handles[2]);
    clock.advance(15);
    q.clearTimeout(handles[1]); // already fired
    clock.advance(100);
    expect(fired).toEqual([1, 2, 3, 5]);
    expect(clock.pending()).toBe(0);
  });

  it('runs a timer armed by a firing one when it is due, also at the same time', () => {
    const clock = new ManualClock(0);
    const q = new TimerQueue(clock);
    const fired: string[] = [];
    q.setTimeout(() => {
      fired.push(`first@${clock.now()}`);
      q.setTimeout(() => fired.push(`now@${clock.now()}`), 0);
      q.setTimeout(() => fired.push(`later@${clock.now()}`), 50);
    }, 10);
    clock.advance(100);
    expect(fired).toEqual(['first@10', 'now@10', 'later@60']);
  });

  it('re-arms the clock for a timer earlier than the one it waits for', () => {
    const clock = new ManualClock(0);
    const q = new TimerQueue(clock);
    const fired: number[] = [];
    q.setTimeout(() => fired.push(clock.now()), 1_000);
    q.setTimeout(() => fired.push(clock.now()), 10);
    clock.advance(10);
    expect(fired).toEqual([10]);
    clock.advance(990);
    expect(fired).toEqual([10, 1_000]);
  });

  it('keeps firing the others when one timer throws, then reports the failure', () => {
    const clock = new ManualClock(0);
    const q = new TimerQueue(clock);
    const fired: number[] = [];
    q.setTimeout(() => {
      throw new Error('boom');
    }, 10);
    q.setTimeout(() => fired.push(clock.now()), 10);
    q.setTimeout(() => fired.push(clock.now()), 20);
    expect(() => clock.advance(10)).toThrow('boom');
    expect(fired).toEqual([10]);
    clock.advance(10);
    expect(fired).toEqual([10, 20]);
  });
});
