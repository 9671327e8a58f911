import type Database from 'better-sqlite3';
import type { NonceClaim, WebhookNonceRepo } from '../store.js';
import type { SqliteContext } from './sqlite-context.js';

// Expired records are pruned by the claims themselves: each one deletes at most PRUNE_PER_CLAIM of
// the oldest expired records in the same group commit. More leave than arrive, so the table holds
// about one retention window of claims, and no sweep ever deletes thousands of rows at once on the
// event loop (better-sqlite3 is synchronous).
const PRUNE_PER_CLAIM = 2;

interface Recorded {
  fingerprint: string;
  keepUntil: number;
}

export class SqliteWebhookNonceRepo implements WebhookNonceRepo {
  private readonly recorded: Database.Statement<[string], Recorded>;
  private readonly record: Database.Statement<[NonceClaim]>;
  private readonly prune: Database.Statement<[number, number]>;

  constructor(private readonly ctx: SqliteContext) {
    const { db } = ctx;
    this.recorded = db.prepare('SELECT fingerprint, keep_until AS keepUntil FROM webhook_nonces WHERE nonce = ?');
    this.record = db.prepare(
      `INSERT INTO webhook_nonces (nonce, fingerprint, seen_at, keep_until) VALUES (@nonce, @fingerprint, @seenAt, @keepUntil)
       ON CONFLICT (nonce) DO UPDATE SET fingerprint = excluded.fingerprint, seen_at = excluded.seen_at, keep_until = excluded.keep_until`,
    );
    this.prune = db.prepare(
      `DELETE FROM webhook_nonces WHERE nonce IN
         (SELECT nonce FROM webhook_nonces WHERE keep_until < ? ORDER BY keep_until LIMIT ?)`,
    );
  }

  claim(c: NonceClaim): Promise<boolean> {
    // Read and write in one op of the group commit: nothing else writes in between. A retry or a
    // replay writes nothing (however often a captured request is sent, it costs no disk write).
    return this.ctx.write(() => {
      const found = this.recorded.get(c.nonce);
      const live = found !== undefined && found.keepUntil >= c.seenAt;
      if (!live) this.record.run(c);
      this.prune.run(c.seenAt, PRUNE_PER_CLAIM);
      return live ? found.fingerprint === c.fingerprint : true;
    });
  }
}
