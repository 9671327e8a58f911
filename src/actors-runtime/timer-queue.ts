import type { Clock, TimerHandle } from '../clock.js';

// The timers of many actors on one clock timer. A lock arms a timer each time it is granted and
// clears it when it goes, thousands of times a second on a busy node; a system timer each time
// is a Timeout, its closures and a slot in Node's timer lists, kept until the lock goes (about
// half a second under load): long enough to survive two scavenges and be promoted, only to die in
// the old generation. Here a timer is one small entry in a heap ordered by due time, and the clock
// holds one timer for the earliest entry. It implements the `{ setTimeout, clearTimeout }` that
// XState takes as its clock, on the host's injected clock, so simulated time drives it in tests.

interface Entry {
  at: number;
  /** Arming order: entries due at the same time fire in the order they were armed. */
  seq: number;
  fn: () => void;
  /** Position in the heap; -1 once fired or cleared. */
  index: number;
}

export class TimerQueue {
  private readonly heap: Entry[] = [];
  private seq = 0;
  /** The clock timer for the earliest entry, and when it fires (null: none armed). */
  private armed: TimerHandle | null = null;
  private armedAt = Infinity;

  constructor(private readonly clock: Clock) {}

  setTimeout(fn: () => void, ms: number): Entry {
    const entry: Entry = { at: this.clock.now() + Math.max(0, ms), seq: ++this.seq, fn, index: this.heap.length };
    this.heap.push(entry);
    this.up(entry.index);
    if (entry.at < this.armedAt) this.arm();
    return entry;
  }

  clearTimeout(handle: unknown): void {
    const entry = handle as Entry | undefined;
    if (!entry || entry.index < 0 || this.heap[entry.index] !== entry) return;
    this.removeAt(entry.index);
    // The clock timer stays armed for an earlier time than needed (it re-arms when it fires),
    // unless nothing is left at all.
    if (this.heap.length === 0) this.disarm();
  }

  /** Timers armed and not yet fired or cleared. */
  get size(): number {
    return this.heap.length;
  }

  private fire(): void {
    this.armed = null;
    this.armedAt = Infinity;
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
    if (this.heap.length > 0) this.arm();
    if (failure) throw failure.err;
  }

  private arm(): void {
    this.disarm();
    const first = this.heap[0];
    if (!first) return;
    this.armedAt = first.at;
    this.armed = this.clock.setTimeout(() => this.fire(), Math.max(0, first.at - this.clock.now()));
  }

  private disarm(): void {
    if (this.armed !== null) this.clock.clearTimeout(this.armed);
    this.armed = null;
    this.armedAt = Infinity;
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
