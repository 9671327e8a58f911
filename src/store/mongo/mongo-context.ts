import type { ClientSession, Collection, CollationOptions, Db, MongoClient, TransactionOptions } from 'mongodb';
import type {
  AccountDoc,
  ApiKeyDoc,
  CampaignCountsDoc,
  CampaignDoc,
  CampaignRecipientDoc,
  ContactDoc,
  ConversationDoc,
  DepartmentDoc,
  IdempotencyDoc,
  LockDoc,
  MessageDoc,
  NumberDoc,
  OptOutDoc,
  SessionDoc,
  UserDoc,
  WebhookNonceDoc,
} from './mongo-documents.js';

export interface Collections {
  departments: Collection<DepartmentDoc>;
  users: Collection<UserDoc>;
  sessions: Collection<SessionDoc>;
  apiKeys: Collection<ApiKeyDoc>;
  accounts: Collection<AccountDoc>;
  numbers: Collection<NumberDoc>;
  contacts: Collection<ContactDoc>;
  optOuts: Collection<OptOutDoc>;
  conversations: Collection<ConversationDoc>;
  messages: Collection<MessageDoc>;
  locks: Collection<LockDoc>;
  idempotency: Collection<IdempotencyDoc>;
  webhookNonces: Collection<WebhookNonceDoc>;
  campaigns: Collection<CampaignDoc>;
  campaignRecipients: Collection<CampaignRecipientDoc>;
  campaignCounts: Collection<CampaignCountsDoc>;
}

export function collections(db: Db): Collections {
  return {
    departments: db.collection<DepartmentDoc>('departments'),
    users: db.collection<UserDoc>('users'),
    sessions: db.collection<SessionDoc>('sessions'),
    apiKeys: db.collection<ApiKeyDoc>('apiKeys'),
    accounts: db.collection<AccountDoc>('accounts'),
    numbers: db.collection<NumberDoc>('numbers'),
    contacts: db.collection<ContactDoc>('contacts'),
    optOuts: db.collection<OptOutDoc>('optOuts'),
    conversations: db.collection<ConversationDoc>('conversations'),
    messages: db.collection<MessageDoc>('messages'),
    locks: db.collection<LockDoc>('conversationLocks'),
    idempotency: db.collection<IdempotencyDoc>('idempotencyRecords'),
    webhookNonces: db.collection<WebhookNonceDoc>('webhookNonces'),
    campaigns: db.collection<CampaignDoc>('campaigns'),
    campaignRecipients: db.collection<CampaignRecipientDoc>('campaignRecipients'),
    campaignCounts: db.collection<CampaignCountsDoc>('campaignCounts'),
  };
}

/**
 * Name orderings ignore case (strength 2: case-insensitive, accent-sensitive), like SQLite's NOCASE
 * for ASCII. A query uses an index only with the collation the index was built with, so the indexes
 * that serve these sorts are built with it too (mongo-indexes.ts). Equality filters on ids in those
 * queries are compared under it as well, which is harmless: ids are upper-case (src/ids.ts).
 */
export const NAME_COLLATION: CollationOptions = { locale: 'en', strength: 2 };

// Snapshot reads and majority commits: a transaction sees one consistent state, and once it has
// committed, a failover cannot roll it back.
const TRANSACTION: TransactionOptions = {
  readConcern: { level: 'snapshot' },
  writeConcern: { w: 'majority', journal: true },
  readPreference: 'primary',
};

/** What every MongoDB repository gets. */
export interface MongoContext {
  readonly c: Collections;
  /** Runs one store operation: maps driver errors to AppErrors and lets close() wait for it. */
  op<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * Runs `fn` in a transaction, retried by the driver on transient errors (write conflicts), so
   * `fn` may run more than once: it must compute its result from what it reads, nothing else.
   */
  tx<T>(fn: (session: ClientSession) => Promise<T>): Promise<T>;
}

export function transactionRunner(client: MongoClient): MongoContext['tx'] {
  return async (fn) => {
    const session = client.startSession();
    try {
      return await session.withTransaction(fn, TRANSACTION);
    } finally {
      await session.endSession();
    }
  };
}

/**
 * Equality on a field indexed by a partial index `{ field: { $type: 'string' } }` (unique only where
 * set). The planner uses a partial index only for queries that imply its filter, so say it.
 */
export const indexedString = (value: string) => ({ $eq: value, $type: 'string' as const });

/** A page size as MongoDB's limit, where 0 would mean "no limit". */
export const pageLimit = (limit: number): number | null => {
  const n = Math.max(0, Math.trunc(limit));
  return n === 0 ? null : n;
};
