import type { LockState } from '../../actors/conversation/index.js';
import type {
  Account,
  ApiKey,
  Campaign,
  CampaignCounts,
  CampaignKind,
  CampaignRecipient,
  ContactFilter,
  ExpansionCursor,
  RecipientStatus,
  Contact,
  Conversation,
  Department,
  Folder,
  Message,
  MessageStatus,
  MessageStatusEvent,
  OptOut,
  OptOutScope,
  Session,
  User,
} from '../domain/types.js';

// The Store port. Every implementation (sqlite, mongo) passes test/contract/store.contract.ts.
// Conventions shared by all implementations:
// - Ids are made by the caller (src/ids.ts) so that records can be referenced before they commit.
// - A uniqueness violation is reported as an AppError with the documented code, never as a driver
//   error; "not found" on reads is `null`, on writes an AppError('not_found'). The one other error
//   is StaleOwnerEpoch: a fenced write of an activation that a newer one replaced.
// - Every method resolves only once its write is durable.
// - Lists are ordered as documented and bounded by `limit`.

export interface DepartmentRepo {
  /** Conflict: 'department_code_taken' (codes compare case-insensitively). */
  create(d: Department): Promise<Department>;
  get(id: string): Promise<Department | null>;
  getByCode(code: string): Promise<Department | null>;
  /** Ordered by name. */
  list(): Promise<Department[]>;
}

export interface UserRepo {
  /** Conflict: 'email_taken' (emails compare case-insensitively). */
  create(u: User): Promise<User>;
  get(id: string): Promise<User | null>;
  getByEmail(email: string): Promise<User | null>;
  /** Ordered by name. With `departmentId`, only users in that department. */
  list(filter?: { departmentId?: string }): Promise<User[]>;
  /**
   * Changes the user and what follows from the change, in one atomic write:
   * - unless the user is an owner afterwards, they stop being a member of every group account of
   *   a department they are not in (members are people of the account's department);
   *   `leftAccountIds` names those accounts, ordered by id;
   * - with `endSessionsAt`, every live session of the user is revoked at that time (a new
   *   password or a disabled user must not leave an old session working, even after a crash).
   * Conflict: 'email_taken'. Not found: 'not_found'.
   */
  update(
    id: string,
    patch: Partial<Pick<User, 'email' | 'name' | 'role' | 'departmentIds' | 'passwordHash' | 'disabled'>>,
    options?: { endSessionsAt?: number },
  ): Promise<UserUpdate>;
}

export interface UserUpdate {
  user: User;
  leftAccountIds: string[];
}

export interface SessionRepo {
  create(s: Session): Promise<void>;
  get(tokenHash: string): Promise<Session | null>;
  revoke(tokenHash: string, at: number): Promise<void>;
  /** Revokes every live session of the user; resolves with how many were revoked. */
  revokeAllForUser(userId: string, at: number): Promise<number>;
}

export interface ApiKeyRepo {
  create(k: ApiKey): Promise<ApiKey>;
  getByHash(keyHash: string): Promise<ApiKey | null>;
  /** Ordered by createdAt. */
  listForDepartment(departmentId: string): Promise<ApiKey[]>;
  revoke(id: string, at: number): Promise<void>;
}

export interface AccountRepo {
  /**
   * Creates the account with its numbers and members in one atomic write.
   * Conflicts: 'number_taken' when any number belongs to another account (message names it),
   * 'api_code_taken' when the apiCode is used (case-insensitively).
   */
  create(a: Account, memberIds: string[]): Promise<Account>;
  get(id: string): Promise<Account | null>;
  getByApiCode(apiCode: string): Promise<Account | null>;
  getPersonal(userId: string): Promise<Account | null>;
  /** The account that owns this number, if any. */
  getByNumber(number: string): Promise<Account | null>;
  /** Group accounts, ordered by name; filtered by department and/or membership. */
  listGroup(filter?: { departmentId?: string; memberId?: string }): Promise<Account[]>;
  /**
   * Updates fields and, when `numbers` is given, replaces the pool (same conflicts as create).
   * Not found: 'not_found'.
   */
  update(
    id: string,
    patch: Partial<Pick<Account, 'name' | 'apiCode' | 'color' | 'forwardingNumber' | 'numbers'>>,
    at: number,
  ): Promise<Account>;
  /** Removes the account, its numbers and memberships (conversations and messages stay). */
  delete(id: string): Promise<void>;
  listMembers(accountId: string): Promise<string[]>;
  /** Replaces the member set; resolves with the ids that were removed. */
  setMembers(accountId: string, userIds: string[]): Promise<{ added: string[]; removed: string[] }>;
  isMember(accountId: string, userId: string): Promise<boolean>;
  /** Which of these numbers already belong to an account. */
  numbersInUse(numbers: string[]): Promise<string[]>;
}

