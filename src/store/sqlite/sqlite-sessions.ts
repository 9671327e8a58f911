import type Database from 'better-sqlite3';
import type { Session } from '../../domain/types.js';
import type { SessionRepo } from '../store.js';
import { AppError, notFound } from '../../errors.js';
import type { SqliteContext } from './sqlite-context.js';
import { rethrowUnique } from './sqlite-errors.js';

const COLUMNS =
  'token_hash AS tokenHash, user_id AS userId, created_at AS createdAt, expires_at AS expiresAt, revoked_at AS revokedAt';

export class SqliteSessionRepo implements SessionRepo {
  private readonly insert: Database.Statement<[Session]>;
  private readonly byHash: Database.Statement<[string], Session>;
  private readonly revokeOne: Database.Statement<[number, string]>;
  private readonly revokeLive: Database.Statement<[number, string, number]>;

  constructor(private readonly ctx: SqliteContext) {
    const { db } = ctx;
    this.insert = db.prepare(
      `INSERT INTO sessions (token_hash, user_id, created_at, expires_at, revoked_at)
       VALUES (@tokenHash, @userId, @createdAt, @expiresAt, @revokedAt)`,
    );
    this.byHash = db.prepare(`SELECT ${COLUMNS} FROM sessions WHERE token_hash = ?`);
    // A second revoke keeps the first time: that is when the session stopped working.
    this.revokeOne = db.prepare('UPDATE sessions SET revoked_at = coalesce(revoked_at, ?) WHERE token_hash = ?');
    this.revokeLive = db.prepare(
      'UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?',
    );
  }

  create(s: Session): Promise<void> {
    return this.ctx.write(() => {
      try {
        this.insert.run(s);
      } catch (e) {
        rethrowUnique(e, { 'sessions.token_hash': () => new AppError('conflict', 'The session already exists') });
      }
    });
  }

  get(tokenHash: string): Promise<Session | null> {
    return this.ctx.read(() => this.byHash.get(tokenHash) ?? null);
  }

  revoke(tokenHash: string, at: number): Promise<void> {
    return this.ctx.write(() => {
      if (this.revokeOne.run(at, tokenHash).changes === 0) throw notFound('Session');
    });
  }

  revokeAllForUser(userId: string, at: number): Promise<number> {
    return this.ctx.write(() => this.revokeAllNow(userId, at));
  }

  /** The same, as part of a write op already running (another repository's). */
  revokeAllNow(userId: string, at: number): number {
    return this.revokeLive.run(at, userId, at).changes;
  }
}
