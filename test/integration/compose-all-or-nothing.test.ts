import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { startTestSwitchboard, type TestSwitchboard } from '../helpers/switchboard.js';
import { buildOrg, type Org } from '../helpers/org.js';

// A compose is all or nothing: every message durably queued, or none, before anything is handed to
// a number's queue. Here the store really fails part-way through a large compose (a trigger raises
// an SQLite error on the last recipient's message, as a full disk would): nothing may be queued,
// and no student may get the text.

const clock = new ManualClock(Date.parse('2026-01-05T14:00:00-05:00'));
let t: TestSwitchboard;
let org: Org;

beforeAll(async () => {
  t = await startTestSwitchboard({}, { clock });
  org = await buildOrg(t);
});
afterAll(async () => t?.close());

const phoneOf = (i: number): string => `+1617${String(3_000_000 + i).padStart(7, '0')}`;

describe('a large compose whose write fails part-way', () => {
  it('queues nothing and sends nothing', async () => {
    const recipients = Array.from({ length: 1_200 }, (_, i) => phoneOf(i));
    const last = recipients.at(-1)!;
    const db = new Database(join(t.dataDir, 'switchboard.db'));
    try {
      db.exec(`CREATE TRIGGER disk_full BEFORE INSERT ON messages WHEN NEW.to_number = '${last}'
               BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`);
      const r = await t.http.post('/api/v1/messages', { groupAccountCode: org.account.apiCode, to: recipients, text: 'Hi {FirstName}', sendAnyway: true }, org.member.token);
      expect([r.status, r.body.error?.code]).toEqual([500, 'internal']);

      expect(db.prepare("SELECT count(*) FROM messages WHERE direction = 'outbound'").pluck().get()).toBe(0);
      expect(t.sb.core.outbox.totalDepth()).toBe(0);
      expect(t.sb.simulator!.listMessages({ direction: 'outbound', limit: 10, offset: 0 }).total).toBe(0);

      // Once the store works again, the same compose goes out whole.
      db.exec('DROP TRIGGER disk_full');
      const again = await t.http.post('/api/v1/messages', { groupAccountCode: org.account.apiCode, to: recipients, text: 'Hi {FirstName}', sendAnyway: true }, org.member.token);
      expect(again.status, JSON.stringify(again.body).slice(0, 300)).toBe(202);
      expect(again.body.queued).toBe(recipients.length);
    } finally {
      db.close();
    }
  });
});
