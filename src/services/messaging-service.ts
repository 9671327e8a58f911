import type { Account, Contact, Conversation, Encoding, Message, OptOutScope, User } from '../domain/types.js';
import type { NewOutbound, Store } from '../store/store.js';
import type { Principal } from '../auth/principal.js';
import type { CoreContext } from './context.js';
import type { Config } from '../config.js';
import { AppError, forbidden, notFound } from '../errors.js';
import { isAdmin } from '../auth/access.js';
import { principalName } from '../auth/principal.js';
import { accessibleConversation, canAccess } from './account-access.js';
import { analyse, type SegmentInfo } from '../domain/segments.js';
import { merge, unknownFields } from '../domain/merge-fields.js';
import { contactForPhone } from '../domain/contact-fields.js';
import { chooseSender } from '../domain/sender-selection.js';
import { isLateEvening, isQuietHours } from '../domain/quiet-hours.js';
import { newId } from '../ids.js';
import { newConversation } from '../domain/conversation.js';
import type { Idempotency, IdempotencyClaim } from './idempotency.js';

// Compose (new outreach to one or many) and reply (within a conversation). Both end at the commit
// point: messages durable as `queued`, then handed to the pool numbers' queues.

export interface ComposeInput {
  groupAccountCode?: string | undefined;
  /** Contact ids or E.164 numbers. */
  to: string[];
  text: string;
  sendToMyStudentsOnly: boolean;
  sendAsStaff: boolean;
  sendAnyway: boolean;
}

export interface ComposeResult {
  accountId: string;
  queued: number;
  skipped: { optedOut: number; notYourStudent: number; unassigned: number };
  messages: Array<{ id: string; conversationId: string; to: string; from: string; segments: number; encoding: Encoding }>;
}

export function optOutScope(account: Account): OptOutScope {
  return account.kind === 'group' ? `account:${account.id}` : 'personal';
}

/** What a send answers, with the status its route gives (202: queued, not yet sent). */
export const SEND_ACCEPTED = 202;

type Recorded = ReadonlyArray<{ message: Message; conversation: Conversation }>;

/** What sending reads from the configuration. */
export type MessagingSettings = Pick<Config, 'defaultTimeZone'> & { sending: Pick<Config['sending'], 'maxLength'> };

export class MessagingService {
  constructor(
    private readonly c: CoreContext,
    private readonly idempotency: Idempotency,
    private readonly settings: MessagingSettings,
  ) {}

  /** Length, encoding and segment count of a text, as clients show it before sending. */
  measure(text: string): SegmentInfo & { maxLength: number } {
    return { ...analyse(text), maxLength: this.settings.sending.maxLength };
  }

  /** A compose; with an Idempotency-Key, sent at most once per key (see idempotency.ts). */
  compose(p: Principal, input: ComposeInput, idempotencyKey?: string): Promise<ComposeResult> {
    return this.idempotency.once(p, idempotencyKey, { operation: 'compose', ...input }, SEND_ACCEPTED, (claim) => this.composeOnce(p, input, claim));
  }

