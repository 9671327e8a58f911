import { HELD_LOCK_STATES } from '../../../actors/conversation/index.js';
import type { LockRecord, LockRepo } from '../store.js';
import type { LockDoc } from './mongo-documents.js';
import type { MongoContext } from './mongo-context.js';
import { notFound } from '../../errors.js';

const toRecord = ({ _id, ...rest }: LockDoc): LockRecord => ({ conversationId: _id, ...rest });

export class MongoLockRepo implements LockRepo {
  constructor(private readonly m: MongoContext) {}

  save(record: LockRecord, expectedToken: number): Promise<boolean> {
    return this.m.op(() =>
      // The token compare-and-set and the snapshot commit together, or neither does.
      this.m.tx(async (session) => {
        const cas = await this.m.c.conversations.updateOne(
          { _id: record.conversationId, lockToken: expectedToken },
          { $set: { lockToken: Math.max(expectedToken, record.token) } },
          { session },
        );
        if (cas.matchedCount !== 1) {
          if ((await this.m.c.conversations.countDocuments({ _id: record.conversationId }, { limit: 1, session })) === 0) {
            throw notFound('Conversation');
          }
          return false;
        }
        const { conversationId, ...rest } = record;
        await this.m.c.locks.replaceOne({ _id: conversationId }, rest, { upsert: true, session });
        return true;
      }),
    );
  }

  get(conversationId: string): Promise<LockRecord | null> {
    return this.m.op(async () => {
      const doc = await this.m.c.locks.findOne({ _id: conversationId });
      return doc ? toRecord(doc) : null;
    });
  }

  listActive(accountIds: string[]): Promise<LockRecord[]> {
    return this.m.op(async () => {
      if (accountIds.length === 0) return [];
      const docs = await this.m.c.locks
        .find({ accountId: { $in: accountIds }, state: { $in: HELD_LOCK_STATES } })
        .sort({ _id: 1 })
        .toArray();
      return docs.map(toRecord);
    });
  }
}
