import type { ClientSession } from 'mongodb';
import type { IdempotencyRecord, IdempotencyRepo, NewIdempotencyRecord } from '../store.js';
import type { IdempotencyDoc } from './mongo-documents.js';
import type { MongoContext } from './mongo-context.js';
import { idempotencyKeyTaken } from '../adapter-rules.js';
import { rethrowDuplicate } from './mongo-errors.js';

/** One document per (scope, key); the JSON pair cannot collide whatever either part holds. */
const docId = (scope: string, key: string): string => JSON.stringify([scope, key]);

const toRecord = (d: IdempotencyDoc): IdempotencyRecord => ({
  scope: d.scope,
  key: d.key,
  fingerprint: d.fingerprint,
  status: d.status,
  body: d.body,
  createdAt: d.createdAt,
  expiresAt: d.expiresAt,
});

// Records are written only inside the transaction that records the request's messages
// (mongo-messages.ts calls `claim` before its writes and `insert` after them).
export class MongoIdempotencyRepo implements IdempotencyRepo {
  constructor(private readonly m: MongoContext) {}

  get(scope: string, key: string, now: number): Promise<IdempotencyRecord | null> {
    return this.m.op(async () => {
      const doc = await this.m.c.idempotency.findOne({ _id: docId(scope, key), expiresAt: { $gt: now } });
      return doc ? toRecord(doc) : null;
    });
  }

  prune(now: number, limit: number): Promise<number> {
    return this.m.op(async () => {
      const n = Math.max(0, Math.trunc(limit));
      if (n === 0) return 0;
      const expired = await this.m.c.idempotency
        .find({ expireAt: { $lte: new Date(now) } }, { projection: { _id: 1 } })
        .sort({ expireAt: 1 })
        .limit(n)
        .toArray();
      if (expired.length === 0) return 0;
      const r = await this.m.c.idempotency.deleteMany({ _id: { $in: expired.map((d) => d._id) }, expireAt: { $lte: new Date(now) } });
      return r.deletedCount;
    });
  }

  /** Inside the caller's transaction: refuses a key that has a live record, and clears an expired one. */
  async claim(record: NewIdempotencyRecord, session: ClientSession): Promise<void> {
    const _id = docId(record.scope, record.key);
    const found = await this.m.c.idempotency.findOne({ _id }, { session, projection: { expiresAt: 1 } });
    if (!found) return;
    if (found.expiresAt > record.createdAt) throw idempotencyKeyTaken();
    await this.m.c.idempotency.deleteOne({ _id }, { session });
  }

  /**
   * Inside the same transaction, after `claim`. Two transactions racing for one key conflict on
   * this insert: the driver runs the loser again, and its `claim` then finds the winner's record.
   */
  async insert(record: NewIdempotencyRecord, response: { status: number; body: string }, session: ClientSession): Promise<void> {
    const doc: IdempotencyDoc = {
      _id: docId(record.scope, record.key),
      scope: record.scope,
      key: record.key,
      fingerprint: record.fingerprint,
      status: response.status,
      body: response.body,
      createdAt: record.createdAt,
      expiresAt: record.expiresAt,
      expireAt: new Date(record.expiresAt),
    };
    try {
      await this.m.c.idempotency.insertOne(doc, { session });
    } catch (e) {
      rethrowDuplicate(e, { _id: idempotencyKeyTaken });
    }
  }
}
