import { performance } from 'node:perf_hooks';
import { clearImmediate, clearTimeout, setImmediate, setTimeout } from 'node:timers';
import type Database from 'better-sqlite3';
import type { Clock, TimerHandle } from '../../clock.js';

// Group commit. Committing each write on its own caps a durable store far below the thousands of
// writes per second the product needs (every durable commit must reach the disk, ~0.5 ms an
// fsync here). Instead, writes that arrive in the same tick share one transaction:
// - each op runs in its own SAVEPOINT (better-sqlite3 nests transactions that way), so an op that
//   throws (a uniqueness conflict, a failed condition) rolls back only itself and rejects only its
//   own promise while the others commit;
// - the flush waits for setImmediate, so everything that arrives in one turn of the event loop
//   (all the socket and webhook callbacks of one poll phase) shares the commit; it is imported from
//   node:timers so that tests faking the global timers cannot stall durable writes;
// - ops run in enqueue order, each seeing the effects of the ones before it, which is what makes
//   check-then-write ops (compare-and-set, dedupe) atomic: nothing else writes in between.
//
// Durable ops (`run`) settle only once their commit is on the disk. With a `sync` (wal-sync.ts,
// the store's files) the connection commits with synchronous=NORMAL, which never waits for the
// disk, and a batch holding a durable op asks for an fsync of the log off the event loop; its
// durable ops settle when that resolves, failures included: an op refused because of a row
// another op wrote (a duplicate, a lost compare-and-set) is answered only once that row is
// durable too. Without a `sync` (in-memory databases, the simulator's records) they settle at
// COMMIT, as durable as the connection's own synchronous level makes it.
//
// Write-behind ops (`runBehind`) settle at COMMIT: state the owner already told its clients and
// may lose on a crash (lock snapshots, see DESIGN.md). Their durability is still ordered: in WAL
// mode a commit appends its frames to the one log after every earlier commit's, recovery keeps a
// prefix of that log, and an fsync of the log covers everything appended before it. So a
// write-behind op is durable no later than the first durable write committed after it, and a crash
// never keeps a later durable write (a reply) while losing an earlier write-behind one (the lock
// state the reply was checked against).
//
// What is saved behind is rarely waited for (a reply waits for the lock state it was checked
// against, and may wait the spacing longer), so with `behindSpacingMs` a batch of write-behind ops
// alone commits no sooner than that long after the previous commit: under load (thousands of lock changes a second)
// a commit carries the writes of several turns of the loop instead of two or three, and what a
// commit costs whatever it carries (taking the write lock, appending and indexing the log's frames,
// two system calls a page) is paid a few hundred times a second instead of once a turn. A durable
// op still commits at the next turn, with whatever write-behind ops wait. An idle store commits a
// lone write-behind op at once.
//
// What other readers see runs ahead of the disk by at most one fsync: a row committed and not yet
// synced is visible to reads at once. A process crash (kill -9) keeps it (it is in the kernel's
// page cache); a power loss may lose it, and then nobody was told it was stored.

export interface WriteBatcherOptions {
  /** Flush without waiting for the next tick once this many ops are pending. */
  maxBatch?: number;
  /** Turns whatever an op (or the COMMIT) threw into the error its caller sees. */
  mapError?: (e: unknown) => unknown;
  /** Called after each successful COMMIT with the number of ops it carried, and whether it held a durable op (for metrics and tests). */
  onCommit?: (ops: number, durable: boolean) => void;
  /**
   * Makes every commit made before the call durable (wal-sync.ts). Durable ops settle after it;
   * without it, at COMMIT.
   */
  sync?: () => Promise<void>;
  /** A batch of write-behind ops only commits no sooner than this many ms after the previous commit (default 0: at the next turn). */
  behindSpacingMs?: number;
  /**
   * The time and timer of that spacing. Real ones by default, not the clock a test may simulate:
   * a simulated clock that is never advanced must not hold writes back.
   */
  spacingClock?: Clock;
}

/** performance.now() and node:timers' own setTimeout, which tests faking the global timers leave alone. */
const realTime: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms) as unknown as TimerHandle,
  clearTimeout: (handle) => clearTimeout(handle as unknown as NodeJS.Timeout),
};

interface PendingOp {
  run: () => unknown;
  durable: boolean;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

export class WriteBatcherClosedError extends Error {
  override name = 'WriteBatcherClosedError';
  constructor() {
    super('the store is closed');
  }
}

export class WriteBatcher {
  private pending: PendingOp[] = [];
  /** A flush at the next turn of the loop. */
  private scheduled: NodeJS.Immediate | null = null;
  /** A flush of write-behind ops waiting out behindSpacingMs. */
  private spaced: TimerHandle | null = null;
  private lastCommitAt = Number.NEGATIVE_INFINITY;
  private readonly behindSpacingMs: number;
  private readonly spacingClock: Clock;
  private closed = false;
  private readonly maxBatch: number;
  private readonly mapError: (e: unknown) => unknown;
  private readonly onCommit: ((ops: number, durable: boolean) => void) | undefined;
  /** Ops of the pending batch that must be durable when they resolve. */
  private durablePending = 0;
  private readonly sync: (() => Promise<void>) | undefined;
  private readonly runBatch: Database.Transaction<(ops: PendingOp[]) => Outcome[]>;
  private readonly runOne: Database.Transaction<(op: PendingOp) => unknown>;