  private async composeOnce(p: Principal, input: ComposeInput, claim: IdempotencyClaim<ComposeResult> | undefined): Promise<ComposeResult> {
    const { store } = this.c;
    refuseCombinedOptions(input);
    let account: Account;
    let me: User | null = null;
    if (input.groupAccountCode !== undefined) {
      const found = await store.accounts.getByApiCode(input.groupAccountCode);
      if (!found || found.kind !== 'group' || !(await canAccess(this.c, p, found))) throw notFound('Group account');
      account = found;
      refuseGroupAccountOptions(account, input);
    } else {
      if (p.kind !== 'user') throw new AppError('validation_failed', 'An API key sends from a group account: give groupAccountCode');
      const personal = await store.accounts.getPersonal(p.user.id);
      if (!personal) throw new AppError('no_sender_number', 'You have no personal number yet');
      account = personal;
      me = p.user;
      if (input.sendAsStaff && !isAdmin(p.user)) throw forbidden('Only an owner or a department admin can send as staff members');
    }

    this.checkText(input.text);

    // Recipients.
    const skipped = { optedOut: 0, notYourStudent: 0, unassigned: 0 };
    let recipients = await this.resolveRecipients(input.to);
    if (input.sendToMyStudentsOnly && me) {
      if (input.to.length === 0) {
        recipients = await store.contacts.list({ staffId: me.id, limit: 100_000 });
      } else {
        const mine = recipients.filter((r) => r.staffId === me.id);
        skipped.notYourStudent = recipients.length - mine.length;
        recipients = mine;
      }
    }
    if (recipients.length === 0) throw new AppError('no_recipients', 'Nobody to send to');
    // A merge field must be built in or a custom field of at least one recipient; a typo such as
    // {FirstNmae} is refused instead of reaching students as a literal.
    const unknown = unknownFields(input.text, new Set(recipients.flatMap((r) => Object.keys(r.customFields))));
    if (unknown.length > 0) {
      throw new AppError('validation_failed', `Unknown merge field(s): ${unknown.map((f) => `{${f}}`).join(', ')}`, {
        details: unknown.map((f) => ({ path: 'text', message: `no field {${f}}` })),
      });
    }
    const bulk = recipients.length > 1;

    // Who sends to whom: one account, or each student's assigned staff member (sendAsStaff).
    const plan: Array<{ contact: Contact; account: Account }> = [];
    if (input.sendAsStaff) {
      const personalByUser = new Map<string, Account | null>();
      for (const r of recipients) {
        if (!r.staffId) {
          skipped.unassigned++;
          continue;
        }
        if (!personalByUser.has(r.staffId)) personalByUser.set(r.staffId, await store.accounts.getPersonal(r.staffId));
        const staffAccount = personalByUser.get(r.staffId);
        if (!staffAccount) skipped.unassigned++;
        else plan.push({ contact: r, account: staffAccount });
      }
    } else {
      for (const r of recipients) plan.push({ contact: r, account });
    }

    // Opt-outs: one recipient is refused with the reason; a campaign skips and counts them.
    const sendable: typeof plan = [];
    for (const [scope, items] of groupBy(plan, (x) => optOutScope(x.account))) {
      const out = await store.contacts.optedOut(items.map((x) => x.contact.id), scope);
      for (const x of items) {
        if (out.has(x.contact.id)) skipped.optedOut++;
        else sendable.push(x);
      }
    }
    if (sendable.length === 0) {
      if (skipped.optedOut > 0 && !bulk) throw new AppError('opted_out', 'This contact has opted out of texts from this account');
      throw new AppError('no_recipients', 'Nobody left to send to after opt-outs and filters', {
        details: Object.entries(skipped).map(([k, v]) => ({ path: k, message: String(v) })),
      });
    }

    // Quiet hours apply to bulk sends.
    let quietTz: string | null = null;
    if (bulk) {
      quietTz = await this.timeZoneOf(account, p);
      const now = this.c.clock.now();
      if (isQuietHours(now, quietTz)) {
        throw new AppError('quiet_hours', `Bulk sends are paused between 22:00 and 06:00 (${quietTz}); send after 06:00`);
      }
      if (isLateEvening(now, quietTz) && !input.sendAnyway) {
        throw new AppError('confirm_late_send', 'It is after 20:00 for your recipients; confirm with sendAnyway to send now');
      }
    }

    // Texts per recipient, checked before anything is written: all or nothing.
    const maxLength = this.settings.sending.maxLength;
    const texts = sendable.map((x) => merge(input.text, x.contact));
    const tooLong = texts.map((t, i) => ({ t, i })).filter(({ t }) => [...t].length > maxLength);
    if (tooLong.length > 0) {
      throw new AppError('message_too_long', `The text is over ${maxLength} characters for ${tooLong.length} recipient(s) after merge fields`, {
        details: tooLong.slice(0, 50).map(({ t, i }) => ({ path: `to.${sendable[i]!.contact.phone}`, message: `${[...t].length} characters` })),
      });
    }

    const sender = senderIdentity(p);
    const now = this.c.clock.now();
    const extraLoad = new Map<string, number>();
    const items: NewOutbound[] = [];
    for (const [i, x] of sendable.entries()) {
      const existing = await store.conversations.getByPair(x.account.id, x.contact.id);
      const from = chooseSender(x.account.numbers, x.contact.phone, existing?.senderNumber ?? null, (n) => this.c.outbox.depth(n) + (extraLoad.get(n) ?? 0));
      if (!from) throw new AppError('no_sender_number', `${x.account.name} has no number to send from`);
      extraLoad.set(from.number, (extraLoad.get(from.number) ?? 0) + 1);
      // A new outreach is filed in Archived; the student's reply brings it to the Inbox.
      items.push(newOutbound(x.account, x.contact, existing, from.number, texts[i]!, sender, now, quietTz, 'archived'));
    }

    // All or nothing: the whole compose is one atomic write, and only once it is durable does any of
    // it reach a number's queue. A crash (or a failed write) before the commit leaves nothing to
    // send, after it everything; never the first slices of a campaign, which a client's retry would
    // then send a second time.
    // The answer is made from what was recorded, and (with a key) recorded in the same write.
    const answer = (recorded: Recorded): ComposeResult => ({
      accountId: account.id,
      queued: recorded.length,
      skipped,
      messages: recorded.map(({ message: m }) => ({
        id: m.id,
        conversationId: m.conversationId,
        to: m.toNumber,
        from: m.fromNumber,
        segments: m.segments,
        encoding: m.encoding,
      })),
    });
    const done = await store.messages.enqueueOutbound(items, undefined, claim?.record(answer));
    this.c.outbox.enqueue(done.map((d) => d.message));
    for (const d of done) this.announce(d.message, d.conversation);
    return answer(done);
  }

