import type { CampaignCounts, Contact, ContactFilter, Conversation, Message, MessageStatus, RecipientStatus } from '../domain/types.js';
import { LOCK_TOKEN_EPOCH_SPAN, type ContactImportRow, type ContactPatch } from './store.js';
import { AppError } from '../errors.js';

// Rules of the Store port that both adapters (sqlite, mongo) must apply identically. They live
// here, as plain functions, so that the two cannot drift apart and neither imports the other.

/** Case-insensitive uniqueness (department code, email, apiCode) compares this key. */
export const caseKey = (value: string): string => value.toLowerCase();

/** A patch's present keys: `{ name: undefined }` leaves the name alone, `{ color: null }` clears it. */
export function definedOnly<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as Partial<T>;
}

const PREVIEW_CHARS = 160;

/** The conversation list's preview of a message: its first 160 characters (code points, not halves of emoji). */
export function messagePreview(text: string): string {
  const chars = Array.from(text);
  return chars.length <= PREVIEW_CHARS ? text : chars.slice(0, PREVIEW_CHARS).join('');
}

/**
 * The conversation after an inbound message (MessageRepo.recordInbound): to the inbox, one more
 * unread, the sticky sender set if still unset. The preview follows the newest message by time, so
 * a late-recorded older message does not replace it.
 */
export function conversationAfterInbound(c: Conversation, m: Message): Conversation {
  return {
    ...conversationAfterMessage(c, m, m.toNumber),
    folder: 'inbox',
    unread: c.unread + 1,
  };
}

/** The conversation after an outbound message (MessageRepo.enqueueOutbound): the folder stays. */
export function conversationAfterOutbound(c: Conversation, m: Message): Conversation {
  return conversationAfterMessage(c, m, m.fromNumber);
}

function conversationAfterMessage(c: Conversation, m: Message, poolNumber: string): Conversation {
  const newest = c.lastMessageAt === null || m.createdAt >= c.lastMessageAt;
  return {
    ...c,
    senderNumber: c.senderNumber ?? poolNumber,
    ...(newest
      ? { lastMessageAt: m.createdAt, lastMessagePreview: messagePreview(m.text), lastMessageDirection: m.direction }
      : {}),
    updatedAt: Math.max(c.updatedAt, m.createdAt),
  };
}

/** The caller's prepared conversation, used when the message's (account, contact) has none yet. */
export function newConversationFor(prepared: Conversation, m: Message): Conversation {
  return { ...prepared, accountId: m.accountId, contactId: m.contactId };
}

/**
 * A new message as stored: in its actual conversation (which may differ from the one the caller
 * made, when another request created the conversation first) and in the status its method implies.
 */
export function messageAsRecorded(m: Message, conversationId: string, status: 'received' | 'queued'): Message {
  return { ...m, conversationId, status, direction: status === 'received' ? 'inbound' : 'outbound' };
}

export const staleLockToken = (): AppError =>
  new AppError('stale_lock_token', 'The conversation lock has moved on; reopen the conversation to reply');

/** MessageRepo.enqueueOutbound with an idempotency record whose (scope, key) has a live record. */
export const idempotencyKeyTaken = (): AppError =>
  new AppError('idempotency_key_in_flight', 'Another request with this Idempotency-Key was recorded first');

/** LockRepo.claimEpoch: the first token of `epoch`, above every token stored before. */
export function firstTokenOfEpoch(epoch: number, storedToken: number): number {
  return Math.max(epoch * LOCK_TOKEN_EPOCH_SPAN, storedToken + 1);
}

export function assertLockTokenAdvances(expected: number, next: number): void {
  if (!(next > expected)) throw new AppError('bad_request', `A lock token must increase (${expected} → ${next})`);
}

/** An import row applied to an existing contact (ContactRepo.importRows). */
export function mergeImportRow(existing: Contact, row: ContactImportRow, at: number): Contact {
  return {
    ...existing,
    firstName: row.firstName.trim() === '' ? existing.firstName : row.firstName,
    lastName: row.lastName.trim() === '' ? existing.lastName : row.lastName,
    staffId: row.staffId === undefined ? existing.staffId : row.staffId,
    // Spread copies own properties only, so a CSV column named "__proto__" stays a plain field.
    customFields: { ...existing.customFields, ...row.customFields },
    tags: row.tags === undefined ? [...existing.tags] : [...row.tags],
    updatedAt: at,
  };
}

