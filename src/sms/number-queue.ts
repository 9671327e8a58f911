import type { Clock, TimerHandle } from '../clock.js';

// One pool number's outbound queue: first in, first out, at most one send *started* every
// `intervalMs` (the carrier's per-number rate, kept as a schedule: see pump) and at most
// `maxInFlight` provider calls open at once. Order is the order of starts; a job put back with
// `retryFirst` goes to the head so a throttled message never loses its place.

export interface QueueJob {
  id: string;
}

export interface NumberQueueOptions<J extends QueueJob> {
  clock: Clock;
  intervalMs: number;
  maxInFlight: number;
  /** Runs one job; the promise settles when the number may count the call as finished. */
  run: (job: J) => Promise<void>;
  /**
   * Told when `run` rejects: the queue goes on with the next job, so whoever owns the jobs must
   * record the failure (a rejected run must never vanish without a trace). Must not throw.
   */
  onFailure: (job: J, error: unknown) => void;
  /** Told after a job has finished and no longer counts in `depth` (whatever its outcome). */
  settled?: (job: J) => void;
  /** Asked before each start: a time to wait until (e.g. quiet hours), or null to go now. */
  holdUntil?: (job: J, now: number) => number | null;
}

export class NumberQueue<J extends QueueJob> {
  private readonly jobs: J[] = [];
  private head = 0;
  private inFlight = 0;
  private nextStartAt = 0;
  private timer: TimerHandle | null = null;
  private stopped = false;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly options: NumberQueueOptions<J>) {}

  /** When the next send may start (the number's pacing); in the past when it may start now. */
  get readyAt(): number {
    return this.nextStartAt;
  }

  get depth(): number {
    return this.jobs.length - this.head + this.inFlight;
  }

  push(job: J): void {
    this.jobs.push(job);
    this.pump();
  }

  /** Puts a job back at the head of the queue and waits `delayMs` before the next start. */
  retryFirst(job: J, delayMs: number): void {
    if (this.head > 0) this.jobs[--this.head] = job;
    else this.jobs.unshift(job);
    this.nextStartAt = Math.max(this.nextStartAt, this.options.clock.now() + delayMs);
    this.pump();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) this.options.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  /** Resolves when nothing is queued or in flight. */
  idle(): Promise<void> {
    if (this.depth === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    if (this.stopped || this.timer) return;
    while (this.head < this.jobs.length && this.inFlight < this.options.maxInFlight) {
      const now = this.options.clock.now();
      const job = this.jobs[this.head]!;
      const hold = this.options.holdUntil?.(job, now) ?? null;
      const startAt = Math.max(this.nextStartAt, hold ?? 0);
      if (startAt > now) {
        this.timer = this.options.clock.setTimeout(() => {
          this.timer = null;
          this.pump();
        }, startAt - now);
        return;
      }
      this.head++;
      this.compact();
      // The number keeps its schedule: a start that ran a little late (a timer fired late behind
      // a busy event loop or a GC pause, a call still in flight) makes the next one due an
      // interval after this one was due, so lateness does not add up over a long campaign. Up to a
      // tenth of the interval only, so two starts are never closer than nine tenths of it; later
      // than that (a number that was idle, a long stall) starts a new schedule from now.
      const due = now - startAt <= this.options.intervalMs / 10 ? startAt : now;
      this.nextStartAt = due + this.options.intervalMs;
      this.inFlight++;
      void this.options
        .run(job)
        .catch((error: unknown) => this.options.onFailure(job, error))
        .finally(() => {
          this.inFlight--;
          this.options.settled?.(job);
          this.pump();
          if (this.depth === 0) this.idleWaiters.splice(0).forEach((w) => w());
        });
    }
  }

  private compact(): void {
    // Amortised O(1) dequeue without shifting on every start.
    if (this.head > 1024 && this.head * 2 > this.jobs.length) {
      this.jobs.splice(0, this.head);
      this.head = 0;
    }
  }
}
