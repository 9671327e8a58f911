import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { startTestSwitchboard, type TestSwitchboard } from '../helpers/switchboard.js';
import { buildOrg, type Org } from '../helpers/org.js';
import { tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/wait.js';
import { WsClient } from '../helpers/ws-client.js';

// A compose with scheduledAt becomes a campaign of kind `message`, run by the campaign machinery
// on a simulated clock: real gateway, SQLite, the Plivo SDK against the in-process simulator.

type CampaignBody = { id: string; kind: string; state: string; scheduledAt: number | null; counts: Record<string, number> };

const at = (iso: string) => Date.parse(iso);
// Sessions outlast the simulated day.
const ENV = { SESSION_TTL_MS: String(7 * 24 * 3600_000) };

function received(t: TestSwitchboard, phone: string): string[] {
  return t.sb.simulator!
    .listMessages({ direction: 'outbound', limit: 1000, offset: 0 })
    .rows.filter((m) => `+${m.to_number.replace(/^\+/, '')}` === phone)
    .map((m) => m.text);
}

describe('a scheduled single message', () => {
  const clock = new ManualClock(at('2026-01-05T08:00:00-05:00'));
  let t: TestSwitchboard;
  let org: Org;

  beforeAll(async () => {
    t = await startTestSwitchboard(ENV, { clock });
    org = await buildOrg(t, { timeZone: 'America/New_York' });
  });
  afterAll(async () => t?.close());

  const student = (name: string) => org.students.find((s) => s.firstName === name)!;
  const schedule = (body: object, token = org.member.token, headers: Record<string, string> = {}) =>
    t.http.request('POST', '/api/v1/messages', { token, json: { groupAccountCode: org.account.apiCode, ...body }, headers });
  const get = async (id: string): Promise<CampaignBody> => (await t.http.get(`/api/v1/campaigns/${id}`, org.member.token)).body as CampaignBody;

  it('is not sent before 09:00, and is sent once at 09:00', async () => {
    const ana = student('Ana');
    const created = await schedule({ to: [ana.id], text: 'Hi {FirstName}, see you at nine', scheduledAt: at('2026-01-05T09:00:00-05:00') });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ kind: 'message', state: 'scheduled', scheduledAt: at('2026-01-05T09:00:00-05:00') });
    const id = created.body.id as string;
    await until(t.sb.core.events, async () => (await get(id)).counts.total === 1, 'the recipient read');

    clock.advance(at('2026-01-05T08:59:59-05:00') - clock.now());
    expect((await get(id)).state).toBe('scheduled');
    expect(received(t, ana.phone)).toEqual([]);

    clock.advance(1000);
    const done = await until(t.sb.core.events, async () => {
      const c = await get(id);
      return c.state === 'completed' ? c : null;
    }, 'the message sent');
    expect((done.counts.sent ?? 0) + (done.counts.delivered ?? 0)).toBe(1);
    await until(t.sb.core.events, async () => received(t, ana.phone).length === 1, 'the text at the phone');
    clock.advance(3600_000);
    expect(received(t, ana.phone)).toEqual(['Hi Ana, see you at nine']);
  });

  it('refuses 23:00 (quiet hours), after 20:00 without sendAnyway (the campaign’s codes), unknown contacts and no recipients', async () => {
    const to = [student('Ben').id];
    const night = await schedule({ to, text: 'Late', scheduledAt: at('2026-01-05T23:00:00-05:00') });
    expect([night.status, night.body.error?.code, night.body.error?.details?.[0]?.path]).toEqual([422, 'quiet_hours', 'scheduledAt']);
    const evening = await schedule({ to, text: 'Evening', scheduledAt: at('2026-01-05T20:30:00-05:00') });
    expect([evening.status, evening.body.error?.code]).toEqual([422, 'confirm_late_send']);
    const past = await schedule({ to, text: 'Past', scheduledAt: clock.now() - 60_000 });
    expect([past.status, past.body.error?.code]).toEqual([422, 'schedule_out_of_range']);
    const unknown = await schedule({ to: ['01J00000000000000000000000'], text: 'Nobody', scheduledAt: clock.now() + 3600_000 });
    expect([unknown.status, unknown.body.error?.code, unknown.body.error?.details?.[0]?.path]).toEqual([400, 'validation_failed', 'to']);
    const nobody = await schedule({ to: [], text: 'Nobody', scheduledAt: clock.now() + 3600_000 });
    expect([nobody.status, nobody.body.error?.code, nobody.body.error?.details?.[0]?.path]).toEqual([422, 'no_recipients', 'to']);
    const confirmed = await schedule({ to, text: 'Evening', scheduledAt: at('2026-01-05T20:30:00-05:00'), sendAnyway: true });
    expect([confirmed.status, confirmed.body.state]).toEqual([201, 'scheduled']);
    expect((await t.http.post(`/api/v1/campaigns/${confirmed.body.id}/cancel`, {}, org.member.token)).status).toBe(200);
  });

  it('sends nothing once cancelled before its time', async () => {
    const chloe = student('Chloe');
    const created = await schedule({ to: [chloe.phone], text: 'Cancelled text', scheduledAt: clock.now() + 3600_000 });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;
    await until(t.sb.core.events, async () => (await get(id)).counts.total === 1, 'the recipient read');
    const cancelled = await t.http.post(`/api/v1/campaigns/${id}/cancel`, {}, org.member.token);
    expect([cancelled.status, cancelled.body.state]).toEqual([200, 'cancelled']);
    clock.advance(2 * 3600_000);
    expect((await get(id)).state).toBe('cancelled');
    expect(received(t, chloe.phone)).not.toContain('Cancelled text');
  });

  it('is told live to the account’s subscribers as a message, not a campaign', async () => {
    const ws = await WsClient.connect(`${t.sb.url.replace('http', 'ws')}/ws`, org.member.token);
    try {
      ws.send({ type: 'subscribe', id: 's', account: org.account.apiCode });
      await ws.next((f) => f.type === 'ack' && f.re === 's', 'subscribed');
      const created = await schedule({ to: ['+16175550402'], text: 'Told live', scheduledAt: clock.now() + 3600_000 });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const id = created.body.id as string;
      expect((await t.http.post(`/api/v1/campaigns/${id}/cancel`, {}, org.member.token)).status).toBe(200);
      const cancelled = await ws.next((f) => f.type === 'campaign' && f.id === id && f.state === 'cancelled', 'the cancelled event');
      expect(cancelled).toMatchObject({ kind: 'message', accountId: org.account.id });
    } finally {
      ws.close();
    }
  });

  it('is listed with the account’s campaigns, by kind, and answers a retry with the same key once', async () => {
    const body = { to: ['+16175550401'], text: 'Once', scheduledAt: clock.now() + 3600_000 };
    const first = await schedule(body, org.member.token, { 'idempotency-key': 'later-1' });
    const again = await schedule(body, org.member.token, { 'idempotency-key': 'later-1' });
    expect([first.status, again.status]).toEqual([201, 201]);
    expect(again.body).toEqual(first.body);
    const other = await schedule({ ...body, text: 'Other' }, org.member.token, { 'idempotency-key': 'later-1' });
    expect([other.status, other.body.error?.code]).toEqual([422, 'idempotency_key_reused']);
    const campaign = await t.http.post('/api/v1/campaigns', { groupAccountCode: org.account.apiCode, name: 'A campaign', text: 'Hello', recipients: { phones: ['+16175550402'] } }, org.member.token);
    const list = async (query: string) => ((await t.http.get(`/api/v1/campaigns?account=${org.account.apiCode}${query}`, org.member.token)).body.items as CampaignBody[]).map((c) => c.id);
    const messages = await list('&kind=message');
    expect(messages.filter((id) => id === first.body.id)).toHaveLength(1);
    expect(messages).not.toContain(campaign.body.id);
    expect(await list('&kind=campaign')).not.toContain(first.body.id);
    expect(await list('')).toEqual(expect.arrayContaining([first.body.id, campaign.body.id]));
    expect((await t.http.post(`/api/v1/campaigns/${first.body.id}/cancel`, {}, org.member.token)).body.state).toBe('cancelled');
  });

  it('is refused to a staff member without access to the account, and hidden from them', async () => {
    const body = { to: ['+16175550403'], text: 'Not yours', scheduledAt: clock.now() + 3600_000 };
    const denied = await schedule(body, org.nonMember.token);
    expect([denied.status, denied.body.error?.code]).toEqual([404, 'not_found']);
    const created = await schedule(body);
    const id = created.body.id as string;
    expect((await t.http.get(`/api/v1/campaigns/${id}`, org.nonMember.token)).status).toBe(404);
    expect((await t.http.post(`/api/v1/campaigns/${id}/cancel`, {}, org.nonMember.token)).status).toBe(404);
    expect((await t.http.get(`/api/v1/campaigns?account=${org.account.apiCode}&kind=message`, org.nonMember.token)).status).toBe(404);
    await t.http.post(`/api/v1/campaigns/${id}/cancel`, {}, org.member.token);
  });

  it('refuses the personal-account options that pick senders or recipients at send time', async () => {
    const when = clock.now() + 3600_000;
    const mine = await t.http.post('/api/v1/messages', { to: [], text: 'Hi', sendToMyStudentsOnly: true, scheduledAt: when }, org.member.token);
    expect([mine.status, mine.body.error?.code]).toEqual([422, 'not_schedulable']);
    const asStaff = await t.http.post('/api/v1/messages', { to: [student('Ana').id], text: 'Hi', sendAsStaff: true, scheduledAt: when }, org.deptAdmin.token);
    expect([asStaff.status, asStaff.body.error?.code]).toEqual([422, 'not_schedulable']);
    const group = await schedule({ to: [student('Ana').id], text: 'Hi', sendAsStaff: true, scheduledAt: when });
    expect([group.status, group.body.error?.code]).toEqual([422, 'group_account_option']);
    const personal = await t.http.post('/api/v1/messages', { to: ['+16175550404'], text: 'From me, later', scheduledAt: when }, org.member.token);
    expect([personal.status, personal.body.kind, personal.body.state]).toEqual([201, 'message', 'scheduled']);
    const listed = await t.http.get('/api/v1/campaigns?account=personal&kind=message', org.member.token);
    expect(listed.body.items.map((c: CampaignBody) => c.id)).toContain(personal.body.id);
    await t.http.post(`/api/v1/campaigns/${personal.body.id}/cancel`, {}, org.member.token);
  });
});