  /**
   * A reply in a conversation. With a fence the write is conditional: the store commits it only if
   * the lock's owner epoch and token are still the ones the owner checked (a stale holder, or an
   * owner that lost the conversation to a newer activation, is refused).
   */
  async reply(
    p: Principal,
    conversationId: string,
    input: { text: string; fence?: { ownerEpoch: number; lockToken: number } },
    claim?: IdempotencyClaim<Message>,
  ): Promise<Message> {
    const { conversation, account } = await accessibleConversation(this.c, p, conversationId);
    // Group-account replies go through the lock (LockService.reply), which passes its token here.
    if (account.kind === 'group' && input.fence === undefined) {
      throw new AppError('lock_required', 'Open the conversation to get its lock, then reply with its lockToken');
    }
    this.checkText(input.text);
    if ([...input.text].length > this.settings.sending.maxLength) {
      throw new AppError('message_too_long', `The text is over ${this.settings.sending.maxLength} characters`);
    }
    const contact = await this.c.store.contacts.get(conversation.contactId);
    if (!contact) throw notFound('Contact');
    const out = await this.c.store.contacts.optedOut([contact.id], optOutScope(account));
    if (out.has(contact.id)) throw new AppError('opted_out', 'This contact has opted out of texts from this account');
    const from = chooseSender(account.numbers, contact.phone, conversation.senderNumber, (n) => this.c.outbox.depth(n));
    if (!from) throw new AppError('no_sender_number', `${account.name} has no number to send from`);
    const item = newOutbound(account, contact, conversation, from.number, input.text, senderIdentity(p), this.c.clock.now(), null, conversation.folder);
    const fence = input.fence !== undefined ? { conversationId: conversation.id, ...input.fence } : undefined;
    const answer = (recorded: Recorded): Message => recorded[0]!.message;
    const [done] = await this.c.store.messages.enqueueOutbound([item], fence, claim?.record(answer));
    this.c.outbox.enqueue([done!.message]);
    this.announce(done!.message, done!.conversation);
    return done!.message;
  }

  /** Automatic texts (opt-out confirmations, help): no sender person, never blocked by the opt-out they confirm. */
  async sendAutomatic(account: Account, contact: Contact, conversation: Conversation, text: string): Promise<Message> {
    const from = conversation.senderNumber && account.numbers.includes(conversation.senderNumber) ? conversation.senderNumber : account.numbers[0];
    if (!from) throw new AppError('no_sender_number', `${account.name} has no number to send from`);
    const item = newOutbound(account, contact, conversation, from, text, { userId: null, name: null }, this.c.clock.now(), null, conversation.folder);
    const [done] = await this.c.store.messages.enqueueOutbound([item]);
    this.c.outbox.enqueue([done!.message]);
    this.announce(done!.message, done!.conversation);
    return done!.message;
  }

  private announce(message: Message, conversation: Conversation): void {
    this.c.events.emit({ type: 'message', accountId: message.accountId, message });
    this.c.events.emit({ type: 'conversation', accountId: conversation.accountId, conversation });
  }

  private checkText(text: string): void {
    if (text.trim().length === 0) throw new AppError('message_empty', 'The text is empty');
  }

