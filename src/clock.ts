// Time as a dependency: queues, sessions and lock deadlines read the time and arm timers
// through this interface, so tests drive them with a simulated clock instead of sleeping.

export type TimerHandle = { readonly __timer: unique symbol };

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** Node fires a timer of more than this many ms at once (it takes it for 1 ms). */
export const MAX_TIMER_MS = 2_147_483_647;

/** A system timer; one further away than MAX_TIMER_MS (a campaign scheduled weeks ahead) is a chain of shorter ones. */
interface SystemTimer {
  current: NodeJS.Timeout;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const timer = {} as SystemTimer;
    const arm = (left: number): void => {
      timer.current = setTimeout(() => (left > MAX_TIMER_MS ? arm(left - MAX_TIMER_MS) : fn()), Math.min(left, MAX_TIMER_MS));
      // Timers of the core never keep the process alive on their own: shutdown is explicit.
      timer.current.unref?.();
    };
    arm(ms);
    return timer as unknown as TimerHandle;
  },
  clearTimeout: (handle) => clearTimeout((handle as unknown as SystemTimer).current),
};

/** A clock that only moves when told to: `advance(ms)` fires due timers in deadline order. */
export class ManualClock implements Clock {
  private time: number;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = Date.UTC(2026, 0, 5, 15, 0, 0)) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = ++this.seq;
    this.timers.set(id, { at: this.time + Math.max(0, ms), fn });
    return id as unknown as TimerHandle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle as unknown as number);
  }

  /** Moves time forward, firing every timer that falls due (including ones armed by fired timers). */
  advance(ms: number): void {
    const target = this.time + ms;
    for (;;) {
      let nextId: number | undefined;
      let nextAt = Infinity;
      for (const [id, t] of this.timers) {
        if (t.at <= target && (t.at < nextAt || (t.at === nextAt && id < (nextId ?? Infinity)))) {
          nextAt = t.at;
          nextId = id;
        }
      }
      if (nextId === undefined) break;
      const timer = this.timers.get(nextId)!;
      this.timers.delete(nextId);
      this.time = Math.max(this.time, timer.at);
      timer.fn();
    }
    this.time = target;
  }

  pending(): number {
    return this.timers.size;
  }
}
