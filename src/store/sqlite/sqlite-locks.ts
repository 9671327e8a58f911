import type Database from 'better-sqlite3';
import type { LockOwnership, LockRecord, LockRepo } from '../store.js';
import { firstTokenOfEpoch } from '../adapter-rules.js';
import { notFound } from '../../errors.js';
import { jsonList, type SqliteContext } from './sqlite-context.js';
import type { ConversationTable } from './conversation-table.js';

interface Row {
  conversation_id: string;
  account_id: string;
  snapshot: string;
  token: number;
  owner_epoch: number;
  state: LockRecord['state'];
  holder_user_id: string | null;
  holder_name: string | null;
  since: number | null;
  release_at: number | null;
  updated_at: number;
}

const toRecord = (r: Row): LockRecord => ({
  conversationId: r.conversation_id,
  accountId: r.account_id,
  snapshot: r.snapshot,
  token: r.token,
  ownerEpoch: r.owner_epoch,
  state: r.state,
  holderUserId: r.holder_user_id,
  holderName: r.holder_name,
  since: r.since,
  releaseAt: r.release_at,
  updatedAt: r.updated_at,
});

export class SqliteLockRepo implements LockRepo {
  private readonly cas: Database.Statement<{ id: string; epoch: number; next: number }>;
  private readonly claim: Database.Statement<{ id: string; expected: number; epoch: number; first: number }>;
  private readonly exists: Database.Statement<[string], number>;
  private readonly upsert: Database.Statement<Row>;
  private readonly one: Database.Statement<[string], Row>;
  private readonly active: Database.Statement<[string], Row>;

  constructor(
    private readonly ctx: SqliteContext,
    private readonly conversations: ConversationTable,
  ) {
    const db = ctx.db;
    this.cas = db.prepare('UPDATE conversations SET lock_token = @next WHERE id = @id AND owner_epoch = @epoch AND lock_token <= @next');
    this.claim = db.prepare('UPDATE conversations SET owner_epoch = @epoch, lock_token = @first WHERE id = @id AND owner_epoch = @expected');
    this.exists = db.prepare<[string], number>('SELECT 1 FROM conversations WHERE id = ?').pluck();
    this.upsert = db.prepare(
      `INSERT INTO conversation_locks (conversation_id, account_id, snapshot, token, owner_epoch, state, holder_user_id, holder_name, since, release_at, updated_at)
       VALUES (@conversation_id, @account_id, @snapshot, @token, @owner_epoch, @state, @holder_user_id, @holder_name, @since, @release_at, @updated_at)
       ON CONFLICT (conversation_id) DO UPDATE SET account_id = excluded.account_id, snapshot = excluded.snapshot, token = excluded.token,
         owner_epoch = excluded.owner_epoch,
         state = excluded.state, holder_user_id = excluded.holder_user_id, holder_name = excluded.holder_name, since = excluded.since,
         release_at = excluded.release_at, updated_at = excluded.updated_at`,
    );
    this.one = db.prepare<[string], Row>('SELECT * FROM conversation_locks WHERE conversation_id = ?');
    this.active = db.prepare<[string], Row>(
      `SELECT * FROM conversation_locks WHERE state <> 'idle' AND account_id IN (SELECT value FROM json_each(?)) ORDER BY conversation_id`,
    );
  }

  ownership(conversationId: string): Promise<LockOwnership | null> {
    return this.ctx.read(() => this.conversations.ownership(conversationId) ?? null);
  }

  claimEpoch(conversationId: string, expectedEpoch: number): Promise<LockOwnership | null> {
    return this.ctx.write(() => {
      const now = this.conversations.ownership(conversationId);
      if (!now) throw notFound('Conversation');
      if (now.ownerEpoch !== expectedEpoch) return null;
      const claimed = { ownerEpoch: expectedEpoch + 1, lockToken: firstTokenOfEpoch(expectedEpoch + 1, now.lockToken) };
      // Read and written in one op of the writer: conditional all the same, as the statement says.
      const changes = this.claim.run({ id: conversationId, expected: expectedEpoch, epoch: claimed.ownerEpoch, first: claimed.lockToken }).changes;
      return changes === 1 ? claimed : null;
    });
  }

  // Write-behind (the owner told its clients already; a lost save is made harmless by the next
  // epoch), so it commits without an fsync of its own: see write-batcher.ts for why a reply
  // committed after it can never be durable without it.
  save(record: LockRecord): Promise<boolean> {
    return this.ctx.writeBehind(() => {
      if (this.cas.run({ id: record.conversationId, epoch: record.ownerEpoch, next: record.token }).changes !== 1) {
        if (this.exists.get(record.conversationId) === undefined) throw notFound('Conversation');
        return false;
      }
      this.upsert.run({
        conversation_id: record.conversationId,
        account_id: record.accountId,
        snapshot: record.snapshot,
        token: record.token,
        owner_epoch: record.ownerEpoch,
        state: record.state,
        holder_user_id: record.holderUserId,
        holder_name: record.holderName,
        since: record.since,
        release_at: record.releaseAt,
        updated_at: record.updatedAt,
      });
      return true;
    });
  }

  get(conversationId: string): Promise<LockRecord | null> {
    return this.ctx.read(() => {
      const row = this.one.get(conversationId);
      return row ? toRecord(row) : null;
    });
  }

  listActive(accountIds: string[]): Promise<LockRecord[]> {
    return this.ctx.read(() => (accountIds.length === 0 ? [] : this.active.all(jsonList(accountIds)).map(toRecord)));
  }
}
