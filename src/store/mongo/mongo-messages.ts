import type { ClientSession } from 'mongodb';
import type { Conversation, Message, MessageStatus, MessageStatusEvent } from '../../domain/types.js';
import type { Fence, MessageRepo, NewIdempotencyRecord, NewInbound, NewOutbound } from '../store.js';
import { AppError, notFound } from '../../errors.js';
import {
  conversationAfterInbound,
  conversationAfterOutbound,
  messageAsRecorded,
  newConversationFor,
  staleLockToken,
} from '../adapter-rules.js';
import { indexedString, pageLimit, type MongoContext } from './mongo-context.js';
import {
  conversationChanges,
  fromConversation,
  fromMessage,
  toConversation,
  toHistory,
  toMessage,
  type HistoryEntry,
  type MessageDoc,
  ownerEpochIs,
} from './mongo-documents.js';
import { duplicateKeyOn, rethrowDuplicate } from './mongo-errors.js';
import type { MongoIdempotencyRepo } from './mongo-idempotency.js';
import type { MongoCampaignRecipients } from './mongo-campaigns.js';

type TransitionChange = Parameters<MessageRepo['transition']>[1];
type ProviderStatusChange = Parameters<MessageRepo['applyProviderStatus']>[1];

/** Messages are read without their history, which only `history()` returns. */
const WITHOUT_HISTORY = { projection: { history: 0 } } as const;

/**
 * Two transactions that both find no conversation for a pair both insert one; the loser fails on
 * the unique (accountId, contactId) index and, run again, finds the winner's. A bounded number of
 * rounds, because each lost round means another request committed that conversation.
 */
const PAIR_RACE_ROUNDS = 3;
const PAIR_INDEX = 'accountId,contactId';

export class MongoMessageRepo implements MessageRepo {
  constructor(
    private readonly m: MongoContext,
    private readonly idempotency: MongoIdempotencyRepo,
    private readonly recipients: MongoCampaignRecipients,
  ) {}

  recordInbound(input: NewInbound): Promise<{ message: Message; conversation: Conversation; duplicate: boolean }> {
    return this.m.op(async () => {
      const providerId = input.message.providerId;
      for (let round = 1; ; round++) {
        try {
          return await this.m.tx(async (session) => {
            const first = providerId === null ? null : await this.firstWithProviderId(providerId, session);
            if (first) return first;
            const [recorded] = await this.record([input], 'received', session);
            return { ...recorded!, duplicate: false };
          });
        } catch (e) {
          const key = duplicateKeyOn(e);
          // A concurrent delivery of the same provider id committed first: this one is the duplicate.
          if (key === 'providerId' && providerId !== null) {
            const first = await this.firstWithProviderId(providerId);
            if (first) return first;
          }
          if (key === PAIR_INDEX && round < PAIR_RACE_ROUNDS) continue;
          throw e;
        }
      }
    });
  }

  enqueueOutbound(
    items: NewOutbound[],
    fence?: Fence,
    idempotency?: NewIdempotencyRecord,
  ): Promise<Array<{ message: Message; conversation: Conversation }>> {
    return this.m.op(async () => {
      for (let round = 1; ; round++) {
        try {
          return await this.m.tx(async (session) => {
            if (fence) await this.checkFence(fence, session);
            if (idempotency) await this.idempotency.claim(idempotency, session);
            const recorded = await this.record(items, 'queued', session);
            await this.recipients.handOff(
              items.flatMap((item, i) => (item.campaignRecipient ? [{ recipient: item.campaignRecipient, message: recorded[i]!.message }] : [])),
              session,
            );
            // The same transaction: the record and the messages commit together or not at all.
            if (idempotency) await this.idempotency.insert(idempotency, idempotency.response(recorded), session);
            return recorded;
          });
        } catch (e) {
          if (duplicateKeyOn(e) === PAIR_INDEX && round < PAIR_RACE_ROUNDS) continue;
          throw e;
        }
      }
    });
  }

  get(id: string): Promise<Message | null> {
    return this.m.op(async () => {
      const doc = await this.m.c.messages.findOne({ _id: id }, WITHOUT_HISTORY);
      return doc ? toMessage(doc) : null;
    });
  }

  getByProviderId(providerId: string): Promise<Message | null> {
    return this.m.op(async () => {
      const doc = await this.m.c.messages.findOne({ providerId: indexedString(providerId) }, WITHOUT_HISTORY);
      return doc ? toMessage(doc) : null;
    });
  }

  listForConversation(conversationId: string, page: { limit: number; before?: string }): Promise<Message[]> {
    return this.m.op(async () => {
      const limit = pageLimit(page.limit);
      if (limit === null) return [];
      const docs = await this.m.c.messages
        .find(
          { conversationId, ...(page.before === undefined ? {} : { _id: { $lt: page.before } }) },
          WITHOUT_HISTORY,
        )
        .sort({ _id: -1 })
        .limit(limit)
        .toArray();
      return docs.map(toMessage).reverse();
    });
  }

