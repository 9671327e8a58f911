import { HELD_LOCK_STATES } from '../../../actors/conversation/index.js';
import { LOCK_TOKEN_EPOCH_SPAN, type LockOwnership, type LockRecord, type LockRepo } from '../store.js';
import { ownerEpochIs, type LockDoc } from './mongo-documents.js';
import type { MongoContext } from './mongo-context.js';
import { notFound } from '../../errors.js';

const toRecord = ({ _id, ...rest }: LockDoc): LockRecord => ({ conversationId: _id, ...rest });

export class MongoLockRepo implements LockRepo {
  constructor(private readonly m: MongoContext) {}

  ownership(conversationId: string): Promise<LockOwnership | null> {
    return this.m.op(async () => {
      const doc = await this.m.c.conversations.findOne({ _id: conversationId }, { projection: { ownerEpoch: 1, lockToken: 1 } });
      return doc ? { ownerEpoch: doc.ownerEpoch ?? 0, lockToken: doc.lockToken } : null;
    });
  }

  claimEpoch(conversationId: string, expectedEpoch: number): Promise<LockOwnership | null> {
    const ownerEpoch = expectedEpoch + 1;
    return this.m.op(async () => {
      // One conditional update (the pipeline computes the first token from the stored one), so two
      // activations claiming at once cannot both succeed.
      const doc = await this.m.c.conversations.findOneAndUpdate(
        { _id: conversationId, ...ownerEpochIs(expectedEpoch) },
        [{ $set: { ownerEpoch, lockToken: { $max: [ownerEpoch * LOCK_TOKEN_EPOCH_SPAN, { $add: ['$lockToken', 1] }] } } }],
        { returnDocument: 'after', projection: { ownerEpoch: 1, lockToken: 1 } },
      );
      if (doc) return { ownerEpoch, lockToken: doc.lockToken };
      if ((await this.m.c.conversations.countDocuments({ _id: conversationId }, { limit: 1 })) === 0) throw notFound('Conversation');
      return null;
    });
  }

  save(record: LockRecord): Promise<boolean> {
    return this.m.op(() =>
      // The fenced token write and the snapshot commit together, or neither does.
      this.m.tx(async (session) => {
        const cas = await this.m.c.conversations.updateOne(
          { _id: record.conversationId, ...ownerEpochIs(record.ownerEpoch), lockToken: { $lte: record.token } },
          { $set: { lockToken: record.token } },
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
