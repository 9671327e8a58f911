import { HELD_LOCK_STATES } from '../../../actors/conversation/index.js';
import type { Collections } from './mongo-context.js';
import { NAME_COLLATION } from './mongo-context.js';

// Created at start-up (createIndex is a no-op for an index that exists with the same options).
// The unique ones carry the store's rules: a number belongs to one account (numbers._id), codes,
// emails and apiCodes are unique case-insensitively (their lowercased *Key fields), an account has
// one conversation per contact, and a provider id belongs to one message (inbound dedupe).

const present = (field: string) => ({ [field]: { $type: 'string' } });

export async function ensureIndexes(c: Collections): Promise<void> {
  await Promise.all([
    c.departments.createIndex({ codeKey: 1 }, { unique: true }),
    c.departments.createIndex({ name: 1, _id: 1 }, { collation: NAME_COLLATION }),

    c.users.createIndex({ emailKey: 1 }, { unique: true }),
    c.users.createIndex({ name: 1, _id: 1 }, { collation: NAME_COLLATION }),
    c.users.createIndex({ departmentIds: 1 }),

    c.sessions.createIndex({ userId: 1 }),

    c.apiKeys.createIndex({ keyHash: 1 }, { unique: true }),
    c.apiKeys.createIndex({ departmentId: 1, createdAt: 1, _id: 1 }),

    c.accounts.createIndex({ apiCodeKey: 1 }, { unique: true, partialFilterExpression: present('apiCodeKey') }),
    c.accounts.createIndex({ ownerUserId: 1 }, { unique: true, partialFilterExpression: present('ownerUserId') }),
    c.accounts.createIndex({ numbers: 1 }),
    c.accounts.createIndex({ memberIds: 1 }),
    c.accounts.createIndex({ kind: 1, name: 1, _id: 1 }, { collation: NAME_COLLATION }),

    c.numbers.createIndex({ accountId: 1 }),

    c.contacts.createIndex({ phone: 1 }, { unique: true }),
    c.contacts.createIndex({ lastName: 1, firstName: 1, _id: 1 }, { collation: NAME_COLLATION }),
    c.contacts.createIndex({ staffId: 1, lastName: 1, firstName: 1, _id: 1 }, { collation: NAME_COLLATION }),
    // Multikey: the tags filter walks one tag's contacts in id order (scanByFilter).
    c.contacts.createIndex({ tags: 1, _id: 1 }),

    c.optOuts.createIndex({ contactId: 1, optedOutAt: 1, scope: 1 }),

    c.conversations.createIndex({ accountId: 1, contactId: 1 }, { unique: true }),
    c.conversations.createIndex({ accountId: 1, folder: 1, lastMessageAt: -1, _id: -1 }),
    // The live board: held locks of a department's accounts.
    c.locks.createIndex({ accountId: 1, _id: 1 }, { partialFilterExpression: { state: { $in: HELD_LOCK_STATES } } }),

    // Expired idempotency records go by themselves (the TTL monitor runs about once a minute;
    // reads ignore a record past expiresAt meanwhile), and prune() walks the same index.
    c.idempotency.createIndex({ expireAt: 1 }, { expireAfterSeconds: 0 }),

    c.messages.createIndex({ conversationId: 1, _id: 1 }),
    c.messages.createIndex({ providerId: 1 }, { unique: true, partialFilterExpression: present('providerId') }),
    c.messages.createIndex(
      { status: 1, fromNumber: 1, _id: 1 },
      { partialFilterExpression: { direction: 'outbound' } },
    ),

    // Webhook nonces are unique by `_id`; the server deletes each record once its keepUntil has
    // passed (TTL monitor, about once a minute), so nothing on our side sweeps them.
    c.webhookNonces.createIndex({ keepUntil: 1 }, { expireAfterSeconds: 0 }),

    c.campaigns.createIndex({ accountId: 1, _id: -1 }),
    c.campaigns.createIndex({ accountId: 1, kind: 1, _id: -1 }),
    c.campaigns.createIndex({ state: 1, _id: 1 }),
    // Recipients are unique by `_id` (campaign, phone). The first index serves the status filter
    // (and counts a campaign stored before counts were kept, from one range); the others serve the
    // hand-over per number, the pages by seq, a message's status change and a reply.
    c.campaignRecipients.createIndex({ campaignId: 1, status: 1, seq: 1 }),
    c.campaignRecipients.createIndex({ campaignId: 1, seq: 1 }),
    c.campaignRecipients.createIndex({ campaignId: 1, senderNumber: 1, seq: 1 }, { partialFilterExpression: { messageId: null, status: 'queued' } }),
    c.campaignRecipients.createIndex({ messageId: 1 }, { partialFilterExpression: present('messageId') }),
    c.campaignRecipients.createIndex({ accountId: 1, contactId: 1, handedAt: -1 }, { partialFilterExpression: present('messageId') }),
  ]);
}
