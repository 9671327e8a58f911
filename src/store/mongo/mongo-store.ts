import { MongoClient, type MongoClientOptions } from 'mongodb';
import type { Store } from '../store.js';
import { AppError } from '../../errors.js';
import { collections, transactionRunner, type Collections, type MongoContext } from './mongo-context.js';
import { toStoreError } from './mongo-errors.js';
import { ensureIndexes } from './mongo-indexes.js';
import { MongoAccountRepo } from './mongo-accounts.js';
import { MongoApiKeyRepo } from './mongo-api-keys.js';
import { MongoContactRepo } from './mongo-contacts.js';
import { MongoConversationRepo } from './mongo-conversations.js';
import { MongoDepartmentRepo } from './mongo-departments.js';
import { MongoMessageRepo } from './mongo-messages.js';
import { MongoSessionRepo } from './mongo-sessions.js';
import { MongoUserRepo } from './mongo-users.js';
import { MongoLockRepo } from './mongo-locks.js';
import { MongoIdempotencyRepo } from './mongo-idempotency.js';
import { MongoWebhookNonceRepo } from './mongo-webhook-nonces.js';
import { MongoCampaignRecipients, MongoCampaignRepo } from './mongo-campaigns.js';

export interface MongoStoreOptions {
  /** A replica set (transactions need one), e.g. mongodb://db1,db2,db3/switchboard?replicaSet=rs0. */
  uri: string;
  /** Default: the database named in the URI, else "switchboard". */
  dbName?: string;
  /** Extra driver options (tests, TLS); the write concern is always majority and journaled. */
  clientOptions?: MongoClientOptions;
}

const DEFAULT_DB = 'switchboard';

export async function createMongoStore(options: MongoStoreOptions): Promise<Store> {
  const client = new MongoClient(options.uri, {
    ...options.clientOptions,
    // "Resolved" must mean durable: acknowledged by a majority, on disk, so a failover keeps it.
    writeConcern: { w: 'majority', journal: true },
    readPreference: 'primary',
    retryWrites: true,
  });
  try {
    await client.connect();
    const c = collections(client.db(options.dbName ?? dbNameFromUri(options.uri) ?? DEFAULT_DB));
    await ensureIndexes(c);
    return new MongoStore(client, c);
  } catch (e) {
    await client.close().catch(() => undefined);
    throw toStoreError(e);
  }
}

/** The database path of a mongodb:// or mongodb+srv:// URI, if it names one. */
function dbNameFromUri(uri: string): string | null {
  const name = /^mongodb(?:\+srv)?:\/\/[^/]+\/([^?]+)/.exec(uri)?.[1];
  return name ? decodeURIComponent(name) : null;
}

class MongoStore implements Store {
  readonly kind = 'mongo' as const;
  readonly departments: MongoDepartmentRepo;
  readonly users: MongoUserRepo;
  readonly sessions: MongoSessionRepo;
  readonly apiKeys: MongoApiKeyRepo;
  readonly accounts: MongoAccountRepo;
  readonly contacts: MongoContactRepo;
  readonly conversations: MongoConversationRepo;
  readonly messages: MongoMessageRepo;
  readonly locks: MongoLockRepo;
  readonly idempotency: MongoIdempotencyRepo;
  readonly webhookNonces: MongoWebhookNonceRepo;
  readonly campaigns: MongoCampaignRepo;
  private readonly inFlight = new Set<Promise<unknown>>();
  private closing: Promise<void> | null = null;

  constructor(
    private readonly client: MongoClient,
    private readonly c: Collections,
  ) {
    const ctx: MongoContext = { c, op: (fn) => this.op(fn), tx: transactionRunner(client) };
    this.departments = new MongoDepartmentRepo(ctx);
    this.users = new MongoUserRepo(ctx);
    this.sessions = new MongoSessionRepo(ctx);
    this.apiKeys = new MongoApiKeyRepo(ctx);
    this.accounts = new MongoAccountRepo(ctx);
    this.contacts = new MongoContactRepo(ctx);
    this.conversations = new MongoConversationRepo(ctx);
    this.idempotency = new MongoIdempotencyRepo(ctx);
    this.messages = new MongoMessageRepo(ctx, this.idempotency, new MongoCampaignRecipients(ctx));
    this.campaigns = new MongoCampaignRepo(ctx, this.idempotency);
    this.locks = new MongoLockRepo(ctx);
    this.webhookNonces = new MongoWebhookNonceRepo(ctx);
  }

  isEmpty(): Promise<boolean> {
    return this.op(async () => {
      const { departments, users, accounts, contacts } = this.c;
      const counts = await Promise.all(
        [departments, users, accounts, contacts].map((col) => col.countDocuments({}, { limit: 1 })),
      );
      return counts.every((n) => n === 0);
    });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      // Operations already started finish first: their callers are waiting for a durable answer.
      await Promise.allSettled([...this.inFlight]);
      await this.client.close();
    })();
    return this.closing;
  }

  private op<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closing) return Promise.reject(new AppError('internal', 'The store is closed'));
    const run = fn().catch((e: unknown) => {
      throw toStoreError(e);
    });
    this.inFlight.add(run);
    const forget = (): void => {
      this.inFlight.delete(run);
    };
    run.then(forget, forget);
    return run;
  }
}
