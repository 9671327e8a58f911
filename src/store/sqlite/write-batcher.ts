import { clearImmediate, setImmediate } from 'node:timers';
import type Database from 'better-sqlite3';

// Group commit. With synchronous=FULL every COMMIT waits for an fsync (~0.5 ms here, ~1,900/s), so
// committing each write on its own caps the store far below the thousands of durable writes per
// second the product needs. Instead, writes that arrive in the same tick share one transaction:
// - each op runs in its own SAVEPOINT (better-sqlite3 nests transactions that way), so an op that
//   throws (a uniqueness conflict, a failed condition) rolls back only itself and rejects only its
//   own promise while the others commit;
// - every promise settles only after the outer COMMIT, so "resolved" means "durable" (for `run`;
//   see write-behind below);
// - the flush waits for setImmediate, so everything that arrives in one turn of the event loop
//   (all the socket and webhook callbacks of one poll phase) shares the commit; it is imported from
//   node:timers so that tests faking the global timers cannot stall durable writes;
// - ops run in enqueue order, each seeing the effects of the ones before it, which is what makes
//   check-then-write ops (compare-and-set, dedupe) atomic: nothing else writes in between.
//
// Write-behind ops (`runBehind`) need no fsync of their own: state the owner already told its
// clients and may lose on a crash (lock snapshots, see DESIGN.md). A batch made only of them
// commits with synchronous=NORMAL, so the event loop never waits for the disk on their account; a
// batch with any durable op commits at the connection's own level (FULL). Their durability is still
// ordered: in WAL mode a commit appends its frames to the one log after every earlier commit's,
// recovery keeps a prefix of that log, and a FULL commit fsyncs the log up to its own frames. So a
// write-behind op is durable no later than the first durable write committed after it, and a crash
// never keeps a later durable write (a reply) while losing an earlier write-behind one (the lock
// state the reply was checked against).

export interface WriteBatcherOptions {
  /** Flush without waiting for the next tick once this many ops are pending. */
  maxBatch?: number;
  /** Turns whatever an op (or the COMMIT) threw into the error its caller sees. */
  mapError?: (e: unknown) => unknown;
  /** Called after each successful COMMIT with the number of ops it carried, and whether it was synced (FULL) or write-behind only (for metrics and tests). */
  onCommit?: (ops: number, durable: boolean) => void;
}

interface PendingOp {
  run: () => unknown;
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
  private scheduled: NodeJS.Immediate | null = null;
  private closed = false;
  private readonly maxBatch: number;
  private readonly mapError: (e: unknown) => unknown;
  private readonly onCommit: ((ops: number, durable: boolean) => void) | undefined;
  /** Ops of the pending batch that must be durable when they resolve. */
  private durablePending = 0;
  /** The connection's own synchronous level (durable batches), and the one in force now. */
  private readonly durableLevel: number;
  private level: number;
  private readonly db: Database.Database;
  private readonly runBatch: Database.Transaction<(ops: PendingOp[]) => Outcome[]>;
  private readonly runOne: Database.Transaction<(op: PendingOp) => unknown>;

  constructor(db: Database.Database, options: WriteBatcherOptions = {}) {
    this.maxBatch = options.maxBatch ?? 500;
    this.mapError = options.mapError ?? ((e) => e);
    this.onCommit = options.onCommit;
    // Safety levels: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA. Write-behind batches never ask for more
    // than NORMAL, nor for less than the connection's own level when that is lower already.
    this.durableLevel = db.pragma('synchronous', { simple: true }) as number;
    this.level = this.durableLevel;
    this.db = db;
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

  /** Queues a synchronous write; resolves with its result once the batch holding it has committed. */
  run<T>(op: () => T): Promise<T> {
    return this.enqueue(op, true);
  }

  /**
   * Queues a write-behind op: ordered with every other op as `run` is, but it resolves once
   * committed without waiting for the disk (see the top of this file: durable no later than the
   * next durable write). For state whose loss in a crash is harmless by design.
   */
  runBehind<T>(op: () => T): Promise<T> {
    return this.enqueue(op, false);
  }

  private enqueue<T>(op: () => T, durable: boolean): Promise<T> {
    if (this.closed) return Promise.reject(this.mapError(new WriteBatcherClosedError()));
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ run: op, resolve: resolve as (value: unknown) => void, reject });
      if (durable) this.durablePending++;
      if (this.pending.length >= this.maxBatch) {
        this.flush();
      } else if (this.scheduled === null) {
        this.scheduled = setImmediate(() => this.flush());
      }
    });
  }

  /** Commits everything pending now. */
  flush(): void {
    if (this.scheduled !== null) {
      clearImmediate(this.scheduled);
      this.scheduled = null;
    }
    const ops = this.pending;
    if (ops.length === 0) return;
    this.pending = [];
    const durable = this.durablePending > 0;
    this.durablePending = 0;
    let outcomes: Outcome[];
    try {
      // Outside the transaction: SQLite refuses to change the level inside one. Not a statement
      // prepared once: SQLite applies this pragma when it is prepared, not when it runs.
      const level = durable ? this.durableLevel : Math.min(1, this.durableLevel);
      if (level !== this.level) {
        this.db.exec(`PRAGMA synchronous = ${level}`);
        this.level = level;
      }
      // IMMEDIATE takes the write lock up front: another connection cannot make us fail half way
      // with SQLITE_BUSY on the lock upgrade (busy_timeout covers waiting for the lock).
      outcomes = this.runBatch.immediate(ops);
    } catch (error) {
      // BEGIN or COMMIT failed: nothing of this batch is durable, so nobody may see success.
      const mapped = this.mapError(error);
      for (const op of ops) op.reject(mapped);
      return;
    }
    this.onCommit?.(ops.length, durable);
    ops.forEach((op, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) op.resolve(outcome.value);
      else op.reject(this.mapError(outcome.error));
    });
  }

  /** Commits what is pending and refuses further writes. */
  close(): void {
    this.flush();
    this.closed = true;
  }
}
