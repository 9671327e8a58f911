// The domain's records, shared by the core, the store adapters and (as read models) the gateways.
// Times are epoch milliseconds; phone numbers are E.164 strings ("+16175550123").

export type Role = 'owner' | 'deptAdmin' | 'staff';

export interface Department {
  id: string;
  name: string;
  /** Short unique code used by API integrations, e.g. "ADM". */
  code: string;
  /** IANA zone for quiet hours. */
  timeZone: string;
  createdAt: number;
}

export interface User {
  id: string;
  email: string;
  name: string;
  role: Role;
  departmentIds: string[];
  passwordHash: string;
  disabled: boolean;
  createdAt: number;
}

export type AccountKind = 'personal' | 'group';

export interface Account {
  id: string;
  kind: AccountKind;
  name: string;
  /** Group accounts: URL-safe identifier unique in the organisation. Personal accounts: null. */
  apiCode: string | null;
  /** Group accounts: the owning department. Personal accounts: null. */
  departmentId: string | null;
  /** Personal accounts: the user it belongs to. Group accounts: null. */
  ownerUserId: string | null;
  color: string | null;
  forwardingNumber: string | null;
  /** The account's numbers: six for a group account, one for a personal account. */
  numbers: string[];
  createdAt: number;
  updatedAt: number;
}

export interface Contact {
  id: string;
  firstName: string;
  lastName: string;
  phone: string;
  /** The user assigned to this student (personal-account features only). */
  staffId: string | null;
  customFields: Record<string, string>;
  /** Normalised (contact-fields.ts normaliseTags): lowercase, each once, sorted. */
  tags: string[];
  createdAt: number;
  updatedAt: number;
}

/**
 * Where an opt-out applies: `personal` covers every personal account in the organisation; a group
 * account's opt-out is scoped to that account (`account:<id>`).
 */
export type OptOutScope = 'personal' | `account:${string}`;

export interface OptOut {
  contactId: string;
  scope: OptOutScope;
  optedOutAt: number;
  source: 'keyword' | 'manual' | 'provider';
}

export type Folder = 'inbox' | 'archived';

export interface Conversation {
  id: string;
  accountId: string;
  contactId: string;
  folder: Folder;
  unread: number;
  /** The pool number this contact texts with (sticky sender). */
  senderNumber: string | null;
  lastMessageAt: number | null;
  lastMessagePreview: string | null;
  lastMessageDirection: 'inbound' | 'outbound' | null;
  /**
   * The fencing token of the latest lock grant (0 = never locked). Written only by conditional
   * updates; a reply is committed only when it carries this exact token.
   */
  lockToken: number;
  createdAt: number;
  updatedAt: number;
}

export type MessageDirection = 'inbound' | 'outbound';

/**
 * Outbound lifecycle: queued (in our outbox; the commit point) → sending (handed to the provider,
 * not yet confirmed) → submitted (the provider accepted it) → sent → delivered | undelivered |
 * failed. `unknown`: we crashed between handing it over and recording the answer; a person decides.
 * `rejected`: the provider refused it synchronously. Inbound messages are `received`.
 */
export type MessageStatus =
  | 'queued'
  | 'sending'
  | 'submitted'
  | 'sent'
  | 'delivered'
  | 'undelivered'
  | 'failed'
  | 'rejected'
  | 'unknown'
  | 'received';

export type Encoding = 'GSM-7' | 'UCS-2';