export interface ContactImportRow {
  phone: string;
  firstName: string;
  lastName: string;
  /** undefined: leave the assignment as it is; null: clear it; a string: assign. */
  staffId: string | null | undefined;
  customFields: Record<string, string>;
  /** undefined: leave the tags as they are; a list (normalised, maybe empty): the contact's tags. */
  tags: string[] | undefined;
}

/** What an update may change on a contact (tags normalised). */
export type ContactPatch = Partial<Pick<Contact, 'firstName' | 'lastName' | 'staffId' | 'customFields' | 'tags'>>;

export interface ContactRepo {
  /** Conflict: 'conflict' when the phone is taken. */
  create(c: Contact): Promise<Contact>;
  get(id: string): Promise<Contact | null>;
  getByPhone(phone: string): Promise<Contact | null>;
  /** Finds the contact by phone or creates `fallback` atomically (concurrent callers get one contact). */
  getOrCreateByPhone(fallback: Contact): Promise<Contact>;
  getMany(ids: string[]): Promise<Contact[]>;
  /** Ordered by lastName, firstName, id; `staffId` filters on assignment; `search` matches name or phone. */
  list(filter: { staffId?: string; search?: string; limit: number; offset?: number }): Promise<Contact[]>;
  /**
   * Upserts by phone in one atomic write. Custom fields merge (a row's fields overwrite same-named
   * ones); names overwrite when non-empty; staffId and tags per ContactImportRow. `newId` makes ids for new rows.
   */
  importRows(rows: ContactImportRow[], at: number, newId: () => string): Promise<{ created: number; updated: number }>;
  /** Changes the given fields (customFields and tags replace the contact's), atomically. Not found: 'not_found'. */
  update(id: string, patch: ContactPatch, at: number): Promise<Contact>;
  setOptOut(o: OptOut): Promise<void>;
  clearOptOut(contactId: string, scope: OptOutScope): Promise<void>;
  listOptOuts(contactId: string): Promise<OptOut[]>;
  /** Of these contacts, the ones opted out in `scope`. */
  optedOut(contactIds: string[], scope: OptOutScope): Promise<Set<string>>;
  /**
   * Reads up to `limit` contacts with ids after `afterId` (of the staff member, with `staffId`;
   * carrying the filter's first tag, with `tags`: an index range either way, never the whole
   * table), by id, and resolves those that match the filter (matchesContactFilter) and the last id
   * read: the next page's `afterId`, null once there are no more.
   */
  scanByFilter(page: ContactFilterPage): Promise<{ matches: Contact[]; last: string | null }>;
}

export interface NewInbound {
  message: Message;
  /** Used only when the conversation does not exist yet. */
  conversation: Conversation;
}

export interface NewOutbound {
  message: Message;
  /** Used only when the conversation does not exist yet (its folder is the new conversation's folder). */
  conversation: Conversation;
  /**
   * A campaign's text: the same write records the message on this recipient (messageId,
   * handedAt), whose status then follows the message's. The recipient must still be `queued`
   * without a message, else the whole write is refused ('conflict'): a text is handed over once.
   * And the campaign's owner epoch must still be the hand-over's, else the whole write is refused
   * (StaleOwnerEpoch): an activation that a newer one replaced queues nothing.
   */
  campaignRecipient?: CampaignHandOff;
}

/**
 * A campaign recipient handed over with its message, by the campaign's activation of
 * `ownerEpoch`: the write is refused (StaleOwnerEpoch) when a newer activation owns the campaign.
 */
export interface CampaignHandOff {
  campaignId: string;
  phone: string;
  ownerEpoch: number;
}

/**
 * A write of an actor's state by an activation that a newer one replaced (CampaignRepo.claimEpoch):
 * nothing was written. Never a client's error: the activation stops, and whatever it was doing
 * goes on where the actor is owned now.
 */
export class StaleOwnerEpoch extends Error {
  override name = 'StaleOwnerEpoch';
}

/**
 * The lock's fencing condition: the write happens only if the conversation's owner epoch and
 * lockToken both equal these (the owner that checked the token is still the owner, and the lock
 * has not moved on since).
 */