  constructor(db: Database.Database, options: WriteBatcherOptions = {}) {
    this.maxBatch = options.maxBatch ?? 500;
    this.mapError = options.mapError ?? ((e) => e);
    this.onCommit = options.onCommit;
    this.sync = options.sync;
    this.behindSpacingMs = options.behindSpacingMs ?? 0;
    this.spacingClock = options.spacingClock ?? realTime;
    // Created once: better-sqlite3 turns a nested call into SAVEPOINT / RELEASE / ROLLBACK TO.
    this.runOne = db.transaction((op: PendingOp) => op.run());
    this.runBatch = db.transaction((ops: PendingOp[]) =>
      ops.map((op): Outcome => {
        try {
          return { ok: true, value: this.runOne(op) };
        } catch (error) {
          return { ok: false, error };
        }
      }),
    );
  }

  /** Queues a synchronous write; settles with its outcome once the batch holding it is durable. */
  run<T>(op: () => T): Promise<T> {
    return this.enqueue(op, true);
  }

  /**
   * Queues a write-behind op: ordered with every other op as `run` is, but it settles once
   * committed without waiting for the disk (see the top of this file: durable no later than the
   * next durable write). For state whose loss in a crash is harmless by design.
   */
  runBehind<T>(op: () => T): Promise<T> {
    return this.enqueue(op, false);
  }

  private enqueue<T>(op: () => T, durable: boolean): Promise<T> {
    if (this.closed) return Promise.reject(this.mapError(new WriteBatcherClosedError()));
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ run: op, durable, resolve: resolve as (value: unknown) => void, reject });
      if (durable) this.durablePending++;
      if (this.pending.length >= this.maxBatch) this.flush();
      else this.schedule();
    });
  }

  /** The next turn of the loop; for write-behind ops alone, once behindSpacingMs has passed since the last commit. */
  private schedule(): void {
    if (this.scheduled !== null) return;
    const wait = this.durablePending > 0 ? 0 : this.lastCommitAt + this.behindSpacingMs - this.spacingClock.now();
    if (wait > 0) {
      this.spaced ??= this.spacingClock.setTimeout(() => {
        this.spaced = null;
        this.flush();
      }, wait);
      return;
    }
    this.clearSpaced();
    this.scheduled = setImmediate(() => this.flush());
  }

  private clearSpaced(): void {
    if (this.spaced === null) return;
    this.spacingClock.clearTimeout(this.spaced);
    this.spaced = null;
  }

  /** Commits everything pending now. */
  flush(): void {
    if (this.scheduled !== null) {
      clearImmediate(this.scheduled);
      this.scheduled = null;
    }
    this.clearSpaced();
    const ops = this.pending;
    if (ops.length === 0) return;
    this.pending = [];
    const durable = this.durablePending > 0;
    this.durablePending = 0;
    let outcomes: Outcome[];
    try {
      // IMMEDIATE takes the write lock up front: another connection cannot make us fail half way
      // with SQLITE_BUSY on the lock upgrade (busy_timeout covers waiting for the lock).
      outcomes = this.runBatch.immediate(ops);
    } catch (error) {
      this.lastCommitAt = this.spacingClock.now();
      // BEGIN or COMMIT failed: nothing of this batch is durable, so nobody may see success.
      const mapped = this.mapError(error);
      for (const op of ops) op.reject(mapped);
      return;
    }
    this.lastCommitAt = this.spacingClock.now();
    this.onCommit?.(ops.length, durable);
    if (!durable || this.sync === undefined) {
      ops.forEach((op, i) => this.settle(op, outcomes[i]!));
      return;
    }
    const synced = this.sync();
    ops.forEach((op, i) => {
      if (!op.durable) this.settle(op, outcomes[i]!);
    });
    synced.then(
      () => ops.forEach((op, i) => op.durable && this.settle(op, outcomes[i]!)),
      (error: unknown) => {
        // Committed, but not known to be on the disk: nobody may be told it is stored.
        const mapped = this.mapError(error);
        for (const op of ops) if (op.durable) op.reject(mapped);
      },
    );
  }

  private settle(op: PendingOp, outcome: Outcome): void {
    if (outcome.ok) op.resolve(outcome.value);
    else op.reject(this.mapError(outcome.error));
  }

  /** Commits what is pending and refuses further writes. */
  close(): void {
    this.flush();
    this.closed = true;
  }
}
