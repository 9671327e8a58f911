import type Database from 'better-sqlite3';
import type { IdempotencyRecord, IdempotencyRepo, NewIdempotencyRecord } from '../store.js';
import { idempotencyKeyTaken } from '../adapter-rules.js';
import type { SqliteContext } from './sqlite-context.js';

interface Row {
  scope: string;
  key: string;
  fingerprint: string;
  status: number;
  body: string;
  created_at: number;
  expires_at: number;
}

const toRecord = (r: Row): IdempotencyRecord => ({
  scope: r.scope,
  key: r.key,
  fingerprint: r.fingerprint,
  status: r.status,
  body: r.body,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

// Records are written only inside the op that records the request's messages (sqlite-messages.ts
// calls `claim` before its writes and `insert` after them), so both commit or neither does.
export class SqliteIdempotencyRepo implements IdempotencyRepo {
  private readonly one: Database.Statement<{ scope: string; key: string }, Row>;
  private readonly live: Database.Statement<{ scope: string; key: string; now: number }, Row>;
  private readonly remove: Database.Statement<{ scope: string; key: string }>;
  private readonly insertRow: Database.Statement<Row>;
  private readonly expired: Database.Statement<{ now: number; limit: number }>;

  constructor(private readonly ctx: SqliteContext) {
    const { db } = ctx;
    this.one = db.prepare('SELECT * FROM idempotency_records WHERE scope = @scope AND key = @key');
    this.live = db.prepare('SELECT * FROM idempotency_records WHERE scope = @scope AND key = @key AND expires_at > @now');
    this.remove = db.prepare('DELETE FROM idempotency_records WHERE scope = @scope AND key = @key');
    this.insertRow = db.prepare(
      `INSERT INTO idempotency_records (scope, key, fingerprint, status, body, created_at, expires_at)
       VALUES (@scope, @key, @fingerprint, @status, @body, @created_at, @expires_at)`,
    );
    this.expired = db.prepare(
      `DELETE FROM idempotency_records WHERE rowid IN
         (SELECT rowid FROM idempotency_records WHERE expires_at <= @now ORDER BY expires_at LIMIT @limit)`,
    );
  }

  get(scope: string, key: string, now: number): Promise<IdempotencyRecord | null> {
    return this.ctx.read(() => {
      const row = this.live.get({ scope, key, now });
      return row ? toRecord(row) : null;
    });
  }

  prune(now: number, limit: number): Promise<number> {
    return this.ctx.write(() => this.expired.run({ now, limit: Math.max(0, Math.trunc(limit)) }).changes);
  }

  /** Inside a write op: refuses a key that has a live record, and clears an expired one. */
  claim(record: NewIdempotencyRecord): void {
    const found = this.one.get({ scope: record.scope, key: record.key });
    if (!found) return;
    if (found.expires_at > record.createdAt) throw idempotencyKeyTaken();
    this.remove.run({ scope: record.scope, key: record.key });
  }

  /** Inside the same write op, after `claim`. */
  insert(record: NewIdempotencyRecord, response: { status: number; body: string }): void {
    this.insertRow.run({
      scope: record.scope,
      key: record.key,
      fingerprint: record.fingerprint,
      status: response.status,
      body: response.body,
      created_at: record.createdAt,
      expires_at: record.expiresAt,
    });
  }
}