export interface Fence {
  conversationId: string;
  ownerEpoch: number;
  lockToken: number;
}

export interface ConversationRepo {
  get(id: string): Promise<Conversation | null>;
  getByPair(accountId: string, contactId: string): Promise<Conversation | null>;
  /** Newest activity first (lastMessageAt desc, id desc); `before` is a cursor of (lastMessageAt, id). */
  list(
    accountId: string,
    folder: Folder,
    page: { limit: number; before?: { lastMessageAt: number; id: string } },
  ): Promise<Conversation[]>;
  setFolder(id: string, folder: Folder, at: number): Promise<Conversation>;
  markRead(id: string, at: number): Promise<Conversation>;
  /**
   * Conditional write: moves lockToken from `expected` to `next` (next > expected) and resolves
   * true, or changes nothing and resolves false when the stored token is not `expected`.
   */
  advanceLockToken(id: string, expected: number, next: number): Promise<boolean>;
}

export interface MessageRepo {
  /**
   * Records an inbound message, deduplicated by providerId: a second call with the same providerId
   * changes nothing and resolves `duplicate: true` with the first message. Otherwise, atomically:
   * creates the conversation when missing, inserts the message, moves the conversation to the inbox,
   * increments unread, sets lastMessage*, and sets senderNumber when it is null.
   */
  recordInbound(input: NewInbound): Promise<{ message: Message; conversation: Conversation; duplicate: boolean }>;
  /**
   * Records outbound messages (status 'queued') atomically: creates missing conversations, sets
   * lastMessage* and senderNumber when null; the folder of an existing conversation is unchanged.
   * With `fence`, the whole write happens only if that conversation's owner epoch and lockToken
   * match, else it rejects with AppError('stale_lock_token').
   * With `idempotency`, its record is written in the same atomic write, its response made from what
   * was recorded; when a live record (not expired at its createdAt) of the same scope and key exists,
   * nothing is written and it rejects with AppError('idempotency_key_in_flight'). An expired one is
   * replaced.
   */
  enqueueOutbound(
    items: NewOutbound[],
    fence?: Fence,
    idempotency?: NewIdempotencyRecord,
  ): Promise<Array<{ message: Message; conversation: Conversation }>>;
  get(id: string): Promise<Message | null>;
  getByProviderId(providerId: string): Promise<Message | null>;
  /** The newest `limit` messages older than the message id `before` (all when absent), returned oldest first. */
  listForConversation(conversationId: string, page: { limit: number; before?: string }): Promise<Message[]>;
  /** Outbound messages in `status`, oldest first, optionally for one sender number. */
  listByStatus(status: MessageStatus, filter?: { fromNumber?: string; limit?: number }): Promise<Message[]>;
  /**
   * Moves a message along its lifecycle and appends to its status history.
   * `from`: apply only if the current status is one of these (resolves null otherwise).
   */
  transition(
    id: string,
    change: { status: MessageStatus; providerId?: string; errorCode?: string | null; at: number },
    from?: MessageStatus[],
  ): Promise<Message | null>;
  /**
   * A provider status callback: applies only when `sequence` is greater than the stored
   * statusSequence (out-of-order and repeated callbacks resolve null).
   */
  applyProviderStatus(
    providerId: string,
    change: { status: MessageStatus; sequence: number; errorCode: string | null; at: number },
  ): Promise<Message | null>;
  history(messageId: string): Promise<MessageStatusEvent[]>;
  /**
   * Crash recovery: every 'sending' message without providerId becomes 'unknown' (only those sent
   * from `filter.fromNumber` when given: a cluster node recovers the numbers it owns). Resolves their ids.
   */
  markInterruptedSendsUnknown(at: number, filter?: { fromNumber?: string }): Promise<string[]>;
}

/**
 * What a request carrying an Idempotency-Key produced, kept so that a retry gets the same answer
 * instead of sending again. One record per (scope, key).
 */
export interface IdempotencyRecord {
  /** Whose key it is (`user:<id>` or `apiKey:<id>`): one caller never meets another's records. */
  scope: string;
  key: string;
  /** A hash of what the request asked for; the same key with another request is refused. */
  fingerprint: string;
  /** The answer given: a status and its JSON body. */
  status: number;
  body: string;
  createdAt: number;
  /** After this the record is as good as absent, and deleted by `prune`. */
  expiresAt: number;
}