export interface Message {
  id: string;
  conversationId: string;
  accountId: string;
  contactId: string;
  direction: MessageDirection;
  text: string;
  encoding: Encoding;
  segments: number;
  status: MessageStatus;
  fromNumber: string;
  toNumber: string;
  /** Outbound: who sent it (null for automatic replies such as opt-out confirmations). */
  sentByUserId: string | null;
  sentByName: string | null;
  /** Plivo's MessageUUID. */
  providerId: string | null;
  /** Highest status-callback Sequence applied (out-of-order callbacks are ignored). */
  statusSequence: number;
  errorCode: string | null;
  /**
   * Bulk outbound only: the department's IANA time zone. The send queue holds such a message
   * during quiet hours (22:00-06:00 there) and resumes at 06:00. Null: send whenever due.
   */
  quietHoursTimeZone: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface MessageStatusEvent {
  messageId: string;
  status: MessageStatus;
  at: number;
  errorCode: string | null;
}

export interface Session {
  tokenHash: string;
  userId: string;
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
}

export interface ApiKey {
  id: string;
  departmentId: string;
  name: string;
  /** The first characters of the key, shown so a person can tell keys apart. */
  prefix: string;
  keyHash: string;
  createdByUserId: string;
  createdAt: number;
  revokedAt: number | null;
}

/** Where a campaign's recipients come from; they are expanded in this order, in batches. */
export interface CampaignSource {
  /** As given: each is normalised to E.164 when expanded, and counted as invalid when it cannot be. */
  phones: string[];
  contactIds: string[];
  /** Contacts matching every condition, by id. */
  filter: ContactFilter | null;
}

/** A saved filter over contacts: every given condition must hold. */
export interface ContactFilter {
  /** Custom fields that must have exactly these values (names compare case-insensitively). */
  customFields?: Record<string, string>;
  /** Only the contacts assigned to this user ("my students"). */
  staffId?: string;
  /** Contacts carrying every one of these tags (normalised, at least one when present). */
  tags?: string[];
}

/** How far the expansion of a campaign's source has gone; `ordinal` numbers the inputs read so far. */
export interface ExpansionCursor {
  phase: 'phones' | 'contactIds' | 'filter' | 'done';
  /** Position within the phones or contactIds list. */
  offset: number;
  /** The filter phase's last contact id read. */
  afterContactId: string | null;
  ordinal: number;
}

export type CampaignStateName = 'draft' | 'scheduled' | 'sending' | 'paused' | 'completed' | 'cancelled';

/** `message`: a single message scheduled with POST /messages, run as a campaign of its `to`. */
export type CampaignKind = 'campaign' | 'message';

export interface Campaign {
  id: string;
  kind: CampaignKind;
  accountId: string;
  name: string;
  /** The template: merge fields fill per recipient when the text is handed to a number's queue. */
  text: string;
  /** The department's IANA time zone (quiet hours). */
  timeZone: string;
  state: CampaignStateName;
  pausedReason: 'person' | 'quietHours' | null;
  scheduledAt: number | null;
  sendAnyway: boolean;
  /** The campaign actor's persisted snapshot (JSON). */
  snapshot: string;
  source: CampaignSource;
  expansion: ExpansionCursor;
  /** Inputs that named a phone already in the campaign (they get no row of their own). */
  skippedDuplicate: number;
  createdByUserId: string | null;
  createdByName: string;
  createdAt: number;
  updatedAt: number;
}

/**
 * A recipient's status. `queued` until its text is handed over and while it waits in a number's
 * queue; then it follows its message (submitted and sent → `sent`, undelivered, failed and
 * rejected → `failed`, `unknown` when a crash hid whether it went out). Skipped ones never get a
 * message. A duplicate has no status of its own: it is the same phone as a recipient that has a
 * row, and is only counted (Campaign.skippedDuplicate).
 */
export type RecipientStatus =
  | 'queued'
  | 'sent'
  | 'delivered'
  | 'failed'
  | 'skipped_opted_out'
  | 'skipped_invalid'
  | 'unknown';

export interface CampaignRecipient {
  campaignId: string;
  /** E.164; for an invalid input, the input as given. */
  phone: string;
  /** Order of the campaign's inputs: recipients are sent in this order (per number). */
  seq: number;
  accountId: string;
  contactId: string | null;
  /** The pool number chosen for this recipient (sticky sender, area code, least busy). */
  senderNumber: string | null;
  status: RecipientStatus;
  messageId: string | null;
  handedAt: number | null;
  repliedAt: number | null;
  updatedAt: number;
}

export interface CampaignCounts {
  /** Recipients with a row (every distinct phone, invalid ones included). */
  total: number;
  queued: number;
  sent: number;
  delivered: number;
  failed: number;
  unknown: number;
  skippedOptedOut: number;
  skippedDuplicate: number;
  skippedInvalid: number;
  /** Recipients who replied after their campaign text. */
  replies: number;
}
