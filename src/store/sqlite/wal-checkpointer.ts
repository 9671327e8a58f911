import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

// WAL checkpoints off the event loop. A checkpoint copies the log's pages into the database file
// and fsyncs both; run by SQLite's auto-checkpoint it happens inside whichever commit crosses
// 1,000 pages, on the event loop, so every few hundred write-behind commits (which otherwise never
// wait for the disk) one stalls every socket for milliseconds. Instead the store's connection has
// auto-checkpoint off, and a worker thread with its own connection to the same file runs PASSIVE
// checkpoints when asked: they never block the writer (SQLite lets it append to the log meanwhile)
// and the writer starts the log afresh once a checkpoint has caught up.

/** What the worker runs (CommonJS, given the path of better-sqlite3). */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlite);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = ' + workerData.busyTimeoutMs);
parentPort.on('message', (m) => {
  if (m === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ busy: r.busy, log: r.log, checkpointed: r.checkpointed });
  } catch (e) {
    parentPort.postMessage({ error: String(e && e.message || e) });
  }
});
`;

export interface CheckpointReport {
  /** 1 when another connection held a lock the checkpoint needed (it did what it could). */
  busy: number;
  /** Frames in the log, and how many of them are in the database file now. */
  log: number;
  checkpointed: number;
}

export interface WalCheckpointerOptions {
  busyTimeoutMs: number;
  /** Told after every checkpoint (tests, metrics), or of its failure. */
  onCheckpoint?: (r: CheckpointReport) => void;
  onError?: (message: string) => void;
}

export class WalCheckpointer {
  private readonly worker: Worker;
  /** A checkpoint was asked for and has not answered yet: asking again adds nothing. */
  private asked = false;
  private closed = false;

  constructor(file: string, private readonly o: WalCheckpointerOptions) {
    const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER, { eval: true, workerData: { file, sqlite, busyTimeoutMs: o.busyTimeoutMs } });
    // The worker must never keep the process alive on its own: the store's close ends it.
    this.worker.unref();
    this.worker.on('message', (m: CheckpointReport | { error: string }) => {
      this.asked = false;
      if ('error' in m) this.o.onError?.(m.error);
      else this.o.onCheckpoint?.(m);
    });
    this.worker.on('error', (e) => this.o.onError?.(e.message));
  }

  /** Asks for a checkpoint (one at a time; asking while one runs is a no-op). */
  request(): void {
    if (this.closed || this.asked) return;
    this.asked = true;
    this.worker.postMessage('checkpoint');
  }

  /** Closes the worker's connection (after a checkpoint under way) and ends it; the store's own close then checkpoints what is left. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage('close');
    await exited;
  }
}