/** A record to write with the messages of its request; `response` is made inside that write. */
export interface NewIdempotencyRecord extends Omit<IdempotencyRecord, 'status' | 'body'> {
  response(recorded: ReadonlyArray<{ message: Message; conversation: Conversation }>): { status: number; body: string };
}

export interface IdempotencyRepo {
  /** The record of (scope, key), or null when there is none or it has expired at `now`. */
  get(scope: string, key: string, now: number): Promise<IdempotencyRecord | null>;
  /** Deletes up to `limit` records expired at `now`; resolves how many it deleted. */
  prune(now: number, limit: number): Promise<number>;
}

/** The persisted state of a conversation's lock actor, with the fields the live board reads. */
export interface LockRecord {
  conversationId: string;
  accountId: string;
  /** The actor's persisted snapshot (JSON), restored when the actor is activated again. */
  snapshot: string;
  /** The actor's current fencing token; equals the conversation's lockToken once saved. */
  token: number;
  /** The owner epoch of the activation that wrote it (see LockRepo.claimEpoch). */
  ownerEpoch: number;
  state: LockState;
  holderUserId: string | null;
  holderName: string | null;
  since: number | null;
  releaseAt: number | null;
  updatedAt: number;
}

/** Who may write a conversation's lock state: the activation of this epoch, from this token on. */
export interface LockOwnership {
  ownerEpoch: number;
  lockToken: number;
}

/**
 * Lock tokens are (owner epoch, counter) as one number: epoch × LOCK_TOKEN_EPOCH_SPAN + counter.
 * Every activation starts above every token an older one could have handed out, even tokens it
 * never saved.
 */
export const LOCK_TOKEN_EPOCH_SPAN = 2 ** 24;

export interface LockRepo {
  /** The conversation's owner epoch and lockToken; null when it does not exist. */
  ownership(conversationId: string): Promise<LockOwnership | null>;
  /**
   * A new activation's claim, durable when it resolves: when the conversation's owner epoch is
   * `expectedEpoch`, sets it to expectedEpoch + 1 and the lockToken to the first token of that
   * epoch (max(epoch × LOCK_TOKEN_EPOCH_SPAN, lockToken + 1)) and resolves the new ownership;
   * null when another activation claimed first. 'not_found' when the conversation does not exist.
   */
  claimEpoch(conversationId: string, expectedEpoch: number): Promise<LockOwnership | null>;
  /**
   * One atomic, conditional write: when the conversation's owner epoch is `record.ownerEpoch` and
   * its lockToken is not above `record.token`, moves the lockToken to `record.token` and upserts
   * the record, resolving true; otherwise changes nothing and resolves false (a newer activation
   * owns the lock, or the write is older than one already saved).
   * 'not_found' when the conversation does not exist.
   * Write-behind: it need not be durable when it resolves (the owner told its clients already, and
   * a lost save is made harmless by the next epoch), but it is never lost while a durable write
   * committed after it (a claim, a fenced reply) survives.
   */
  save(record: LockRecord): Promise<boolean>;
  get(conversationId: string): Promise<LockRecord | null>;
  /** The records of these accounts whose state is not idle, by conversation id. */
  listActive(accountIds: string[]): Promise<LockRecord[]>;
}

/** A webhook signature nonce, bound to the request it first came with. */
export interface NonceClaim {
  nonce: string;
  /** A digest of what the request carried (method, URL, form): a genuine retry carries the same. */
  fingerprint: string;
  seenAt: number;
  /** The record is kept at least until then; a claim after it starts afresh. */
  keepUntil: number;
}

export interface WebhookNonceRepo {
  /**
   * Atomically records the nonce for this request, or finds it recorded. Resolves true when the
   * nonce is new or its record is past keepUntil (then replaced), or was recorded for the same
   * fingerprint (a retry); false when it is recorded for another request (a replay). A retry or
   * a replay changes nothing. Records past keepUntil may vanish at any time.
   */
  claim(c: NonceClaim): Promise<boolean>;
}

/** A recipient as expansion writes it. */
export type NewRecipient = Pick<CampaignRecipient, 'phone' | 'seq' | 'contactId' | 'senderNumber'> & {
  status: Extract<RecipientStatus, 'queued' | 'skipped_opted_out' | 'skipped_invalid'>;
};

