import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { startTestSwitchboard, type TestSwitchboard } from '../helpers/switchboard.js';
import { buildOrg, type Org } from '../helpers/org.js';

// Personal-account features (send to my students only, send as staff member) and the quiet-hours
// rules of bulk sends, on a simulated clock set to an evening in New York.

const clock = new ManualClock(Date.parse('2026-01-05T14:00:00-05:00'));
let t: TestSwitchboard;
let org: Org;

beforeAll(async () => {
  t = await startTestSwitchboard({}, { clock });
  org = await buildOrg(t, { timeZone: 'America/New_York' });
});
afterAll(async () => t?.close());

describe('sending from a personal account', () => {
  it('sends only to my students when asked, counting the others', async () => {
    // Ana is assigned to Dana (the member); Ben and Chloe are not.
    const r = await t.http.post('/api/v1/messages', { to: org.students.map((s) => s.id), text: 'Hi {FirstName}', sendToMyStudentsOnly: true }, org.member.token);
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body.queued).toBe(1);
    expect(r.body.skipped.notYourStudent).toBe(2);
    expect(r.body.messages[0].to).toBe(org.students.find((s) => s.firstName === 'Ana')!.phone);
    const personal = (await t.http.get('/api/v1/me', org.member.token)).body.accounts.find((a: { kind: string }) => a.kind === 'personal');
    expect(r.body.messages[0].from).toBe(personal.numbers[0]);
  });

  it('with no recipients named, sends to all my students', async () => {
    const r = await t.http.post('/api/v1/messages', { text: 'Office hours today', sendToMyStudentsOnly: true }, org.member.token);
    expect(r.body.queued).toBe(1);
  });

  it('lets an admin send as each student’s assigned staff member, from that person’s number', async () => {
    const r = await t.http.post('/api/v1/messages', { to: org.students.map((s) => s.id), text: 'Your advisor says hi', sendAsStaff: true }, org.deptAdmin.token);
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body).toMatchObject({ queued: 1, skipped: { unassigned: 2 } });
    const danaNumber = (await t.http.get('/api/v1/me', org.member.token)).body.accounts.find((a: { kind: string }) => a.kind === 'personal').numbers[0];
    expect(r.body.messages[0].from).toBe(danaNumber);
    // It lands in Dana's personal account, with the admin as the sender.
    const convs = await t.http.get('/api/v1/accounts/personal/conversations?folder=archived', org.member.token);
    const conv = convs.body.items.find((c: { id: string }) => c.id === r.body.messages[0].conversationId);
    expect(conv).toBeDefined();
    const history = await t.http.get(`/api/v1/conversations/${conv.id}/messages`, org.member.token);
    expect(history.body.items.at(-1).sentBy.name).toBe('Dean Admin');
  });
});

describe('quiet hours for bulk sends (22:00–06:00 in the department time zone)', () => {
  const bulk = (extra: Record<string, unknown> = {}) =>
    t.http.post('/api/v1/messages', { groupAccountCode: org.account.apiCode, to: org.students.map((s) => s.id), text: 'Reminder', ...extra }, org.member.token);
  const one = () => t.http.post('/api/v1/messages', { groupAccountCode: org.account.apiCode, to: [org.students[0]!.id], text: 'Quick question' }, org.member.token);

  it('asks for "send anyway" after 20:00', async () => {
    clock.advance(Date.parse('2026-01-05T20:30:00-05:00') - clock.now());
    const r = await bulk();
    expect([r.status, r.body.error.code]).toEqual([422, 'confirm_late_send']);
    expect((await bulk({ sendAnyway: true })).status).toBe(202);
  });

  it('refuses a bulk send at night, but not a one-to-one text', async () => {
    clock.advance(Date.parse('2026-01-05T23:00:00-05:00') - clock.now());
    const r = await bulk({ sendAnyway: true });
    expect([r.status, r.body.error.code]).toEqual([422, 'quiet_hours']);
    expect((await one()).status).toBe(202);
  });
});
