import type Database from 'better-sqlite3';
import type { NonceClaim, WebhookNonceRepo } from '../store.js';
import type { SqliteContext } from './sqlite-context.js';

// Expired records are pruned by the claims themselves: each one deletes at most PRUNE_PER_CLAIM of
// the oldest expired records in the same group commit. More leave than arrive, so the table holds
// about one retention window of claims, and no sweep ever deletes thousands of rows at once on the
// event loop (better-sqlite3 is synchronous).
const PRUNE_PER_CLAIM = 2;

export class SqliteWebhookNonceRepo implements WebhookNonceRepo {
  private readonly upsert: Database.Statement<[NonceClaim]>;
  private readonly prune: Database.Statement<[number, number]>;

  constructor(private readonly ctx: SqliteContext) {
    const { db } = ctx;
    // One statement decides: new (insert), a retry or an expired record (update), or a replay (no change).
    this.upsert = db.prepare(
      `INSERT INTO webhook_nonces (nonce, fingerprint, seen_at, keep_until) VALUES (@nonce, @fingerprint, @seenAt, @keepUntil)
       ON CONFLICT (nonce) DO UPDATE SET fingerprint = excluded.fingerprint, seen_at = excluded.seen_at, keep_until = excluded.keep_until
       WHERE webhook_nonces.fingerprint = excluded.fingerprint OR webhook_nonces.keep_until < excluded.seen_at`,
    );
    this.prune = db.prepare(
      `DELETE FROM webhook_nonces WHERE nonce IN
         (SELECT nonce FROM webhook_nonces WHERE keep_until < ? ORDER BY keep_until LIMIT ?)`,
    );
  }

  claim(c: NonceClaim): Promise<boolean> {
    return this.ctx.write(() => {
      const claimed = this.upsert.run(c).changes === 1;
      this.prune.run(c.seenAt, PRUNE_PER_CLAIM);
      return claimed;
    });
  }
}