export interface CampaignRepo {
  /** With `idempotency`, its record is written in the same atomic write (as enqueueOutbound does). */
  create(c: Campaign, idempotency?: NewIdempotencyRecord): Promise<Campaign>;
  get(id: string): Promise<Campaign | null>;
  /** Newest first (id desc); `before` is an id cursor; `kind` keeps one kind only. */
  list(accountId: string, page: { limit: number; before?: string; kind?: CampaignKind }): Promise<Campaign[]>;
  /** Campaigns neither completed nor cancelled, by id (start-up recovery). */
  listUnfinished(): Promise<Campaign[]>;
  /** The campaign's owner epoch (0 before its first activation); null when it does not exist. */
  ownerEpoch(id: string): Promise<number | null>;
  /**
   * A new activation's claim, durable when it resolves, as LockRepo.claimEpoch: when the
   * campaign's owner epoch is `expectedEpoch`, sets it to expectedEpoch + 1 and resolves that;
   * null when another activation claimed first. 'not_found' when the campaign does not exist.
   * Every write of the campaign's state below names the epoch it is made under and is refused
   * with StaleOwnerEpoch once a newer one was claimed.
   */
  claimEpoch(id: string, expectedEpoch: number): Promise<number | null>;
  /** Records the actor's new state. Not found: 'not_found'; a newer owner epoch: StaleOwnerEpoch. */
  saveState(id: string, change: Pick<Campaign, 'state' | 'pausedReason' | 'snapshot'> & { at: number }, ownerEpoch: number): Promise<Campaign>;
  /**
   * One expansion batch, atomically and only when the stored cursor still equals `from` (else
   * nothing is written and it resolves null, so a batch re-run after a crash inserts nothing
   * twice): inserts the rows, a phone already in the campaign (in an earlier batch or earlier in
   * this one) is not inserted and counts as a duplicate, and moves the cursor to `to`.
   * A newer owner epoch than `ownerEpoch`: nothing is written, StaleOwnerEpoch.
   */
  addRecipients(
    campaignId: string,
    from: ExpansionCursor,
    to: ExpansionCursor,
    rows: NewRecipient[],
    at: number,
    ownerEpoch: number,
  ): Promise<{ inserted: number; duplicates: number } | null>;
  /**
   * Kept as the recipients change, in the same write that changes them, so a read costs the same
   * whatever the campaign's size; the duplicates are the expansion's counter.
   */
  counts(campaignId: string): Promise<CampaignCounts>;
  /** `queued` recipients not yet handed over, of one sender number, in seq order. */
  nextToHandOff(campaignId: string, senderNumber: string, limit: number): Promise<CampaignRecipient[]>;
  /**
   * Marks recipients not yet handed over as skipped (e.g. opted out since the expansion).
   * A newer owner epoch than `ownerEpoch`: nothing is written, StaleOwnerEpoch.
   */
  skip(
    campaignId: string,
    phones: string[],
    status: Extract<RecipientStatus, 'skipped_opted_out' | 'skipped_invalid'>,
    at: number,
    ownerEpoch: number,
  ): Promise<void>;
  /** By seq; `after` is a seq cursor. */
  listRecipients(campaignId: string, filter: { status?: RecipientStatus; limit: number; after?: number }): Promise<CampaignRecipient[]>;
  /**
   * An inbound text from `contactId` to `accountId` at `at`: the latest campaign recipient of that
   * pair handed over at or before `at` counts it as a reply (once). Resolves its campaign id, or
   * null when there is none or it was counted already.
   */
  recordReply(accountId: string, contactId: string, at: number): Promise<string | null>;
}

/** Contacts matching a filter, a page at a time by id (for a campaign's saved filter). */
export interface ContactFilterPage {
  filter: ContactFilter;
  afterId: string | null;
  limit: number;
}

export interface Store {
  readonly kind: 'sqlite' | 'mongo';
  readonly departments: DepartmentRepo;
  readonly users: UserRepo;
  readonly sessions: SessionRepo;
  readonly apiKeys: ApiKeyRepo;
  readonly accounts: AccountRepo;
  readonly contacts: ContactRepo;
  readonly conversations: ConversationRepo;
  readonly messages: MessageRepo;
  readonly locks: LockRepo;
  readonly idempotency: IdempotencyRepo;
  readonly webhookNonces: WebhookNonceRepo;
  readonly campaigns: CampaignRepo;
  /** True when nothing has been stored yet (the demo seed runs only then). */
  isEmpty(): Promise<boolean>;
  close(): Promise<void>;
}