/** ContactRepo.update: the patch's fields over the contact, copied. */
export function patchContact(existing: Contact, patch: ContactPatch, at: number): Contact {
  const given = definedOnly(patch);
  return {
    ...existing,
    ...given,
    customFields: { ...(given.customFields ?? existing.customFields) },
    tags: [...(given.tags ?? existing.tags)],
    updatedAt: at,
  };
}

/** An import row whose phone is new. */
export function contactFromImportRow(row: ContactImportRow, at: number, id: string): Contact {
  return {
    id,
    firstName: row.firstName,
    lastName: row.lastName,
    phone: row.phone,
    staffId: row.staffId ?? null,
    customFields: { ...row.customFields },
    tags: [...(row.tags ?? [])],
    createdAt: at,
    updatedAt: at,
  };
}

/** Contact search: a trimmed substring of "first last" or the phone, or of the phone's digits. */
export function contactSearch(search: string | undefined): { text: string; digits: string } | null {
  const text = search?.trim() ?? '';
  return text === '' ? null : { text, digits: text.replace(/\D/g, '') };
}

export function numbersRepeated(numbers: readonly string[]): AppError | null {
  const repeated = [...new Set(numbers.filter((n, i) => numbers.indexOf(n) !== i))];
  return repeated.length === 0
    ? null
    : new AppError('validation_failed', `An account's numbers must be distinct: ${repeated.join(', ')}`);
}

export const numberTaken = (numbers: readonly string[]): AppError =>
  new AppError(
    'number_taken',
    numbers.length === 1
      ? `The number ${numbers[0]!} already belongs to another account`
      : `The numbers ${numbers.join(', ')} already belong to other accounts`,
  );

export const apiCodeTaken = (apiCode: string | null): AppError =>
  new AppError('api_code_taken', `The API code "${apiCode ?? ''}" is already in use`);

export const emailTaken = (email: string): AppError => new AppError('email_taken', `The email ${email} is already in use`);

export const departmentCodeTaken = (code: string): AppError =>
  new AppError('department_code_taken', `The department code "${code}" is already in use`);

export const phoneTaken = (phone: string): AppError =>
  new AppError('conflict', `A contact with the phone ${phone} already exists`);

/** A campaign recipient's status once its text is handed over: it follows the message's. */
export function recipientStatusOf(status: MessageStatus): RecipientStatus {
  switch (status) {
    case 'queued':
    case 'sending':
    case 'received':
      return 'queued';
    case 'submitted':
    case 'sent':
      return 'sent';
    case 'delivered':
      return 'delivered';
    case 'undelivered':
    case 'failed':
    case 'rejected':
      return 'failed';
    case 'unknown':
      return 'unknown';
  }
}

/**
 * A saved filter's conditions: every one holds. Custom-field names compare case-insensitively;
 * the contact carries every tag (both normalised, so compared as stored).
 */
export function matchesContactFilter(c: Contact, filter: ContactFilter): boolean {
  if (filter.staffId !== undefined && c.staffId !== filter.staffId) return false;
  if (filter.tags !== undefined && !filter.tags.every((t) => c.tags.includes(t))) return false;
  const wanted = Object.entries(filter.customFields ?? {});
  if (wanted.length === 0) return true;
  const fields = new Map(Object.entries(c.customFields).map(([k, v]) => [k.toLowerCase(), v]));
  return wanted.every(([k, v]) => fields.get(k.toLowerCase()) === v);
}

/** The counts a recipient row adds to: every row to `total`, and one per status. */
export type RecipientCountKey = Exclude<keyof CampaignCounts, 'skippedDuplicate' | 'replies'>;

export const RECIPIENT_COUNT_KEY: Readonly<Record<RecipientStatus, RecipientCountKey>> = {
  queued: 'queued',
  sent: 'sent',
  delivered: 'delivered',
  failed: 'failed',
  unknown: 'unknown',
  skipped_opted_out: 'skippedOptedOut',
  skipped_invalid: 'skippedInvalid',
};

/** The counts of a campaign from per-status tallies (both adapters aggregate to this). */
export function campaignCounts(
  tallies: Iterable<{ status: string; n: number; replied: number }>,
  skippedDuplicate: number,
): CampaignCounts {
  const counts = { total: 0, queued: 0, sent: 0, delivered: 0, failed: 0, unknown: 0, skippedOptedOut: 0, skippedDuplicate, skippedInvalid: 0, replies: 0 };
  for (const t of tallies) {
    const k = RECIPIENT_COUNT_KEY[t.status as RecipientStatus] as RecipientCountKey | undefined;
    if (k !== undefined) counts[k] += t.n;
    counts.total += t.n;
    counts.replies += t.replied;
  }
  return counts;
}
