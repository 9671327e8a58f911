import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import type { Message } from '../../src/domain/types.js';
import { startTestSwitchboard, type TestSwitchboard } from '../helpers/switchboard.js';
import { buildOrg, login, type Org } from '../helpers/org.js';
import { tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/wait.js';

// Idempotency-Key on the routes that send texts: a retry with the same key and body answers the
// first outcome and sends nothing again (also after a restart); another body with the key is
// refused; keys are each caller's own; a request still in progress blocks its duplicates.

const TTL_MS = 60_000;
const clock = new ManualClock(Date.parse('2026-01-05T14:00:00-05:00'));
let t: TestSwitchboard;
let org: Org;
let db: Database.Database;

beforeAll(async () => {
  t = await startTestSwitchboard({ IDEMPOTENCY_KEY_TTL_MS: String(TTL_MS) }, { clock });
  org = await buildOrg(t);
  db = new Database(join(t.dataDir, 'switchboard.db'), { readonly: true });
});
afterAll(async () => {
  db?.close();
  await t?.close();
});

/** Outbound messages in the store with this text (what was queued, whatever happened since). */
const queuedWith = (text: string): number => db.prepare("SELECT count(*) FROM messages WHERE direction = 'outbound' AND text = ?").pluck().get(text) as number;

const compose = (text: string, key: string | null, token = org.member.token) =>
  t.http.request('POST', '/api/v1/messages', {
    token,
    json: { groupAccountCode: org.account.apiCode, to: org.students.map((s) => s.id), text, sendAnyway: true },
    headers: key === null ? {} : { 'idempotency-key': key },
  });

/** Every message past `sending` in the store, and the outbox done with them (their writes answered, not only visible). */
async function allSubmitted(ids: string[]): Promise<void> {
  await until(
    t.sb.core.events,
    async () => (await Promise.all(ids.map((id) => t.sb.store.messages.get(id)))).every((m) => m?.status !== 'queued' && m?.status !== 'sending'),
    'the compose handed to the provider',
  );
  await t.sb.core.outbox.idle();
}

describe('POST /messages with an Idempotency-Key', () => {
  it('answers a retry with the first outcome and sends nothing again', async () => {
    const first = await compose('Deadline is Friday', 'compose-1');
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    await allSubmitted(first.body.messages.map((m: { id: string }) => m.id));

    const retry = await compose('Deadline is Friday', 'compose-1');
    expect(retry.status).toBe(202);
    expect(retry.body).toEqual(first.body);
    expect(queuedWith('Deadline is Friday')).toBe(org.students.length);
    expect(t.sb.core.outbox.totalDepth()).toBe(0);
    const sent = t.sb.simulator!.listMessages({ direction: 'outbound', limit: 1_000, offset: 0 }).rows.filter((m) => m.text === 'Deadline is Friday');
    expect(sent).toHaveLength(org.students.length);
  });

  it('sends once when the same request arrives twice at the same moment', async () => {
    const answers = await Promise.all([compose('Twice at once', 'compose-6'), compose('Twice at once', 'compose-6')]);
    const accepted = answers.filter((r) => r.status === 202);
    expect(accepted.length).toBeGreaterThanOrEqual(1);
    for (const r of answers) {
      if (r.status === 202) expect(r.body).toEqual(accepted[0]!.body);
      else expect([r.status, r.body.error.code]).toEqual([409, 'idempotency_key_in_flight']);
    }
    expect(queuedWith('Twice at once')).toBe(org.students.length);
  });

  it('takes the draft’s quoted form and a bare value as the same key', async () => {
    const first = await compose('Quoted or bare', '"compose-quoted"');
    const retry = await compose('Quoted or bare', 'compose-quoted');
    expect([first.status, retry.status]).toEqual([202, 202]);
    expect(retry.body).toEqual(first.body);
    expect(queuedWith('Quoted or bare')).toBe(org.students.length);
  });

  it('refuses the same key with another body (422) and sends nothing for it', async () => {
    expect((await compose('Office hours at 3', 'compose-2')).status).toBe(202);
    const other = await compose('Office hours at 4', 'compose-2');
    expect([other.status, other.body.error.code]).toEqual([422, 'idempotency_key_reused']);
    expect(queuedWith('Office hours at 4')).toBe(0);
  });

  it('keeps each caller’s keys apart: another caller’s same key is a new request', async () => {
    const mine = await compose('Campus tour Monday', 'compose-3');
    const theirs = await compose('Campus tour Monday', 'compose-3', org.owner.token);
    expect([mine.status, theirs.status]).toEqual([202, 202]);
    expect(theirs.body.messages.map((m: { id: string }) => m.id)).not.toEqual(mine.body.messages.map((m: { id: string }) => m.id));
    expect(queuedWith('Campus tour Monday')).toBe(2 * org.students.length);
  });

  it('records nothing for a refused request, so its retry is judged afresh', async () => {
    const refused = await t.http.request('POST', '/api/v1/messages', {
      token: org.member.token,
      json: { groupAccountCode: org.account.apiCode, to: org.students.map((s) => s.id), text: '   ' },
      headers: { 'idempotency-key': 'compose-4' },
    });
    expect([refused.status, refused.body.error.code]).toEqual([422, 'message_empty']);
    expect((await compose('Now with text', 'compose-4')).status).toBe(202);
  });

  it('refuses a malformed key with 400 and sends nothing', async () => {
    for (const key of ['a'.repeat(256), '""', '"unterminated', '"bad \\x escape"', 'tab\there', 'two words']) {
      const r = await compose('Never sent', key);
      expect([r.status, r.body.error.code], key).toEqual([400, 'idempotency_key_invalid']);
    }
    expect(queuedWith('Never sent')).toBe(0);
    expect((await compose('Longest key', 'k'.repeat(255))).status).toBe(202);
    expect((await compose('Quoted spaces', '"two words"')).status).toBe(202);
  });

  it('forgets a key after IDEMPOTENCY_KEY_TTL_MS: the same request is then new', async () => {
    const first = await compose('Reminder: forms due', 'compose-5');
    clock.advance(TTL_MS);
    await t.sb.core.idempotency.prune();
    const later = await compose('Reminder: forms due', 'compose-5');
    expect([first.status, later.status]).toEqual([202, 202]);
    expect(later.body).not.toEqual(first.body);
    expect(queuedWith('Reminder: forms due')).toBe(2 * org.students.length);
  });
});

describe('a request with a key still being processed', () => {
  it('turns away a duplicate with 409 and another request with the key with 422', async () => {
    const p = await t.sb.core.auth.authenticate(org.member.token);
    let started!: () => void;
    let finish!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const request = { operation: 'compose', text: 'slow' };
    const first = t.sb.core.idempotency.once(p, 'in-progress', request, 202, async () => {
      started();
      await new Promise<void>((resolve) => (finish = resolve));
      return 'first outcome';
    });
    await running;
    await expect(t.sb.core.idempotency.once(p, 'in-progress', request, 202, async () => 'duplicate')).rejects.toMatchObject({
      code: 'idempotency_key_in_flight',
      status: 409,
    });
    await expect(t.sb.core.idempotency.once(p, 'in-progress', { operation: 'compose', text: 'other' }, 202, async () => 'other')).rejects.toMatchObject({
      code: 'idempotency_key_reused',
      status: 422,
    });
    finish();
    await expect(first).resolves.toBe('first outcome');
  });
});

describe('POST /conversations/{id}/messages with an Idempotency-Key', () => {
  it('answers a retry with the first reply even after the lock has moved on', async () => {
    const student = org.students[0]!;
    await t.http.post('/simulator/messages', { from: student.phone, to: org.account.numbers[0], text: 'Is it Friday?' });
    const conversationId = (await t.sb.store.conversations.getByPair(org.account.id, student.id))!.id;
    const p = await t.sb.core.auth.authenticate(org.member.token);
    const opened = await t.sb.core.locks.open(p, 'conn-1', conversationId);
    if (!opened.granted) throw new Error('the lock was not granted');
    const reply = (key: string) =>
      t.http.request('POST', `/api/v1/conversations/${conversationId}/messages`, {
        token: org.member.token,
        json: { text: 'Yes, Friday 5pm', lockToken: opened.lockToken },
        headers: { 'idempotency-key': key },
      });

    const first = await reply('reply-1');
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    await t.sb.core.locks.leave(p, 'conn-1', conversationId);

    const retry = await reply('reply-1');
    expect(retry.status).toBe(202);
    expect(retry.body).toEqual(first.body);
    expect(queuedWith('Yes, Friday 5pm')).toBe(1);
    // A new reply on the stale token is still refused: the key replays, it does not bypass the lock.
    const fresh = await reply('reply-2');
    expect([fresh.status, fresh.body.error.code]).toEqual([409, 'stale_lock_token']);
  });
});

describe('an Idempotency-Key across a restart', () => {
  it('answers the retry from the record the first run committed with its messages', async () => {
    const dir = tempDir();
    const at = new ManualClock(Date.parse('2026-01-05T14:00:00-05:00'));
    try {
      const before = await startTestSwitchboard({}, { dataDir: dir.path, clock: at });
      const o = await buildOrg(before);
      const body = { groupAccountCode: o.account.apiCode, to: o.students.map((s) => s.id), text: 'Across a restart', sendAnyway: true };
      const first = await before.http.request('POST', '/api/v1/messages', { token: o.member.token, json: body, headers: { 'idempotency-key': 'restart-1' } });
      expect(first.status).toBe(202);
      await before.close();

      const after = await startTestSwitchboard({}, { dataDir: dir.path, clock: at });
      try {
        const token = await login(after, 'dana@college.edu');
        const retry = await after.http.request('POST', '/api/v1/messages', { token, json: body, headers: { 'idempotency-key': 'restart-1' } });
        expect(retry.status).toBe(202);
        expect(retry.body).toEqual(first.body);
        const stored = await Promise.all(first.body.messages.map((m: { id: string }) => after.sb.store.messages.get(m.id)));
        expect(stored.every((m: Message | null) => m !== null)).toBe(true);
        const texts = (await Promise.all(stored.map((m: Message | null) => after.sb.store.messages.listForConversation(m!.conversationId, { limit: 10 }))))
          .flat()
          .filter((m) => m.text === 'Across a restart');
        expect(texts).toHaveLength(o.students.length);
      } finally {
        await after.close();
      }
    } finally {
      dir.remove();
    }
  });
});
