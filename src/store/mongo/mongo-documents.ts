import type { IdempotencyRecord, LockRecord } from '../store.js';
import type { Filter } from 'mongodb';
import type {
  Account,
  ApiKey,
  Campaign,
  CampaignCounts,
  CampaignRecipient,
  Contact,
  Conversation,
  Department,
  Message,
  MessageStatus,
  MessageStatusEvent,
  OptOut,
  Session,
  User,
} from '../../domain/types.js';

// How records are stored in MongoDB. Our ids are the documents' `_id`s (sortable strings, see
// src/ids.ts). Fields the interface never returns (lowercased keys, members, history) are stripped
// by the `to*` functions, which name every returned field so that nothing internal leaks out.

export interface DepartmentDoc extends Omit<Department, 'id'> {
  _id: string;
  /** `code` lowercased: case-insensitive uniqueness. */
  codeKey: string;
}

export interface UserDoc extends Omit<User, 'id'> {
  _id: string;
  emailKey: string;
}

export interface SessionDoc extends Omit<Session, 'tokenHash'> {
  _id: string;
}

export interface ApiKeyDoc extends Omit<ApiKey, 'id'> {
  _id: string;
}

export interface AccountDoc extends Omit<Account, 'id'> {
  _id: string;
  apiCodeKey: string | null;
  /** Sorted: one document holds the member set, so replacing it is one atomic update. */
  memberIds: string[];
}

/** One per number in any account: `_id` is the number, which makes a number belong to one account only. */
export interface NumberDoc {
  _id: string;
  accountId: string;
}

export interface ContactDoc extends Omit<Contact, 'id' | 'customFields' | 'tags'> {
  _id: string;
  /** Pairs rather than a sub-document: CSV headers may contain "." or start with "$". */
  customFields: Array<{ k: string; v: string }>;
  /** Normalised tags (a multikey index serves the tags filter); absent on contacts stored before tags existed. */
  tags?: string[];
}

export interface OptOutDoc extends OptOut {
  /** contactId + scope: one opt-out per scope, and `optedOut` is a lookup by `_id`. */
  _id: string;
}

export interface ConversationDoc extends Omit<Conversation, 'id'> {
  _id: string;
  /** Bumped by fenced writes so they conflict with a concurrent lock change (see mongo-messages.ts). */
  fenceWrites?: number;
  /** The lock's owner epoch (LockRepo.claimEpoch); absent until the first activation, which reads as 0. */
  ownerEpoch?: number;
}

/** A filter part matching a conversation or campaign whose owner epoch is `epoch` (absent counts as 0). */
export const ownerEpochIs = <T extends { ownerEpoch?: number }>(epoch: number): Filter<T> =>
  (epoch === 0 ? { $or: [{ ownerEpoch: 0 }, { ownerEpoch: { $exists: false } }] } : { ownerEpoch: epoch }) as Filter<T>;

export interface HistoryEntry {
  status: MessageStatus;
  at: number;
  errorCode: string | null;
}

export interface CampaignDoc extends Omit<Campaign, 'id' | 'kind'> {
  _id: string;
  /** The campaign's owner epoch (CampaignRepo.claimEpoch); absent until the first activation, which reads as 0. */
  ownerEpoch?: number;
  /** Bumped by fenced writes so they conflict with a concurrent claim (as ConversationDoc's). */
  fenceWrites?: number;
  /** Absent on campaigns stored before scheduled messages existed: 'campaign'. */
  kind?: Campaign['kind'];
}

export interface CampaignRecipientDoc extends CampaignRecipient {
  /** JSON [campaignId, phone]: one row per campaign and phone. */
  _id: string;
}

/**
 * A campaign's counts, `_id` its campaign's, moved by `$inc` in the transaction that changes its
 * recipients. Campaigns stored before counts were kept have none and are counted from their rows.
 */
export type CampaignCountsDoc = { _id: string } & Omit<CampaignCounts, 'skippedDuplicate'>;

export interface MessageDoc extends Omit<Message, 'id'> {
  _id: string;
  /** The status history lives in the message: appended by the same update that changes the status. */
  history: HistoryEntry[];
}

export const optOutId = (contactId: string, scope: string): string => `${contactId}|${scope}`;

export const toDepartment = (d: DepartmentDoc): Department => ({
  id: d._id,
  name: d.name,
  code: d.code,
  timeZone: d.timeZone,
  createdAt: d.createdAt,
});

export const toUser = (d: UserDoc): User => ({
  id: d._id,
  email: d.email,
  name: d.name,
  role: d.role,
  departmentIds: [...d.departmentIds],
  passwordHash: d.passwordHash,
  disabled: d.disabled,
  createdAt: d.createdAt,
});

export const toSession = (d: SessionDoc): Session => ({
  tokenHash: d._id,
  userId: d.userId,
  createdAt: d.createdAt,
  expiresAt: d.expiresAt,
  revokedAt: d.revokedAt ?? null,
});

