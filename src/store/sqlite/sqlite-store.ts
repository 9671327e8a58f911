import Database from 'better-sqlite3';
import type { Store } from '../store.js';
import { migrate } from './migrations.js';
import { ConversationTable } from './conversation-table.js';
import type { SqliteContext } from './sqlite-context.js';
import { toStoreError } from './sqlite-errors.js';
import { SqliteAccountRepo } from './sqlite-accounts.js';
import { SqliteApiKeyRepo } from './sqlite-api-keys.js';
import { SqliteContactRepo } from './sqlite-contacts.js';
import { SqliteConversationRepo } from './sqlite-conversations.js';
import { SqliteDepartmentRepo } from './sqlite-departments.js';
import { SqliteMessageRepo } from './sqlite-messages.js';
import { SqliteSessionRepo } from './sqlite-sessions.js';
import { SqliteUserRepo } from './sqlite-users.js';
import { SqliteLockRepo } from './sqlite-locks.js';
import { SqliteIdempotencyRepo } from './sqlite-idempotency.js';
import { SqliteWebhookNonceRepo } from './sqlite-webhook-nonces.js';
import { CampaignRecipientTable, SqliteCampaignRepo } from './sqlite-campaigns.js';
import { WalSync } from './wal-sync.js';
import { WriteBatcher } from './write-batcher.js';
import { WalCheckpointer, type CheckpointReport } from './wal-checkpointer.js';
import { preparePrivateDatabaseFile, type PermissionWarning } from './private-file.js';

export interface SqliteStoreOptions {
  /** The database file (private, 0600; its directory is created 0700 when missing), or ':memory:'. */
  file: string;
  /** Told when the file's directory is open to other users. */
  warn?: PermissionWarning;
  /** Told once when an fsync of the log fails: no durable write succeeds after it until a restart (wal-sync.ts). */
  onSyncFailure?: (message: string) => void;
  /** How long a write waits for another process's lock before failing (ms). */
  busyTimeoutMs?: number;
  /** Ops per group commit at most (see write-batcher.ts). */
  maxBatch?: number;
  /** Write-behind ops alone commit at most once per this many ms (default WRITE_BEHIND_SPACING_MS; see write-batcher.ts). */
  writeBehindSpacingMs?: number;
  /** Called after each group commit with its size and whether it was synced (metrics). */
  onCommit?: (ops: number, durable: boolean) => void;
  /** A file's WAL is checkpointed on a worker thread after this many commits (see wal-checkpointer.ts). */
  checkpointEveryCommits?: number;
  /** Told after each checkpoint on the worker (tests, benchmarks). */
  onCheckpoint?: (r: CheckpointReport) => void;
  /** Told when a checkpoint on the worker failed (the WAL then grows until one succeeds). */
  onCheckpointError?: (message: string) => void;
}

const MEMORY = ':memory:';

/**
 * How far the lock state saved behind may trail what clients were told while a node is busy: the
 * "last few milliseconds" a crash may lose (DESIGN.md), and a reply waits at most this long for
 * the lock state it was checked against to be committed before its own durable commit.
 */
export const WRITE_BEHIND_SPACING_MS = 5;