  listByStatus(status: MessageStatus, filter: { fromNumber?: string; limit?: number } = {}): Promise<Message[]> {
    return this.m.op(async () => {
      const limit = filter.limit === undefined ? 0 : pageLimit(filter.limit);
      if (limit === null) return [];
      // `direction` makes the query match the partial index's filter, so the index is usable.
      const docs = await this.m.c.messages
        .find(
          {
            direction: 'outbound',
            status,
            ...(filter.fromNumber === undefined ? {} : { fromNumber: filter.fromNumber }),
          },
          WITHOUT_HISTORY,
        )
        .sort({ _id: 1 })
        .limit(limit)
        .toArray();
      return docs.map(toMessage);
    });
  }

  transition(id: string, change: TransitionChange, from?: MessageStatus[]): Promise<Message | null> {
    return this.m.op(async () => {
      const set: Partial<Omit<MessageDoc, '_id'>> = { status: change.status, updatedAt: change.at };
      if (change.providerId !== undefined) set.providerId = change.providerId;
      if (change.errorCode !== undefined) set.errorCode = change.errorCode;
      const entry: HistoryEntry = { status: change.status, at: change.at, errorCode: change.errorCode ?? null };
      let doc: MessageDoc | null;
      try {
        // The `from` condition is part of the filter: checked and applied in one atomic update.
        doc = await this.m.c.messages.findOneAndUpdate(
          { _id: id, ...(from === undefined ? {} : { status: { $in: from } }) },
          { $set: set, $push: { history: entry } },
          { returnDocument: 'after', ...WITHOUT_HISTORY },
        );
      } catch (e) {
        rethrowDuplicate(e, { providerId: () => providerIdTaken(change.providerId) });
      }
      if (doc) return this.followed(toMessage(doc));
      if (!(await this.exists({ _id: id }))) throw notFound('Message');
      return null;
    });
  }

  applyProviderStatus(providerId: string, change: ProviderStatusChange): Promise<Message | null> {
    return this.m.op(async () => {
      const entry: HistoryEntry = { status: change.status, at: change.at, errorCode: change.errorCode };
      const doc = await this.m.c.messages.findOneAndUpdate(
        { providerId: indexedString(providerId), statusSequence: { $lt: change.sequence } },
        {
          $set: {
            status: change.status,
            statusSequence: change.sequence,
            errorCode: change.errorCode,
            updatedAt: change.at,
          },
          $push: { history: entry },
        },
        { returnDocument: 'after', ...WITHOUT_HISTORY },
      );
      if (doc) return this.followed(toMessage(doc));
      // Unknown is an error, not null: the callback can beat our own record of the provider id,
      // and failing it makes the provider retry it later instead of losing it.
      if (!(await this.exists({ providerId: indexedString(providerId) }))) throw notFound('Message');
      return null;
    });
  }

  history(messageId: string): Promise<MessageStatusEvent[]> {
    return this.m.op(async () => {
      const doc = await this.m.c.messages.findOne({ _id: messageId }, { projection: { history: 1 } });
      return doc ? toHistory(messageId, doc.history) : [];
    });
  }

  markInterruptedSendsUnknown(at: number, filter: { fromNumber?: string } = {}): Promise<string[]> {
    return this.m.op(async () => {
      // One message per atomic update, oldest first, so each id returned is one this call changed.
      const ids: string[] = [];
      for (;;) {
        const doc = await this.m.c.messages.findOneAndUpdate(
          {
            direction: 'outbound',
            status: 'sending',
            providerId: null,
            ...(filter.fromNumber === undefined ? {} : { fromNumber: filter.fromNumber }),
          },
          { $set: { status: 'unknown', updatedAt: at }, $push: { history: { status: 'unknown', at, errorCode: null } } },
          { sort: { _id: 1 }, projection: { _id: 1 } },
        );
        if (!doc) return ids;
        await this.recipients.followMessage({ id: doc._id, direction: 'outbound', status: 'unknown', updatedAt: at });
        ids.push(doc._id);
      }
    });
  }

  /** A campaign recipient follows its message's new status (see MongoCampaignRecipients). */
  private async followed(message: Message): Promise<Message> {
    await this.recipients.followMessage(message);
    return message;
  }

