import type { Account, Campaign, Contact, ExpansionCursor } from '../domain/types.js';
import type { NewRecipient, Store } from '../store/store.js';
import type { Clock } from '../clock.js';
import { toE164 } from '../domain/phone.js';
import { contactForPhone } from '../domain/contact-fields.js';
import { chooseSender } from '../domain/sender-selection.js';
import { newId } from '../ids.js';
import { optOutScope } from '../services/messaging-service.js';

// Expansion: a campaign's source (phones, contact ids, a saved filter) becomes its recipient rows,
// one batch at a time, each batch committed with the cursor it started from (CampaignRepo.
// addRecipients), so the whole list is never in memory and a batch re-run after a crash inserts
// nothing twice. Each recipient gets its pool number here (sticky sender, else the number with its
// area code, else the least busy), so every number's queue can be fed in order later.

export const EXPANSION_BATCH = 500;

export interface ExpansionDeps {
  store: Store;
  clock: Clock;
}

export interface ExpansionBatch {
  rows: NewRecipient[];
  to: ExpansionCursor;
}

/** The next batch after `from`, or null when the source is exhausted. `load` counts recipients per number so far. */
export async function nextExpansionBatch(
  d: ExpansionDeps,
  campaign: Campaign,
  account: Account,
  from: ExpansionCursor,
  load: Map<string, number>,
): Promise<ExpansionBatch | null> {
  const { source } = campaign;
  let cursor = from;
  // Empty phases are skipped here, so that every batch written carries rows or ends the expansion.
  for (;;) {
    if (cursor.phase === 'phones' && cursor.offset >= source.phones.length) cursor = { ...cursor, phase: 'contactIds', offset: 0 };
    else if (cursor.phase === 'contactIds' && cursor.offset >= source.contactIds.length) cursor = { ...cursor, phase: 'filter', offset: 0 };
    else if (cursor.phase === 'filter' && source.filter === null) cursor = { ...cursor, phase: 'done' };
    else break;
  }
  if (cursor.phase === 'done') return from.phase === 'done' ? null : { rows: [], to: cursor };

  const now = d.clock.now();
  let inputs: Array<{ raw: string; contact: Contact | null }>;
  let to: ExpansionCursor;
  if (cursor.phase === 'phones') {
    const slice = source.phones.slice(cursor.offset, cursor.offset + EXPANSION_BATCH);
    // All at once: the store commits the writes of one turn together (group commit).
    inputs = await Promise.all(
      slice.map(async (raw) => {
        const phone = toE164(raw);
        const contact =
          phone === null
            ? null
            : await d.store.contacts.getOrCreateByPhone(contactForPhone(newId(now), phone, now));
        return { raw, contact };
      }),
    );
    to = { ...cursor, offset: cursor.offset + slice.length, ordinal: cursor.ordinal + slice.length };
  } else if (cursor.phase === 'contactIds') {
    const slice = source.contactIds.slice(cursor.offset, cursor.offset + EXPANSION_BATCH);
    const found = new Map((await d.store.contacts.getMany([...new Set(slice)])).map((c) => [c.id, c]));
    // An id that names no contact is an invalid recipient, counted like an invalid phone number.
    inputs = slice.map((id) => ({ raw: id, contact: found.get(id) ?? null }));
    to = { ...cursor, offset: cursor.offset + slice.length, ordinal: cursor.ordinal + slice.length };
  } else {
    const page = await d.store.contacts.scanByFilter({ filter: source.filter!, afterId: cursor.afterContactId, limit: EXPANSION_BATCH });
    inputs = page.matches.map((contact) => ({ raw: contact.phone, contact }));
    to = page.last === null ? { ...cursor, phase: 'done', ordinal: cursor.ordinal + inputs.length } : { ...cursor, afterContactId: page.last, ordinal: cursor.ordinal + inputs.length };
  }

  const contacts = inputs.flatMap((i) => (i.contact ? [i.contact] : []));
  const optedOut = await d.store.contacts.optedOut([...new Set(contacts.map((c) => c.id))], optOutScope(account));
  const rows: NewRecipient[] = [];
  for (const [i, input] of inputs.entries()) {
    const seq = cursor.ordinal + i;
    const c = input.contact;
    if (!c) {
      rows.push({ phone: input.raw.slice(0, 64), seq, contactId: null, senderNumber: null, status: 'skipped_invalid' });
      continue;
    }
    if (optedOut.has(c.id)) {
      rows.push({ phone: c.phone, seq, contactId: c.id, senderNumber: null, status: 'skipped_opted_out' });
      continue;
    }
    const sticky = (await d.store.conversations.getByPair(account.id, c.id))?.senderNumber ?? null;
    const sender = chooseSender(account.numbers, c.phone, sticky, (n) => load.get(n) ?? 0);
    if (!sender) {
      rows.push({ phone: c.phone, seq, contactId: c.id, senderNumber: null, status: 'skipped_invalid' });
      continue;
    }
    load.set(sender.number, (load.get(sender.number) ?? 0) + 1);
    rows.push({ phone: c.phone, seq, contactId: c.id, senderNumber: sender.number, status: 'queued' });
  }
  return { rows, to };
}

/** The time the remaining `recipients` take at the pool's pacing: each number sends one per interval, in parallel. */
export function estimatedDurationMs(recipients: number, poolSize: number, intervalMs: number): number {
  if (recipients <= 0 || poolSize <= 0) return 0;
  return Math.ceil(recipients / poolSize) * intervalMs;
}
