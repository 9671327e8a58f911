import type { Clock, TimerHandle } from '../clock.js';

// The timers of many actors on one clock timer. A lock's deadline is re-armed each time it is
// granted and cleared when it goes, thousands of times a second on a busy node; a system timer
// each time is a Timeout, its closures and a slot in Node's timer lists, kept until the lock goes
// (about half a second under load): long enough to survive two scavenges and be promoted, only to
// die in the old generation. Here each actor owns one entry for its whole activation, armed and
// disarmed in place in a heap ordered by due time, and the clock holds one timer, for the earliest
// entry: arming allocates nothing. It runs on the host's injected clock, so simulated time drives
// it in tests.

/** An actor's timer in a queue: made once (`TimerQueue.timer`), armed and disarmed as often as needed. */
export interface QueuedTimer {
  /** When it fires (clock time); meaningless while not armed. */
  readonly at: number;
  readonly armed: boolean;
}

class Entry implements QueuedTimer {
  at = 0;
  /** Arming order: entries due at the same time fire in the order they were armed. */
  seq = 0;
  /** Position in the heap; -1 while not armed. */
  index = -1;

  constructor(readonly fn: () => void) {}

  get armed(): boolean {
    return this.index >= 0;
  }
}

export class TimerQueue {
  private readonly heap: Entry[] = [];
  private seq = 0;
  /** The clock timer for the earliest entry, and when it fires (null: none armed). */
  private clockTimer: TimerHandle | null = null;
  private clockTimerAt = Infinity;

  constructor(private readonly clock: Clock) {}

  /** A timer that runs `fn` each time it comes due; not armed yet. */
  timer(fn: () => void): QueuedTimer {
    return new Entry(fn);
  }

  /** Arms `timer` to fire at `at` (clock time; now or earlier fires at the next turn), replacing any time it had. */
  arm(timer: QueuedTimer, at: number): void {
    const entry = timer as Entry;
    if (entry.index >= 0) this.removeAt(entry.index);
    entry.at = at;
    entry.seq = ++this.seq;
    entry.index = this.heap.length;
    this.heap.push(entry);
    this.up(entry.index);
    if (entry.at < this.clockTimerAt) this.armClock();
  }

  /** Disarms `timer`; harmless when it is not armed. */
  disarm(timer: QueuedTimer): void {
    const entry = timer as Entry;
    if (entry.index < 0 || this.heap[entry.index] !== entry) return;
    this.removeAt(entry.index);
    // The clock timer stays armed for an earlier time than needed (it re-arms when it fires),
    // unless nothing is left at all.
    if (this.heap.length === 0) this.disarmClock();
  }

  /** Timers armed and not yet fired or cleared. */
  get size(): number {
    return this.heap.length;
  }

  private fire(): void {
    this.clockTimer = null;
    this.clockTimerAt = Infinity;
    let failure: { err: unknown } | null = null;
    const now = this.clock.now();
    for (let top = this.heap[0]; top !== undefined && top.at <= now; top = this.heap[0]) {
      this.removeAt(0);
      try {
        top.fn();
      } catch (err) {
        // One timer's failure must not keep the others from running.
        failure ??= { err };
      }
    }
    if (this.heap.length > 0) this.armClock();
    if (failure) throw failure.err;
  }

  private armClock(): void {
    this.disarmClock();
    const first = this.heap[0];
    if (!first) return;
    this.clockTimerAt = first.at;
    this.clockTimer = this.clock.setTimeout(this.fireDue, Math.max(0, first.at - this.clock.now()));
  }

  private readonly fireDue = (): void => this.fire();

  private disarmClock(): void {
    if (this.clockTimer !== null) this.clock.clearTimeout(this.clockTimer);
    this.clockTimer = null;
    this.clockTimerAt = Infinity;
  }

  private removeAt(i: number): void {
    const heap = this.heap;
    const removed = heap[i]!;
    removed.index = -1;
    const last = heap.pop()!;
    if (last === removed) return;
    heap[i] = last;
    last.index = i;
    this.down(i);
    this.up(last.index);
  }

  private before(a: Entry, b: Entry): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private up(i: number): void {
    const heap = this.heap;
    const entry = heap[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (!this.before(entry, p)) break;
      heap[i] = p;
      p.index = i;
      i = parent;
    }
    heap[i] = entry;
    entry.index = i;
  }

  private down(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const entry = heap[i]!;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && this.before(heap[right]!, heap[left]!) ? right : left;
      const c = heap[child]!;
      if (!this.before(c, entry)) break;
      heap[i] = c;
      c.index = i;
      i = child;
    }
    heap[i] = entry;
    entry.index = i;
  }
}