  private async resolveRecipients(to: string[]): Promise<Contact[]> {
    const ids = to.filter((t) => !t.startsWith('+'));
    const phones = [...new Set(to.filter((t) => t.startsWith('+')))];
    const byId = await contactsOrRefuse(this.c.store, ids);
    const now = this.c.clock.now();
    const byPhone: Contact[] = [];
    for (const phone of phones) {
      byPhone.push(await this.c.store.contacts.getOrCreateByPhone(contactForPhone(newId(now), phone, now)));
    }
    const seen = new Set<string>();
    return [...byId, ...byPhone].filter((c) => (seen.has(c.id) ? false : (seen.add(c.id), true)));
  }


  private async timeZoneOf(account: Account, p: Principal): Promise<string> {
    const deptId = account.departmentId ?? (p.kind === 'user' ? p.user.departmentIds[0] : p.apiKey.departmentId);
    const dept = deptId ? await this.c.store.departments.get(deptId) : null;
    return dept?.timeZone ?? this.settings.defaultTimeZone;
  }
}

/** The contacts a compose's `to` names by id; an unknown one is refused (it names no one to text). */
export async function contactsOrRefuse(store: Store, ids: readonly string[]): Promise<Contact[]> {
  const unique = [...new Set(ids)];
  const found = await store.contacts.getMany(unique);
  if (found.length !== unique.length) {
    const known = new Set(found.map((c) => c.id));
    const missing = unique.filter((id) => !known.has(id));
    throw new AppError('validation_failed', 'Unknown contact(s)', { details: missing.slice(0, 50).map((id) => ({ path: 'to', message: `no contact ${id}` })) });
  }
  return found;
}

/** sendToMyStudentsOnly and sendAsStaff cannot be combined (DOMAIN.md "Sending"). */
export function refuseCombinedOptions(input: Pick<ComposeInput, 'sendToMyStudentsOnly' | 'sendAsStaff'>): void {
  if (input.sendToMyStudentsOnly && input.sendAsStaff) throw new AppError('conflicting_options', 'sendToMyStudentsOnly and sendAsStaff cannot be combined');
}

/** sendToMyStudentsOnly and sendAsStaff are personal-account features (DOMAIN.md "Group accounts"). */
export function refuseGroupAccountOptions(account: Account, input: Pick<ComposeInput, 'sendToMyStudentsOnly' | 'sendAsStaff'>): void {
  if (account.kind !== 'group' || !(input.sendToMyStudentsOnly || input.sendAsStaff)) return;
  throw new AppError(
    'group_account_option',
    `${input.sendToMyStudentsOnly ? 'sendToMyStudentsOnly' : 'sendAsStaff'} works with a personal account only; group accounts do not use staff assignments`,
  );
}

export function senderIdentity(p: Principal): { userId: string | null; name: string } {
  return p.kind === 'user' ? { userId: p.user.id, name: p.user.name } : { userId: null, name: principalName(p) };
}

function groupBy<T, K>(items: T[], key: (t: T) => K): Map<K, T[]> {
  const m = new Map<K, T[]>();
  for (const i of items) {
    const k = key(i);
    const list = m.get(k);
    if (list) list.push(i);
    else m.set(k, [i]);
  }
  return m;
}

/** A queued outbound text and the conversation it opens when there is none yet. */
export function newOutbound(
  account: Account,
  contact: Contact,
  existing: Conversation | null,
  from: string,
  text: string,
  sender: { userId: string | null; name: string | null },
  now: number,
  quietTz: string | null,
  folderIfNew: Conversation['folder'],
): NewOutbound {
  const info = analyse(text);
  const conversationId = existing?.id ?? newId(now);
  return {
    conversation: existing ?? newConversation({ id: conversationId, accountId: account.id, contactId: contact.id, folder: folderIfNew, senderNumber: from, now }),
    message: {
      id: newId(now),
      conversationId,
      accountId: account.id,
      contactId: contact.id,
      direction: 'outbound',
      text,
      encoding: info.encoding,
      segments: info.segments,
      status: 'queued',
      fromNumber: from,
      toNumber: contact.phone,
      sentByUserId: sender.userId,
      sentByName: sender.name,
      providerId: null,
      statusSequence: 0,
      errorCode: null,
      quietHoursTimeZone: quietTz,
      createdAt: now,
      updatedAt: now,
    },
  };
}
