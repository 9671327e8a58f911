import type { Filter } from 'mongodb';
import type { Conversation, Folder } from '../../domain/types.js';
import type { ConversationRepo } from '../store.js';
import { notFound } from '../../errors.js';
import { assertLockTokenAdvances } from '../adapter-rules.js';
import { pageLimit, type MongoContext } from './mongo-context.js';
import { toConversation, type ConversationDoc } from './mongo-documents.js';

export class MongoConversationRepo implements ConversationRepo {
  constructor(private readonly m: MongoContext) {}

  get(id: string): Promise<Conversation | null> {
    return this.m.op(async () => {
      const doc = await this.m.c.conversations.findOne({ _id: id });
      return doc ? toConversation(doc) : null;
    });
  }

  getByPair(accountId: string, contactId: string): Promise<Conversation | null> {
    return this.m.op(async () => {
      const doc = await this.m.c.conversations.findOne({ accountId, contactId });
      return doc ? toConversation(doc) : null;
    });
  }

  list(
    accountId: string,
    folder: Folder,
    page: { limit: number; before?: { lastMessageAt: number; id: string } },
  ): Promise<Conversation[]> {
    return this.m.op(async () => {
      const limit = pageLimit(page.limit);
      if (limit === null) return [];
      const query: Filter<ConversationDoc> = { accountId, folder };
      if (page.before) {
        const { lastMessageAt, id } = page.before;
        query.$or = [{ lastMessageAt: { $lt: lastMessageAt } }, { lastMessageAt, _id: { $lt: id } }];
      }
      const docs = await this.m.c.conversations.find(query).sort({ lastMessageAt: -1, _id: -1 }).limit(limit).toArray();
      return docs.map(toConversation);
    });
  }

  setFolder(id: string, folder: Folder, at: number): Promise<Conversation> {
    return this.update(id, { folder, updatedAt: at });
  }

  markRead(id: string, at: number): Promise<Conversation> {
    return this.update(id, { unread: 0, updatedAt: at });
  }

  advanceLockToken(id: string, expected: number, next: number): Promise<boolean> {
    return this.m.op(async () => {
      assertLockTokenAdvances(expected, next);
      // The compare-and-set is the filter: one atomic single-document update.
      const r = await this.m.c.conversations.updateOne({ _id: id, lockToken: expected }, { $set: { lockToken: next } });
      if (r.matchedCount === 1) return true;
      if ((await this.m.c.conversations.countDocuments({ _id: id }, { limit: 1 })) === 0) throw notFound('Conversation');
      return false;
    });
  }

  private update(id: string, set: Partial<Omit<ConversationDoc, '_id'>>): Promise<Conversation> {
    return this.m.op(async () => {
      const doc = await this.m.c.conversations.findOneAndUpdate({ _id: id }, { $set: set }, { returnDocument: 'after' });
      if (!doc) throw notFound('Conversation');
      return toConversation(doc);
    });
  }
}
