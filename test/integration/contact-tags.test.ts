import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSwitchboard, type TestSwitchboard } from '../helpers/switchboard.js';
import { buildOrg, type Org } from '../helpers/org.js';
import { until } from '../helpers/wait.js';

// Tags on contacts through every way a contact is written (create, CSV import), who may set them,
// and a campaign whose saved filter selects contacts by tags. Real gateway, SQLite, simulator.

describe('contact tags', () => {
  let t: TestSwitchboard;
  let org: Org;

  beforeAll(async () => {
    t = await startTestSwitchboard();
    org = await buildOrg(t);
  });
  afterAll(async () => t?.close());

  const importCsv = (csv: string, token: string) => t.http.request('POST', '/api/v1/contacts/import', { token, body: csv, headers: { 'content-type': 'text/csv' } });
  const byPhone = async (phone: string) => {
    const r = await t.http.get(`/api/v1/contacts?search=${encodeURIComponent(phone)}`, org.deptAdmin.token);
    return (r.body.items as Array<{ id: string; phone: string; tags: string[] }>).find((c) => c.phone === phone);
  };

  it('takes tags on create (stored lowercase, each once) and refuses bad ones with the field', async () => {
    const created = await t.http.post('/api/v1/contacts', { firstName: 'Dee', phone: '+16175550301', tags: ['Fall-2026', 'transfer', 'TRANSFER'] }, org.member.token);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.tags).toEqual(['fall-2026', 'transfer']);
    expect((await t.http.get(`/api/v1/contacts/${created.body.id}`, org.member.token)).body.tags).toEqual(['fall-2026', 'transfer']);
    const bad = await t.http.post('/api/v1/contacts', { firstName: 'Eve', phone: '+16175550302', tags: ['ok', 'no;semicolons'] }, org.member.token);
    expect([bad.status, bad.body.error?.code, bad.body.error?.details?.[0]?.path]).toEqual([400, 'validation_failed', 'tags']);
  });

  it('imports a Tags column (";" between tags), reports a bad cell by row and column, and lets only admins import', async () => {
    const good = await importCsv('FirstName,Phone,Tags\nFay,+16175550311,Fall-2026;Honors\nGus,+16175550312,', org.deptAdmin.token);
    expect(good.status, JSON.stringify(good.body)).toBe(200);
    expect((await byPhone('+16175550311'))?.tags).toEqual(['fall-2026', 'honors']);
    expect((await byPhone('+16175550312'))?.tags).toEqual([]);

    const bad = await importCsv('FirstName,Phone,Tags\nFay,+16175550311,honors\nHal,+16175550313,<b>bold</b>', org.deptAdmin.token);
    expect([bad.status, bad.body.error?.code, bad.body.error?.details?.[0]?.path]).toEqual([400, 'validation_failed', 'row 3.Tags']);
    expect((await byPhone('+16175550311'))?.tags).toEqual(['fall-2026', 'honors']);

    // Changing contacts is an admin’s job (docs/access.md): a staff member’s import is refused and changes nothing.
    const denied = await importCsv('Phone,Tags\n+16175550311,hacked', org.member.token);
    expect([denied.status, denied.body.error?.code]).toEqual([403, 'forbidden']);
    expect((await byPhone('+16175550311'))?.tags).toEqual(['fall-2026', 'honors']);
  });

  it('lets admins change a contact’s tags, and refuses a staff member who may not change contacts', async () => {
    const created = await t.http.post('/api/v1/contacts', { firstName: 'Max', phone: '+16175550331', tags: ['prospect'] }, org.member.token);
    const id = created.body.id as string;
    const denied = await t.http.patch(`/api/v1/contacts/${id}`, { tags: ['admitted'] }, org.member.token);
    expect([denied.status, denied.body.error?.code]).toEqual([403, 'forbidden']);
    expect((await t.http.get(`/api/v1/contacts/${id}`, org.member.token)).body.tags).toEqual(['prospect']);

    const changed = await t.http.patch(`/api/v1/contacts/${id}`, { tags: ['Admitted', 'fall-2026'] }, org.deptAdmin.token);
    expect([changed.status, changed.body.tags, changed.body.firstName]).toEqual([200, ['admitted', 'fall-2026'], 'Max']);
    const bad = await t.http.patch(`/api/v1/contacts/${id}`, { tags: ['x'.repeat(41)] }, org.deptAdmin.token);
    expect([bad.status, bad.body.error?.code, bad.body.error?.details?.[0]?.path]).toEqual([400, 'validation_failed', 'tags']);
    const missing = await t.http.patch('/api/v1/contacts/01J00000000000000000000000', { tags: [] }, org.deptAdmin.token);
    expect([missing.status, missing.body.error?.code]).toEqual([404, 'not_found']);
  });

  it('sends a campaign filtered by tags to exactly the contacts carrying all of them', async () => {
    const csv = [
      'FirstName,Phone,Tags',
      'Ida,+16175550321,cohort-b;transfer',
      'Jon,+16175550322,Cohort-B',
      'Kim,+16175550323,transfer',
      'Lea,+16175550324,COHORT-B; Transfer',
    ].join('\n');
    expect((await importCsv(csv, org.deptAdmin.token)).status).toBe(200);
    const created = await t.http.post(
      '/api/v1/campaigns',
      { groupAccountCode: org.account.apiCode, name: 'Transfers of cohort B', text: 'Hi {FirstName}', recipients: { filter: { tags: ['Transfer', 'cohort-b'] } } },
      org.member.token,
    );
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;
    expect((await t.http.post(`/api/v1/campaigns/${id}/start`, {}, org.member.token)).status).toBe(200);
    const done = await until(t.sb.core.events, async () => {
      const c = (await t.http.get(`/api/v1/campaigns/${id}`, org.member.token)).body;
      return c.state === 'completed' ? c : null;
    }, 'the completed campaign');
    expect(done.counts.total).toBe(2);
    const texted = t.sb.simulator!
      .listMessages({ direction: 'outbound', limit: 1000, offset: 0 })
      .rows.filter((m) => m.text.startsWith('Hi '))
      .map((m) => m.text)
      .sort();
    expect(texted).toEqual(['Hi Ida', 'Hi Lea']);

    const badFilter = await t.http.post(
      '/api/v1/campaigns',
      { groupAccountCode: org.account.apiCode, name: 'Bad', text: 'Hi', recipients: { filter: { tags: ['a;b'] } } },
      org.member.token,
    );
    expect([badFilter.status, badFilter.body.error?.code]).toEqual([400, 'validation_failed']);
  });
});