describe('a scheduled message across a restart', () => {
  it('is sent once at its time by the node that starts on the same data', async () => {
    const dir = tempDir();
    try {
      const start = at('2026-01-05T08:00:00-05:00');
      const first = await startTestSwitchboard(ENV, { clock: new ManualClock(start), dataDir: dir.path });
      let id: string;
      let phone: string;
      let token: string;
      try {
        const org = await buildOrg(first, { timeZone: 'America/New_York' });
        const ben = org.students.find((s) => s.firstName === 'Ben')!;
        phone = ben.phone;
        token = org.member.token;
        const created = await first.http.post('/api/v1/messages', { groupAccountCode: org.account.apiCode, to: [ben.id], text: 'After the restart', scheduledAt: at('2026-01-05T09:00:00-05:00') }, token);
        expect(created.status, JSON.stringify(created.body)).toBe(201);
        id = created.body.id as string;
        await until(first.sb.core.events, async () => (await first.http.get(`/api/v1/campaigns/${id}`, token)).body.counts.total === 1, 'the recipient read');
        expect(received(first, phone)).toEqual([]);
      } finally {
        await first.close();
      }

      const clock = new ManualClock(start + 30 * 60_000);
      const second = await startTestSwitchboard(ENV, { clock, dataDir: dir.path });
      try {
        expect((await second.http.get(`/api/v1/campaigns/${id}`, token)).body.state).toBe('scheduled');
        clock.advance(at('2026-01-05T09:00:00-05:00') - clock.now());
        await until(second.sb.core.events, async () => (await second.http.get(`/api/v1/campaigns/${id}`, token)).body.state === 'completed', 'the message sent after the restart');
        await until(second.sb.core.events, async () => received(second, phone).length === 1, 'the text at the phone');
        clock.advance(3600_000);
        expect(received(second, phone)).toEqual(['After the restart']);
      } finally {
        await second.close();
      }
    } finally {
      dir.remove();
    }
  });
});