export const toApiKey = (d: ApiKeyDoc): ApiKey => ({
  id: d._id,
  departmentId: d.departmentId,
  name: d.name,
  prefix: d.prefix,
  keyHash: d.keyHash,
  createdByUserId: d.createdByUserId,
  createdAt: d.createdAt,
  revokedAt: d.revokedAt ?? null,
});

export const toAccount = (d: AccountDoc): Account => ({
  id: d._id,
  kind: d.kind,
  name: d.name,
  apiCode: d.apiCode,
  departmentId: d.departmentId,
  ownerUserId: d.ownerUserId,
  color: d.color,
  forwardingNumber: d.forwardingNumber,
  numbers: [...d.numbers],
  createdAt: d.createdAt,
  updatedAt: d.updatedAt,
});

export const toContact = (d: ContactDoc): Contact => ({
  id: d._id,
  firstName: d.firstName,
  lastName: d.lastName,
  phone: d.phone,
  staffId: d.staffId ?? null,
  customFields: Object.fromEntries(d.customFields.map((f) => [f.k, f.v])),
  tags: [...(d.tags ?? [])],
  createdAt: d.createdAt,
  updatedAt: d.updatedAt,
});

export const customFieldPairs = (fields: Record<string, string>): ContactDoc['customFields'] => Object.entries(fields).map(([k, v]) => ({ k, v }));

export const fromContact = (c: Contact): ContactDoc => ({
  _id: c.id,
  firstName: c.firstName,
  lastName: c.lastName,
  phone: c.phone,
  staffId: c.staffId,
  customFields: customFieldPairs(c.customFields),
  tags: [...c.tags],
  createdAt: c.createdAt,
  updatedAt: c.updatedAt,
});

export const toOptOut = (d: OptOutDoc): OptOut => ({
  contactId: d.contactId,
  scope: d.scope,
  optedOutAt: d.optedOutAt,
  source: d.source,
});

export const toConversation = (d: ConversationDoc): Conversation => ({
  id: d._id,
  accountId: d.accountId,
  contactId: d.contactId,
  folder: d.folder,
  unread: d.unread,
  senderNumber: d.senderNumber,
  lastMessageAt: d.lastMessageAt,
  lastMessagePreview: d.lastMessagePreview,
  lastMessageDirection: d.lastMessageDirection,
  lockToken: d.lockToken,
  createdAt: d.createdAt,
  updatedAt: d.updatedAt,
});

export const fromConversation = (c: Conversation): ConversationDoc => {
  const { id, ...rest } = c;
  return { _id: id, ...rest };
};

/** The fields a message or conversation update may change (everything but identity and creation). */
export const conversationChanges = (c: Conversation) => ({
  folder: c.folder,
  unread: c.unread,
  senderNumber: c.senderNumber,
  lastMessageAt: c.lastMessageAt,
  lastMessagePreview: c.lastMessagePreview,
  lastMessageDirection: c.lastMessageDirection,
  updatedAt: c.updatedAt,
});

export const toMessage = (d: MessageDoc | Omit<MessageDoc, 'history'>): Message => ({
  id: d._id,
  conversationId: d.conversationId,
  accountId: d.accountId,
  contactId: d.contactId,
  direction: d.direction,
  text: d.text,
  encoding: d.encoding,
  segments: d.segments,
  status: d.status,
  fromNumber: d.fromNumber,
  toNumber: d.toNumber,
  sentByUserId: d.sentByUserId,
  sentByName: d.sentByName,
  providerId: d.providerId,
  statusSequence: d.statusSequence,
  errorCode: d.errorCode,
  quietHoursTimeZone: d.quietHoursTimeZone ?? null,
  createdAt: d.createdAt,
  updatedAt: d.updatedAt,
});

export const fromMessage = (m: Message, history: HistoryEntry[]): MessageDoc => {
  const { id, ...rest } = m;
  return { _id: id, ...rest, history };
};

export const toHistory = (messageId: string, entries: readonly HistoryEntry[]): MessageStatusEvent[] =>
  entries.map((e) => ({ messageId, status: e.status, at: e.at, errorCode: e.errorCode }));

/** A lock record keyed by its conversation id. */
export type LockDoc = Omit<LockRecord, 'conversationId'> & { _id: string };

/**
 * An idempotency record keyed by its (scope, key) pair. `expireAt` is `expiresAt` as a date, for
 * the TTL index that deletes expired records on its own (and for `prune`).
 */
export type IdempotencyDoc = IdempotencyRecord & { _id: string; expireAt: Date };

/** `_id` is the nonce (unique by construction); `keepUntil` is a Date so that a TTL index can expire it. */
export interface WebhookNonceDoc {
  _id: string;
  fingerprint: string;
  seenAt: number;
  keepUntil: Date;
}
