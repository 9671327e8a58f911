import Database from 'better-sqlite3';

// Seeds one account's history straight into the SQLite file, against the schema of
// src/store/sqlite/migrations.ts: contacts, their conversations (all in the Inbox) and each
// conversation's messages with their first status event, in one transaction through prepared
// statements. A million messages this way take seconds; through the API they would take hours.
// Rows are written in id order (ids are time-ordered, as src/ids.ts makes them) so the primary
// key B-trees grow at their right edge, as they do in production.

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

function encodeTime(time: number): string {
  let out = '';
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[time % 32]! + out;
    time = Math.floor(time / 32);
  }
  return out;
}

/** An id shaped like src/ids.ts's: 10 time characters, 16 of a per-run counter (unique, ordered). */
function idAt(time: number, serial: number): string {
  let tail = '';
  for (let i = 0; i < 16; i++) {
    tail = ALPHABET[serial % 32]! + tail;
    serial = Math.floor(serial / 32);
  }
  return encodeTime(time) + tail;
}

const TEXTS = [
  'Hi {name}, this is the Admissions office. Your application is complete; decisions go out in March.',
  'Thanks! Do you need my transcript again?',
  'No need, we have it. Let us know if your address changes.',
  'Can I still apply for the spring semester?',
  'Yes, the spring deadline is November 15. Reply here if you have questions.',
  'What documents do I need for financial aid?',
  'Your FAFSA and the verification worksheet. Our office hours are 9 to 5.',
  'ok thank you!!',
  'Reminder: orientation is on Friday at 10am in the Student Center.',
  'Is parking free during orientation? 🚗',
];

export interface SeedOptions {
  accountId: string;
  /** The account's pool numbers (E.164). */
  numbers: string[];
  conversations: number;
  messagesPerConversation: number;
  /** History starts this long before now. */
  spanMs?: number;
}

export interface SeedResult {
  contacts: number;
  conversations: number;
  messages: number;
  ms: number;
}

export function seedInbox(file: string, o: SeedOptions): SeedResult {
  const t0 = performance.now();
  const db = new Database(file);
  try {
    // One transaction, so a crash leaves nothing half-seeded; these only make the bulk load fast.
    db.pragma('synchronous = OFF');
    db.pragma('foreign_keys = ON');
    db.pragma('cache_size = -262144');
    const insertContact = db.prepare(
      `INSERT INTO contacts (id, first_name, last_name, phone, staff_id, custom_fields, created_at, updated_at)
       VALUES (?, ?, ?, ?, NULL, '{}', ?, ?)`,
    );
    const insertConversation = db.prepare(
      `INSERT INTO conversations (id, account_id, contact_id, folder, unread, sender_number, last_message_at,
         last_message_preview, last_message_direction, lock_token, created_at, updated_at)
       VALUES (?, ?, ?, 'inbox', ?, ?, ?, ?, ?, 0, ?, ?)`,
    );
    const insertMessage = db.prepare(
      `INSERT INTO messages (id, conversation_id, account_id, contact_id, direction, text, encoding, segments, status,
         from_number, to_number, sent_by_user_id, sent_by_name, provider_id, status_sequence, error_code,
         quiet_hours_time_zone, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, NULL, ?, ?, ?, NULL, NULL, ?, ?)`,
    );
    const insertEvent = db.prepare('INSERT INTO message_status_events (message_id, status, at, error_code) VALUES (?, ?, ?, NULL)');

    const n = o.conversations;
    const per = o.messagesPerConversation;
    const total = n * per;
    const span = o.spanMs ?? 60 * 24 * 3600_000;
    const start = Date.now() - span;
    const step = Math.max(1, Math.floor(span / (total + n)));
    let serial = 0;

    const contacts: string[] = [];
    const phones: string[] = [];
    const conversations: string[] = [];
    const load = db.transaction(() => {
      for (let c = 0; c < n; c++) {
        const at = start + c;
        const id = idAt(at, serial++);
        const phone = `+1617${String(5_000_000 + c).padStart(7, '0')}`;
        contacts.push(id);
        phones.push(phone);
        insertContact.run(id, `Student${c}`, `Inbox${c % 97}`, phone, at, at);
      }
      // Messages go round-robin across conversations, so each conversation's history spreads over
      // the whole span and the Inbox order mixes them, as real traffic does.
      const at = (round: number, c: number) => start + (n + round * n + c + 1) * step;
      const inbound = (round: number, c: number) => (round + c) % 2 === 1;
      const text = (round: number, c: number) => TEXTS[(round + c) % TEXTS.length]!.replace('{name}', `Student${c}`);
      for (let c = 0; c < n; c++) {
        const created = start + (c + 1) * step;
        const id = idAt(created, serial++);
        conversations.push(id);
        const r = per - 1;
        insertConversation.run(
          id,
          o.accountId,
          contacts[c]!,
          inbound(r, c) ? 1 + (c % 3) : 0,
          o.numbers[c % o.numbers.length]!,
          at(r, c),
          [...text(r, c)].slice(0, 160).join(''),
          inbound(r, c) ? 'inbound' : 'outbound',
          created,
          at(r, c),
        );
      }
      for (let round = 0; round < per; round++) {
        for (let c = 0; c < n; c++) {
          const when = at(round, c);
          const isIn = inbound(round, c);
          const body = text(round, c);
          const ours = o.numbers[c % o.numbers.length]!;
          const id = idAt(when, serial++);
          insertMessage.run(
            id,
            conversations[c]!,
            o.accountId,
            contacts[c]!,
            isIn ? 'inbound' : 'outbound',
            body,
            /[^\x20-\x7E]/.test(body) ? 'UCS2' : 'GSM',
            isIn ? 'received' : 'delivered',
            isIn ? phones[c]! : ours,
            isIn ? ours : phones[c]!,
            isIn ? null : 'Bench Owner',
            `seed-${serial.toString(36)}`,
            isIn ? 0 : 3,
            when,
            when,
          );
          insertEvent.run(id, isIn ? 'received' : 'delivered', when);
        }
      }
    });
    load.immediate();
    // A server that has been running for a while has its WAL checkpointed into the main file.
    db.pragma('wal_checkpoint(TRUNCATE)');
    return { contacts: n, conversations: n, messages: total, ms: performance.now() - t0 };
  } finally {
    db.close();
  }
}
