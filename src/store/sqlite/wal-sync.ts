import { closeSync, fsync, fsyncSync, openSync } from 'node:fs';
import { dirname } from 'node:path';

// The fsync that makes a WAL database's commits durable, run off the event loop.
//
// With synchronous=FULL, SQLite fsyncs the write-ahead log inside every COMMIT, on the thread that
// commits: with better-sqlite3 that is the event loop, blocked about half a millisecond per group
// commit (thousands of times a second on the send path). With synchronous=NORMAL, a COMMIT
// appends its frames to the log with write() and returns; SQLite stays consistent after a power
// loss (recovery keeps the log's prefix of whole, checksummed commits) but may lose the newest
// commits. This closes that gap without the wait: `sync()` fsyncs the log file on libuv's thread
// pool, and every frame written before the call is on the disk when it resolves. Callers of a
// durable write are answered only then (write-batcher.ts), so "answered" still means "survives a
// power loss", while the event loop goes on with other work during the fsync.
//
// Group commit at the disk: one fsync at a time; calls made while one runs share the next one
// (it starts when the running one ends and covers everything committed before it starts).
// An fsync that fails is not retried: after a failed fsync the kernel may have dropped the dirty
// pages and a later fsync can succeed without having written them ("fsyncgate"), so every later
// call fails with the same error and no write is acknowledged again until the process restarts.

export class WalSync {
  private readonly fd: number;
  private running: Promise<void> | null = null;
  private next: Promise<void> | null = null;
  private failure: Error | null = null;
  private closed = false;
  /** fsyncs started (tests, metrics). */
  syncs = 0;

  /**
   * Opens the log of `databaseFile` (`<file>-wal`, which SQLite creates when it opens the file in
   * WAL mode), fsyncs it (whatever was committed before, e.g. migrations, is on the disk when this
   * returns) and its directory, so that the log's own directory entry is durable.
   */
  constructor(
    databaseFile: string,
    /** Told once, when an fsync first fails (the store then refuses every durable write). */
    private readonly onFailure?: (e: Error) => void,
  ) {
    this.fd = openSync(`${databaseFile}-wal`, 'r+');
    fsyncSync(this.fd);
    const dir = openSync(dirname(databaseFile), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  }

  /** Resolves once everything written to the log before this call is on the disk. */
  sync(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('the WAL sync is closed'));
    if (this.running === null) return this.start();
    // The running fsync may have started before the caller's commit: wait for the next one.
    this.next ??= this.running.then(
      () => this.startNext(),
      () => this.startNext(),
    );
    return this.next;
  }

  /** Waits for the fsyncs asked for, then closes the log's descriptor. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await (this.next ?? this.running)?.catch(() => undefined);
    closeSync(this.fd);
  }

  private startNext(): Promise<void> {
    this.next = null;
    this.running = null;
    if (this.failure) return Promise.reject(this.failure);
    return this.start();
  }

  private start(): Promise<void> {
    this.syncs++;
    const run = new Promise<void>((resolve, reject) => {
      fsync(this.fd, (e) => {
        if (e) {
          if (this.failure === null) {
            this.failure = e;
            this.onFailure?.(e);
          }
          reject(this.failure);
        } else {
          resolve();
        }
      });
    });
    this.running = run;
    const ended = (): void => {
      if (this.running === run) this.running = null;
    };
    run.then(ended, ended);
    return run;
  }
}
