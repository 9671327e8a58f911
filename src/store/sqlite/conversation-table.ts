import type Database from 'better-sqlite3';
import type { Conversation, Folder } from '../../domain/types.js';
import type { LockOwnership } from '../store.js';
import { AppError } from '../../errors.js';
import type { SqliteContext } from './sqlite-context.js';
import { rethrowUnique } from './sqlite-errors.js';

// Synchronous access to the conversations table, shared by the conversation repository and the
// message repository (recording a message creates or updates its conversation in the same op).

const COLUMNS = `id, account_id AS accountId, contact_id AS contactId, folder, unread, sender_number AS senderNumber,
  last_message_at AS lastMessageAt, last_message_preview AS lastMessagePreview,
  last_message_direction AS lastMessageDirection, lock_token AS lockToken, created_at AS createdAt,
  updated_at AS updatedAt`;

export interface ConversationPageParams {
  accountId: string;
  folder: Folder;
  limit: number;
  beforeAt?: number;
  beforeId?: string;
}

export class ConversationTable {
  private readonly insertRow: Database.Statement<[Conversation]>;
  private readonly saveRow: Database.Statement<[Conversation]>;
  private readonly casLockToken: Database.Statement<[{ id: string; expected: number; next: number }]>;
  private readonly byId: Database.Statement<[string], Conversation>;
  private readonly ownershipOf: Database.Statement<[string], LockOwnership>;
  private readonly byPair: Database.Statement<[string, string], Conversation>;
  private readonly firstPage: Database.Statement<[ConversationPageParams], Conversation>;
  private readonly nextPage: Database.Statement<[ConversationPageParams], Conversation>;

  constructor(ctx: SqliteContext) {
    const { db } = ctx;
    this.insertRow = db.prepare(
      `INSERT INTO conversations (id, account_id, contact_id, folder, unread, sender_number, last_message_at,
         last_message_preview, last_message_direction, lock_token, created_at, updated_at)
       VALUES (@id, @accountId, @contactId, @folder, @unread, @senderNumber, @lastMessageAt,
         @lastMessagePreview, @lastMessageDirection, @lockToken, @createdAt, @updatedAt)`,
    );
    // lock_token is left out on purpose: only the compare-and-set below may change it.
    this.saveRow = db.prepare(
      `UPDATE conversations SET folder = @folder, unread = @unread, sender_number = @senderNumber,
         last_message_at = @lastMessageAt, last_message_preview = @lastMessagePreview,
         last_message_direction = @lastMessageDirection, updated_at = @updatedAt
       WHERE id = @id`,
    );
    this.casLockToken = db.prepare('UPDATE conversations SET lock_token = @next WHERE id = @id AND lock_token = @expected');
    this.byId = db.prepare(`SELECT ${COLUMNS} FROM conversations WHERE id = ?`);
    this.ownershipOf = db.prepare<[string], LockOwnership>('SELECT owner_epoch AS ownerEpoch, lock_token AS lockToken FROM conversations WHERE id = ?');
    this.byPair = db.prepare(`SELECT ${COLUMNS} FROM conversations WHERE account_id = ? AND contact_id = ?`);
    // Both pages are one range scan of conversations_by_folder (the row-value comparison is a range).
    this.firstPage = db.prepare(
      `SELECT ${COLUMNS} FROM conversations WHERE account_id = @accountId AND folder = @folder
       ORDER BY last_message_at DESC, id DESC LIMIT @limit`,
    );
    this.nextPage = db.prepare(
      `SELECT ${COLUMNS} FROM conversations WHERE account_id = @accountId AND folder = @folder
         AND (last_message_at, id) < (@beforeAt, @beforeId)
       ORDER BY last_message_at DESC, id DESC LIMIT @limit`,
    );
  }

  get(id: string): Conversation | null {
    return this.byId.get(id) ?? null;
  }

  /** The lock's owner epoch and token (what fenced writes are checked against). */
  ownership(id: string): LockOwnership | null {
    return this.ownershipOf.get(id) ?? null;
  }

  getByPair(accountId: string, contactId: string): Conversation | null {
    return this.byPair.get(accountId, contactId) ?? null;
  }

  insert(c: Conversation): void {
    try {
      this.insertRow.run(c);
    } catch (e) {
      rethrowUnique(e, { 'conversations.id': () => new AppError('conflict', 'The conversation already exists') });
    }
  }

  save(c: Conversation): void {
    this.saveRow.run(c);
  }

  advanceLockToken(id: string, expected: number, next: number): boolean {
    return this.casLockToken.run({ id, expected, next }).changes === 1;
  }

  page(params: ConversationPageParams): Conversation[] {
    return params.beforeId === undefined ? this.firstPage.all(params) : this.nextPage.all(params);
  }
}
