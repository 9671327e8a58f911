import type { Session } from '../../domain/types.js';
import type { SessionRepo } from '../store.js';
import { AppError, notFound } from '../../errors.js';
import type { ClientSession } from 'mongodb';
import type { Collections, MongoContext } from './mongo-context.js';
import { toSession } from './mongo-documents.js';
import { rethrowDuplicate } from './mongo-errors.js';

export class MongoSessionRepo implements SessionRepo {
  constructor(private readonly m: MongoContext) {}

  create(s: Session): Promise<void> {
    return this.m.op(async () => {
      const { tokenHash, ...fields } = s;
      try {
        await this.m.c.sessions.insertOne({ _id: tokenHash, ...fields });
      } catch (e) {
        rethrowDuplicate(e, { _id: () => new AppError('conflict', 'The session already exists') });
      }
    });
  }

  get(tokenHash: string): Promise<Session | null> {
    return this.m.op(async () => {
      const doc = await this.m.c.sessions.findOne({ _id: tokenHash });
      return doc ? toSession(doc) : null;
    });
  }

  revoke(tokenHash: string, at: number): Promise<void> {
    return this.m.op(async () => {
      // A second revoke keeps the first time: that is when the session stopped working.
      const r = await this.m.c.sessions.updateOne({ _id: tokenHash, revokedAt: null }, { $set: { revokedAt: at } });
      if (r.matchedCount === 0 && (await this.m.c.sessions.countDocuments({ _id: tokenHash }, { limit: 1 })) === 0) {
        throw notFound('Session');
      }
    });
  }

  revokeAllForUser(userId: string, at: number): Promise<number> {
    return this.m.op(() => revokeLiveSessions(this.m.c, userId, at));
  }
}

/** Revokes every live session of the user; `session`: inside that transaction. */
export async function revokeLiveSessions(c: Collections, userId: string, at: number, session?: ClientSession): Promise<number> {
  const r = await c.sessions.updateMany(
    { userId, revokedAt: null, expiresAt: { $gt: at } },
    { $set: { revokedAt: at } },
    session === undefined ? {} : { session },
  );
  return r.modifiedCount;
}