  /**
   * Creates or updates the conversations and inserts the messages, inside the caller's transaction,
   * in three round trips however many items there are (a campaign is one call): read the existing
   * conversations, then write conversations and messages in bulk. Items apply in order, a later one
   * over the conversation an earlier one made or changed.
   */
  private async record(
    items: ReadonlyArray<NewInbound | NewOutbound>,
    status: 'received' | 'queued',
    session: ClientSession,
  ): Promise<Array<{ message: Message; conversation: Conversation }>> {
    if (items.length === 0) return [];
    const { conversations, messages } = this.m.c;
    const pairKey = (accountId: string, contactId: string): string => `${accountId}\n${contactId}`;
    const contactsByAccount = new Map<string, Set<string>>();
    for (const { message } of items) {
      const set = contactsByAccount.get(message.accountId) ?? new Set<string>();
      contactsByAccount.set(message.accountId, set.add(message.contactId));
    }
    const pairs = [...contactsByAccount].map(([accountId, contactIds]) => ({
      accountId,
      contactId: { $in: [...contactIds] },
    }));
    const found = await conversations.find({ $or: pairs }, { session }).toArray();

    const state = new Map<string, { conversation: Conversation; isNew: boolean }>(
      found.map((d) => [pairKey(d.accountId, d.contactId), { conversation: toConversation(d), isNew: false }]),
    );
    const results: Array<{ message: Message; conversation: Conversation }> = [];
    const docs: MessageDoc[] = [];
    for (const item of items) {
      const key = pairKey(item.message.accountId, item.message.contactId);
      const before = state.get(key);
      const base = before?.conversation ?? newConversationFor(item.conversation, item.message);
      const message = messageAsRecorded(item.message, base.id, status);
      const conversation =
        status === 'received' ? conversationAfterInbound(base, message) : conversationAfterOutbound(base, message);
      state.set(key, { conversation, isNew: before?.isNew ?? true });
      results.push({ message, conversation });
      docs.push(fromMessage(message, [{ status: message.status, at: message.createdAt, errorCode: message.errorCode }]));
    }

    // Read-modify-write is safe here: a concurrent change to one of these conversations makes one of
    // the two transactions fail with a write conflict, and the driver runs it again on fresh data.
    const conversationWrites = [...state.values()].map(({ conversation, isNew }) =>
      isNew
        ? { insertOne: { document: fromConversation(conversation) } }
        : { updateOne: { filter: { _id: conversation.id }, update: { $set: conversationChanges(conversation) } } },
    );
    if (conversationWrites.length > 0) await conversations.bulkWrite(conversationWrites, { session, ordered: true });
    if (docs.length > 0) {
      try {
        await messages.insertMany(docs, { session, ordered: true });
      } catch (e) {
        rethrowDuplicate(e, {
          _id: () => new AppError('conflict', 'A message with this id already exists'),
          // recordInbound turns this one into a duplicate answer; for an outbound it is a conflict.
          ...(status === 'queued' ? { providerId: () => providerIdTaken(undefined) } : {}),
        });
      }
    }
    return results;
  }

  /**
   * The fence as a conditional write, not a read: a read inside a snapshot transaction does not
   * conflict with a lock change committed meanwhile, a write does. MongoDB skips updates that change
   * nothing, so the counter makes it a real write.
   */
  private async checkFence(fence: Fence, session: ClientSession): Promise<void> {
    const r = await this.m.c.conversations.updateOne(
      { _id: fence.conversationId, lockToken: fence.lockToken, ...ownerEpochIs(fence.ownerEpoch) },
      { $inc: { fenceWrites: 1 } },
      { session },
    );
    if (r.matchedCount === 1) return;
    if (await this.exists({ _id: fence.conversationId }, 'conversations', session)) throw staleLockToken();
    throw notFound('Conversation');
  }

  private async firstWithProviderId(
    providerId: string,
    session?: ClientSession,
  ): Promise<{ message: Message; conversation: Conversation; duplicate: true } | null> {
    const doc = await this.m.c.messages.findOne(
      { providerId: indexedString(providerId) },
      { ...WITHOUT_HISTORY, ...(session ? { session } : {}) },
    );
    if (!doc) return null;
    const conversation = await this.m.c.conversations.findOne(
      { _id: doc.conversationId },
      session ? { session } : {},
    );
    if (!conversation) throw new AppError('internal', 'A recorded message has no conversation');
    return { message: toMessage(doc), conversation: toConversation(conversation), duplicate: true };
  }

  private async exists(
    filter: { _id: string } | { providerId: ReturnType<typeof indexedString> },
    collection: 'messages' | 'conversations' = 'messages',
    session?: ClientSession,
  ): Promise<boolean> {
    const options = { limit: 1, ...(session ? { session } : {}) };
    return collection === 'messages'
      ? (await this.m.c.messages.countDocuments(filter, options)) > 0
      : (await this.m.c.conversations.countDocuments(filter as { _id: string }, options)) > 0;
  }
}

const providerIdTaken = (providerId: string | undefined): AppError =>
  new AppError('conflict', `Another message already has the provider id ${providerId ?? ''}`);