export async function createSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  if (options.file !== MEMORY) preparePrivateDatabaseFile(options.file, options.warn);
  const db = new Database(options.file);
  try {
    // WAL: readers never block the writer nor each other. NORMAL: a COMMIT never waits for the
    // disk on the event loop; a durable write is answered once an fsync of the log, run off the
    // event loop, has covered its commit (wal-sync.ts, write-batcher.ts), so it survives a power
    // loss, not just a process crash.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    // Every op of a group commit runs in its own SAVEPOINT (write-batcher.ts), so the first change
    // to each page in each op copies the page into the statement journal; on disk (the default)
    // that journal is a temporary file written with a system call a page once it passes 64 KiB,
    // which a batch of sixty sends does. In memory it stays a memory copy. What SQLite would
    // otherwise spill to temporary files (a sort, a GROUP BY) stays in memory too: what it sorts
    // is a page (LIMIT) of a large table or the whole of a small one (staff, departments,
    // accounts, a conversation's held locks), and the aggregates group a handful of keys.
    db.pragma('temp_store = MEMORY');
    db.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5_000)}`);
    migrate(db);
    let checkpointer: WalCheckpointer | null = null;
    let walSync: WalSync | null = null;
    if (options.file !== MEMORY) {
      const onSyncFailure = options.onSyncFailure;
      walSync = new WalSync(options.file, onSyncFailure && ((e) => onSyncFailure(e.message)));
      // Checkpoints (page copies and two fsyncs) go to a worker thread, off the event loop.
      db.pragma('wal_autocheckpoint = 0');
      checkpointer = new WalCheckpointer(options.file, {
        busyTimeoutMs: Math.trunc(options.busyTimeoutMs ?? 5_000),
        ...(options.onCheckpoint ? { onCheckpoint: options.onCheckpoint } : {}),
        ...(options.onCheckpointError ? { onError: options.onCheckpointError } : {}),
      });
    }
    return new SqliteStore(db, options, checkpointer, walSync);
  } catch (e) {
    db.close();
    throw toStoreError(e);
  }
}

class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly departments: SqliteDepartmentRepo;
  readonly users: SqliteUserRepo;
  readonly sessions: SqliteSessionRepo;
  readonly apiKeys: SqliteApiKeyRepo;
  readonly accounts: SqliteAccountRepo;
  readonly contacts: SqliteContactRepo;
  readonly conversations: SqliteConversationRepo;
  readonly messages: SqliteMessageRepo;
  readonly locks: SqliteLockRepo;
  readonly idempotency: SqliteIdempotencyRepo;
  readonly webhookNonces: SqliteWebhookNonceRepo;
  readonly campaigns: SqliteCampaignRepo;
  private readonly batcher: WriteBatcher;
  private readonly nothingStored: Database.Statement<[], number>;
  private closing: Promise<void> | null = null;

  constructor(
    private readonly db: Database.Database,
    options: SqliteStoreOptions,
    private readonly checkpointer: WalCheckpointer | null,
    private readonly walSync: WalSync | null,
  ) {
    const every = Math.max(1, options.checkpointEveryCommits ?? 100);
    let sinceCheckpoint = 0;
    this.batcher = new WriteBatcher(db, {
      mapError: toStoreError,
      ...(walSync ? { sync: () => walSync.sync() } : {}),
      ...(options.maxBatch === undefined ? {} : { maxBatch: options.maxBatch }),
      behindSpacingMs: options.writeBehindSpacingMs ?? WRITE_BEHIND_SPACING_MS,
      onCommit: (ops, durable) => {
        options.onCommit?.(ops, durable);
        if (checkpointer && ++sinceCheckpoint >= every) {
          sinceCheckpoint = 0;
          checkpointer.request();
        }
      },
    });
    const ctx: SqliteContext = {
      db,
      write: (op) => this.batcher.run(op),
      writeBehind: (op) => this.batcher.runBehind(op),
      read: (fn) => {
        try {
          return Promise.resolve(fn());
        } catch (e) {
          return Promise.reject(toStoreError(e));
        }
      },
    };
    const conversationTable = new ConversationTable(ctx);
    this.departments = new SqliteDepartmentRepo(ctx);
    this.sessions = new SqliteSessionRepo(ctx);
    this.users = new SqliteUserRepo(ctx, this.sessions);
    this.apiKeys = new SqliteApiKeyRepo(ctx);
    this.accounts = new SqliteAccountRepo(ctx);
    this.contacts = new SqliteContactRepo(ctx);
    this.conversations = new SqliteConversationRepo(ctx, conversationTable);
    this.idempotency = new SqliteIdempotencyRepo(ctx);
    const recipients = new CampaignRecipientTable(db);
    this.messages = new SqliteMessageRepo(ctx, conversationTable, this.idempotency, recipients);
    this.campaigns = new SqliteCampaignRepo(ctx, this.idempotency, recipients);
    this.locks = new SqliteLockRepo(ctx, conversationTable);
    this.webhookNonces = new SqliteWebhookNonceRepo(ctx);
    this.nothingStored = db
      .prepare<[], number>(
        `SELECT NOT EXISTS (SELECT 1 FROM departments) AND NOT EXISTS (SELECT 1 FROM users)
           AND NOT EXISTS (SELECT 1 FROM accounts) AND NOT EXISTS (SELECT 1 FROM contacts)`,
      )
      .pluck();
  }

  isEmpty(): Promise<boolean> {
    try {
      return Promise.resolve(this.nothingStored.get() === 1);
    } catch (e) {
      return Promise.reject(toStoreError(e));
    }
  }

  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    if (!this.db.open) return;
    // Pending writes commit first: their callers are waiting for a durable answer.
    this.batcher.close();
    await this.walSync?.close();
    await this.checkpointer?.close();
    this.db.close();
  }
}
