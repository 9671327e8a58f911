import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { startTestSwitchboard, type TestSwitchboard } from '../helpers/switchboard.js';
import { buildOrg, type Org } from '../helpers/org.js';
import { until } from '../helpers/wait.js';
import { WsClient } from '../helpers/ws-client.js';

// Campaigns end to end: REST and WebSocket clients against a real gateway, texts through the real
// Plivo SDK to the in-process simulator, SQLite in a temp dir.

type Campaign = { id: string; state: string; pausedReason: string | null; counts: Record<string, number>; estimatedDurationMs: number };

describe('a campaign, sent at full speed', () => {
  let t: TestSwitchboard;
  let org: Org;

  beforeAll(async () => {
    t = await startTestSwitchboard();
    org = await buildOrg(t);
  });
  afterAll(async () => t?.close());

  /** What the simulator delivered to this phone (the simulator writes numbers as Plivo does, without '+'). */
  const received = (phone: string) =>
    t.sb.simulator!
      .listMessages({ direction: 'outbound', limit: 1000, offset: 0 })
      .rows.filter((m) => `+${m.to_number.replace(/^\+/, '')}` === phone)
      .map((m) => ({ text: m.text, from: `+${m.from_number.replace(/^\+/, '')}` }));
  const get = async (id: string, token = org.member.token): Promise<Campaign> => (await t.http.get(`/api/v1/campaigns/${id}`, token)).body as Campaign;

  it('texts every recipient once, counts duplicates, invalid numbers and opt-outs, and reports live', async () => {
    const [ana, ben, chloe] = ['Ana', 'Ben', 'Chloe'].map((n) => org.students.find((s) => s.firstName === n)!);
    // Chloe opts out of the account before the campaign is made.
    await t.http.post('/simulator/messages', { from: chloe!.phone, to: org.account.numbers[0], text: 'STOP' });
    await until(t.sb.core.events, async () => (await t.sb.store.contacts.optedOut([chloe!.id], `account:${org.account.id}`)).size === 1, 'the opt-out');

    const ws = await WsClient.connect(`${t.sb.url.replace('http', 'ws')}/ws`, org.member.token);
    ws.send({ type: 'subscribe', id: 's', account: org.account.apiCode });
    await ws.next((f) => f.type === 'ack' && f.re === 's', 'subscribed');

    const created = await t.http.post(
      '/api/v1/campaigns',
      {
        groupAccountCode: org.account.apiCode,
        name: 'Fall welcome',
        text: 'Hi {FirstName}, welcome to {Program}!',
        recipients: {
          // Ana by another spelling of her number, a new phone twice, and something that is no number.
          phones: ['(617) 555-0101', '+16175550199', '617-555-0199', 'call me'],
          contactIds: [ben!.id, chloe!.id],
          filter: { customFields: { program: 'Nursing' } }, // Ana once more
        },
      },
      org.member.token,
    );
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ state: 'draft', counts: { total: 0 } });
    const id = created.body.id as string;

    const started = await t.http.post(`/api/v1/campaigns/${id}/start`, {}, org.member.token);
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    const done = await ws.next((f) => f.type === 'campaign' && f.id === id && f.state === 'completed', 'the completed campaign event', 10_000);
    expect(done.kind).toBe('campaign');
    expect(done.counts).toMatchObject({ total: 5, queued: 0, skippedDuplicate: 2, skippedInvalid: 1, skippedOptedOut: 1 });
    expect(done.counts.sent + done.counts.delivered).toBe(3);

    expect(received(ana!.phone).map((m) => m.text)).toEqual(['Hi Ana, welcome to Nursing!']);
    expect(received(ben!.phone).map((m) => m.text)).toEqual(['Hi Ben, welcome to Biology!']);
    expect(received('+16175550199')).toHaveLength(1);
    expect(received(chloe!.phone).filter((m) => m.text.includes('welcome'))).toHaveLength(0);

    const optedOut = await t.http.get(`/api/v1/campaigns/${id}/recipients?status=skipped_opted_out`, org.member.token);
    expect(optedOut.body.items.map((r: { phone: string }) => r.phone)).toEqual([chloe!.phone]);
    const invalid = await t.http.get(`/api/v1/campaigns/${id}/recipients?status=skipped_invalid`, org.member.token);
    expect(invalid.body.items.map((r: { phone: string }) => r.phone)).toEqual(['call me']);

    // Ana answers: the reply lands in the Inbox and counts on the campaign.
    await t.http.post('/simulator/messages', { from: ana!.phone, to: received(ana!.phone)[0]!.from, text: 'Thanks!' });
    const replied = await until(t.sb.core.events, async () => {
      const c = await get(id);
      return c.counts.replies === 1 ? c : null;
    }, 'the reply counted');
    expect(replied.counts.replies).toBe(1);
    const inbox = await t.http.get(`/api/v1/accounts/${org.account.apiCode}/conversations?folder=inbox`, org.member.token);
    expect(inbox.body.items.some((c: { lastMessagePreview: string }) => c.lastMessagePreview === 'Thanks!')).toBe(true);
    ws.close();
  });

  it('answers a retried create with the same campaign, and creates nothing twice', async () => {
    const body = { groupAccountCode: org.account.apiCode, name: 'Retry', text: 'Hello', recipients: { phones: ['+16175550150'] } };
    const first = await t.http.request('POST', '/api/v1/campaigns', { token: org.member.token, json: body, headers: { 'idempotency-key': 'camp-1' } });
    const again = await t.http.request('POST', '/api/v1/campaigns', { token: org.member.token, json: body, headers: { 'idempotency-key': 'camp-1' } });
    expect([first.status, again.status]).toEqual([201, 201]);
    expect(again.body).toEqual(first.body);
    const list = await t.http.get(`/api/v1/campaigns?account=${org.account.apiCode}`, org.member.token);
    expect(list.body.items.filter((c: { name: string }) => c.name === 'Retry')).toHaveLength(1);
  });

  it('lets whoever may send from the account run its campaigns, and nobody else see them', async () => {
    const body = { groupAccountCode: org.account.apiCode, name: 'Access', text: 'Hello', recipients: { phones: ['+16175550151'] } };
    for (const who of [org.nonMember, org.otherAdmin]) {
      const r = await t.http.post('/api/v1/campaigns', body, who.token);
      expect([r.status, r.body.error?.code]).toEqual([404, 'not_found']);
    }
    const created = await t.http.post('/api/v1/campaigns', body, org.member.token);
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    for (const who of [org.nonMember, org.otherAdmin]) {
      expect((await t.http.get(`/api/v1/campaigns/${id}`, who.token)).status).toBe(404);
      expect((await t.http.get(`/api/v1/campaigns/${id}/recipients`, who.token)).status).toBe(404);
      expect((await t.http.post(`/api/v1/campaigns/${id}/cancel`, {}, who.token)).status).toBe(404);
      expect((await t.http.get(`/api/v1/campaigns?account=${org.account.apiCode}`, who.token)).status).toBe(404);
    }
    // The department's admin (not a member) and the owner may.
    expect((await t.http.get(`/api/v1/campaigns/${id}`, org.deptAdmin.token)).status).toBe(200);
    const cancelled = await t.http.post(`/api/v1/campaigns/${id}/cancel`, {}, org.owner.token);
    expect([cancelled.status, cancelled.body.state]).toEqual([200, 'cancelled']);
    const again = await t.http.post(`/api/v1/campaigns/${id}/start`, {}, org.member.token);
    expect([again.status, again.body.error?.code]).toEqual([409, 'campaign_state']);
    // "My students" is a personal-account feature.
    const mine = await t.http.post('/api/v1/campaigns', { ...body, recipients: { filter: { myStudents: true } } }, org.member.token);
    expect([mine.status, mine.body.error?.code]).toEqual([422, 'group_account_option']);
  });

  it('refuses a schedule in the past, over a year ahead, or in quiet hours, and a typo in a merge field', async () => {
    const base = { groupAccountCode: org.account.apiCode, name: 'When', text: 'Hello', recipients: { phones: ['+16175550152'] } };
    const now = Date.now();
    const past = await t.http.post('/api/v1/campaigns', { ...base, scheduledAt: now - 60_000 }, org.member.token);
    expect([past.status, past.body.error?.code]).toEqual([422, 'schedule_out_of_range']);
    const far = await t.http.post('/api/v1/campaigns', { ...base, scheduledAt: now + 366 * 24 * 3600_000 }, org.member.token);
    expect([far.status, far.body.error?.code]).toEqual([422, 'schedule_out_of_range']);
    // The department's time zone is one where it is about noon now: twelve hours on is about midnight.
    const night = await t.http.post('/api/v1/campaigns', { ...base, scheduledAt: now + 12 * 3600_000 }, org.member.token);
    expect([night.status, night.body.error?.code]).toEqual([422, 'quiet_hours']);
    const typo = await t.http.post('/api/v1/campaigns', { ...base, text: 'Hi {FirstNmae}' }, org.member.token);
    expect([typo.status, typo.body.error?.code]).toEqual([400, 'validation_failed']);
  });

  it('previews the text for a recipient by contact or phone, with encoding and segments, to those who may see the campaign only', async () => {
    const ana = org.students.find((s) => s.firstName === 'Ana')!;
    const created = await t.http.post(
      '/api/v1/campaigns',
      { groupAccountCode: org.account.apiCode, name: 'Preview', text: 'Hi {FirstName}, welcome to {Program} ✓', recipients: { contactIds: [ana.id] } },
      org.member.token,
    );
    const id = created.body.id as string;
    const byContact = await t.http.get(`/api/v1/campaigns/${id}/preview?contactId=${ana.id}`, org.member.token);
    expect(byContact.status, JSON.stringify(byContact.body)).toBe(200);
    expect(byContact.body).toMatchObject({ phone: ana.phone, contactId: ana.id, text: 'Hi Ana, welcome to Nursing ✓', encoding: 'UCS-2', segments: 1, tooLong: false });
    // The same student by another spelling of her phone; a phone nobody has yet fills no names.
    const byPhone = await t.http.get(`/api/v1/campaigns/${id}/preview?phone=${encodeURIComponent('(617) 555-0101')}`, org.member.token);
    expect(byPhone.body).toMatchObject({ contactId: ana.id, text: 'Hi Ana, welcome to Nursing ✓' });
    const stranger = await t.http.get(`/api/v1/campaigns/${id}/preview?phone=%2B16175550161`, org.member.token);
    expect(stranger.body).toMatchObject({ phone: '+16175550161', contactId: null, text: 'Hi , welcome to  ✓' });

    const denied = await t.http.get(`/api/v1/campaigns/${id}/preview?contactId=${ana.id}`, org.nonMember.token);
    expect([denied.status, denied.body.error?.code]).toEqual([404, 'not_found']);
    const neither = await t.http.get(`/api/v1/campaigns/${id}/preview`, org.member.token);
    expect([neither.status, neither.body.error?.code, neither.body.error?.details?.[0]?.path]).toEqual([400, 'validation_failed', 'phone']);
    const notAPhone = await t.http.get(`/api/v1/campaigns/${id}/preview?phone=call+me`, org.member.token);
    expect([notAPhone.status, notAPhone.body.error?.code]).toEqual([400, 'validation_failed']);
    const noContact = await t.http.get(`/api/v1/campaigns/${id}/preview?contactId=01J00000000000000000000000`, org.member.token);
    expect([noContact.status, noContact.body.error?.code]).toEqual([404, 'not_found']);
  });

  it('takes recipients from a CSV upload with the phones listed, counting its duplicate and invalid rows', async () => {
    const ana = org.students.find((s) => s.firstName === 'Ana')!;
    const csv = ['FirstName,Phone,Program', 'Ana,(617) 555-0101,Nursing', 'Dup,617-555-0170,', 'Typo,not a phone,', 'Blank,,', 'New,+1 617 555 0171,', 'Again,6175550171,'].join('\r\n');
    const created = await t.http.post(
      '/api/v1/campaigns',
      { groupAccountCode: org.account.apiCode, name: 'From a file', text: 'Hello {FirstName}', recipients: { phones: ['+16175550170'], csv } },
      org.member.token,
    );
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;
    expect((await t.http.post(`/api/v1/campaigns/${id}/start`, {}, org.member.token)).status).toBe(200);
    const done = await until(t.sb.core.events, async () => {
      const c = await get(id);
      return c.state === 'completed' ? c : null;
    }, 'the completed campaign');
    expect(done.counts).toMatchObject({ total: 5, queued: 0, skippedDuplicate: 2, skippedInvalid: 2 });
    expect((done.counts.sent ?? 0) + (done.counts.delivered ?? 0)).toBe(3);
    expect(received(ana.phone).filter((m) => m.text === 'Hello Ana')).toHaveLength(1);
    expect(received('+16175550171')).toHaveLength(1);
    const invalid = await t.http.get(`/api/v1/campaigns/${id}/recipients?status=skipped_invalid`, org.member.token);
    expect(invalid.body.items.map((r: { phone: string }) => r.phone).sort()).toEqual(['not a phone', 'row 5: no phone']);
  });

  it('refuses a CSV upload without a Phone column, one it cannot read, and one over the recipients a campaign takes', async () => {
    const create = (csv: string, phones: string[] = []) =>
      t.http.post('/api/v1/campaigns', { groupAccountCode: org.account.apiCode, name: 'Bad file', text: 'Hello', recipients: { phones, csv } }, org.member.token);
    const refusal = (r: { status: number; body: { error?: { code: string; details?: Array<{ path: string }> } } }) => [r.status, r.body.error?.code, r.body.error?.details?.[0]?.path];
    expect(refusal(await create('Name,Email\nAna,ana@example.edu'))).toEqual([400, 'validation_failed', 'recipients.csv']);
    expect(refusal(await create('Phone\n"+16175550172\n+16175550173'))).toEqual([400, 'validation_failed', 'recipients.csv']);
    const listed = Array.from({ length: 99_999 }, (_, i) => `+1617${String(2_000_000 + i)}`);
    expect(refusal(await create('Phone\n+16175550174\n+16175550175', listed))).toEqual([413, 'payload_too_large', 'recipients.csv']);
  });

  it('names the field of each refusal of a create, so a form can show it there', async () => {
    const base = { groupAccountCode: org.account.apiCode, name: 'Fields', text: 'Hello', recipients: { phones: ['+16175550153'] } };
    const paths = async (body: object) => {
      const r = await t.http.post('/api/v1/campaigns', body, org.member.token);
      return [r.body.error?.code, (r.body.error?.details ?? []).map((d: { path: string }) => d.path)];
    };
    expect(await paths({ ...base, text: '   ' })).toEqual(['message_empty', ['text']]);
    expect(await paths({ ...base, text: 'x'.repeat(307) })).toEqual(['message_too_long', ['text']]);
    expect(await paths({ ...base, recipients: {} })).toEqual(['no_recipients', ['recipients']]);
    expect(await paths({ ...base, scheduledAt: Date.now() - 60_000 })).toEqual(['schedule_out_of_range', ['scheduledAt']]);
    expect(await paths({ ...base, text: 'Hi {FirstNmae}' })).toEqual(['validation_failed', ['text']]);
  });
});

describe('a paced campaign on a simulated clock', () => {
  const clock = new ManualClock(Date.parse('2026-01-05T10:00:00-05:00'));
  let t: TestSwitchboard;
  let org: Org;

  beforeAll(async () => {
    // Sessions outlast the simulated night.
    t = await startTestSwitchboard({ NUMBER_SEND_INTERVAL_MS: '60000', SESSION_TTL_MS: String(7 * 24 * 3600_000) }, { clock });
    org = await buildOrg(t, { timeZone: 'America/New_York' });
  });
  afterAll(async () => t?.close());

  const sentCount = () => t.sb.simulator!.listMessages({ direction: 'outbound', limit: 1, offset: 0 }).total;
  const get = async (id: string): Promise<Campaign> => (await t.http.get(`/api/v1/campaigns/${id}`, org.member.token)).body as Campaign;
  const phones = Array.from({ length: 12 }, (_, i) => `+1617555${String(1000 + i)}`);

  it('estimates from the pacing, sends one per number per interval, and holds everything while paused', async () => {
    const created = await t.http.post('/api/v1/campaigns', { groupAccountCode: org.account.apiCode, name: 'Paced', text: 'Hello', recipients: { phones } }, org.member.token);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    // 12 recipients over six numbers, one text a minute each: two minutes.
    expect(created.body.estimatedDurationMs).toBe(120_000);
    const id = created.body.id as string;
    await until(t.sb.core.events, async () => (await get(id)).counts.total === 12, 'the expansion');

    await t.http.post(`/api/v1/campaigns/${id}/start`, {}, org.member.token);
    await until(t.sb.core.events, async () => sentCount() === 6, 'one text per number');
    const paused = await t.http.post(`/api/v1/campaigns/${id}/pause`, {}, org.member.token);
    expect([paused.status, paused.body.state, paused.body.pausedReason]).toEqual([200, 'paused', 'person']);
    clock.advance(10 * 60_000);
    expect(sentCount()).toBe(6);
    expect((await get(id)).counts.queued).toBe(6);

    await t.http.post(`/api/v1/campaigns/${id}/resume`, {}, org.member.token);
    const done = await until(t.sb.core.events, async () => {
      const c = await get(id);
      return c.state === 'completed' ? c : null;
    }, 'the completed campaign');
    expect(sentCount()).toBe(12);
    expect(done.counts.queued).toBe(0);
  });

  it('pauses itself at 22:00 and resumes at 06:00 in the department time zone', async () => {
    clock.advance(Date.parse('2026-01-05T21:58:00-05:00') - clock.now());
    const before = sentCount();
    const created = await t.http.post('/api/v1/campaigns', { groupAccountCode: org.account.apiCode, name: 'Late', text: 'Hello', recipients: { phones: phones.map((p) => p.replace('5551', '5552')) } }, org.member.token);
    const id = created.body.id as string;
    await until(t.sb.core.events, async () => (await get(id)).counts.total === 12, 'the expansion');
    const refused = await t.http.post(`/api/v1/campaigns/${id}/start`, {}, org.member.token);
    expect([refused.status, refused.body.error?.code]).toEqual([422, 'confirm_late_send']);
    await t.http.post(`/api/v1/campaigns/${id}/start`, { sendAnyway: true }, org.member.token);
    await until(t.sb.core.events, async () => sentCount() === before + 6, 'the first texts');
    clock.advance(2 * 60_000);
    const paused = await until(t.sb.core.events, async () => {
      const c = await get(id);
      return c.state === 'paused' ? c : null;
    }, 'the pause at 22:00');
    expect(paused.pausedReason).toBe('quietHours');
    clock.advance(Date.parse('2026-01-06T05:59:00-05:00') - clock.now());
    expect(sentCount()).toBe(before + 6);
    clock.advance(60_000);
    await until(t.sb.core.events, async () => (await get(id)).state === 'completed', 'the campaign resumed and completed');
    expect(sentCount()).toBe(before + 12);
  });
});
