import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSwitchboard, type TestSwitchboard } from '../helpers/switchboard.js';
import { buildOrg, type Org } from '../helpers/org.js';

// Bad input from outside gets a clear error with a stable code and changes nothing.

let t: TestSwitchboard;
let org: Org;

beforeAll(async () => {
  t = await startTestSwitchboard();
  org = await buildOrg(t);
});
afterAll(async () => t?.close());

describe('request validation', () => {
  it('refuses a body that is not JSON, or not declared as JSON', async () => {
    const broken = await t.http.request('POST', '/api/v1/messages', { token: org.member.token, body: '{"text": ', headers: { 'content-type': 'application/json' } });
    expect([broken.status, broken.body.error.code]).toEqual([400, 'bad_request']);
    const wrongType = await t.http.request('POST', '/api/v1/messages', { token: org.member.token, body: '{}', headers: { 'content-type': 'text/plain' } });
    expect([wrongType.status, wrongType.body.error.code]).toEqual([415, 'unsupported_media_type']);
  });

  it('validates the people filter, and filters by department', async () => {
    const bad = await t.http.get('/api/v1/users?departmentId=admissions', org.owner.token);
    expect([bad.status, bad.body.error.code, bad.body.error.details[0].path]).toEqual([400, 'validation_failed', 'departmentId']);
    const other = await t.http.get(`/api/v1/users?departmentId=${org.otherDepartmentId}`, org.owner.token);
    expect(other.body.items.map((u: { id: string }) => u.id)).toEqual([org.otherAdmin.id]);
  });

  it('creates a contact with its phone in E.164, and reads it back', async () => {
    const created = await t.http.post('/api/v1/contacts', { firstName: 'Zoe', phone: '(617) 555-0177', customFields: { Program: 'Music' } }, org.member.token);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ firstName: 'Zoe', lastName: '', phone: '+16175550177', staffId: null, customFields: { Program: 'Music' } });
    const read = await t.http.get(`/api/v1/contacts/${created.body.id}`, org.member.token);
    expect(read.body).toEqual(created.body);
  });

  it('refuses unknown fields and names every bad field', async () => {
    const r = await t.http.post('/api/v1/contacts', { firstName: '', phone: 'call me', nickname: 'x' }, org.member.token);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('validation_failed');
    const paths = r.body.error.details.map((d: { path: string }) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['firstName', 'phone']));
    expect(JSON.stringify(r.body.error.details)).toContain('nickname');
  });

  it('refuses a body over the size limit with 413', async () => {
    const r = await t.http.request('POST', '/api/v1/contacts/import', { token: org.deptAdmin.token, body: 'x'.repeat(3 * 1024 * 1024), headers: { 'content-type': 'text/csv' } });
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe('payload_too_large');
  });

  it('refuses a group account that reuses a number of another account, naming it', async () => {
    const taken = org.account.numbers[0]!;
    const fresh = (await t.http.get('/api/v1/numbers/available?areaCode=212&limit=5', org.deptAdmin.token)).body.items.map((n: { number: string }) => n.number);
    const r = await t.http.post('/api/v1/group-accounts', { name: 'Copycat', departmentId: org.departmentId, color: '#000000', numbers: [taken, ...fresh], memberIds: [] }, org.deptAdmin.token);
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('number_taken');
    expect(r.body.error.message).toContain(taken);
    // A personal number is "another account" too.
    const personal = (await t.http.get('/api/v1/me', org.member.token)).body.accounts.find((a: { kind: string }) => a.kind === 'personal').numbers[0];
    const r2 = await t.http.post('/api/v1/group-accounts', { name: 'Copycat', departmentId: org.departmentId, color: '#000000', numbers: [personal, ...fresh], memberIds: [] }, org.deptAdmin.token);
    expect(r2.body.error.code).toBe('number_taken');
    // Nothing was rented for the refused attempts.
    const still = (await t.http.get('/api/v1/numbers/available?areaCode=212&limit=5', org.deptAdmin.token)).body.items.map((n: { number: string }) => n.number);
    expect(still).toEqual(fresh);
  });

  it('refuses an apiCode in use, members outside the department, and a forwarding number from the pool', async () => {
    const numbers = (await t.http.get('/api/v1/numbers/available?areaCode=415&limit=6', org.deptAdmin.token)).body.items.map((n: { number: string }) => n.number);
    const base = { name: 'Second', departmentId: org.departmentId, color: '#000000', numbers, memberIds: [] as string[] };
    expect((await t.http.post('/api/v1/group-accounts', { ...base, apiCode: org.account.apiCode }, org.deptAdmin.token)).body.error.code).toBe('api_code_taken');
    const outsider = await t.http.post('/api/v1/group-accounts', { ...base, memberIds: [org.otherAdmin.id] }, org.deptAdmin.token);
    expect([outsider.status, outsider.body.error.details[0].path]).toEqual([400, 'memberIds.0']);
    const loop = await t.http.post('/api/v1/group-accounts', { ...base, forwardingNumber: numbers[0] }, org.deptAdmin.token);
    expect([loop.status, loop.body.error.details[0].path]).toEqual([400, 'forwardingNumber']);
    // With those fixed it is created, with a generated apiCode.
    const ok = await t.http.post('/api/v1/group-accounts', base, org.deptAdmin.token);
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    expect(ok.body.apiCode).toBe('second');
  });

  it('imports nothing from a CSV with a bad row, and reports every bad row', async () => {
    const before = (await t.http.get('/api/v1/contacts?limit=500', org.deptAdmin.token)).body.items.length;
    const csv = 'FirstName,Phone,StaffId\nGood,+16175550150,\nBad,not-a-phone,\nDup,+16175550150,\nGhost,+16175550151,nobody@college.edu\n';
    const r = await t.http.request('POST', '/api/v1/contacts/import', { token: org.deptAdmin.token, body: csv, headers: { 'content-type': 'text/csv' } });
    expect(r.status).toBe(400);
    expect(r.body.error.details.map((d: { path: string }) => d.path)).toEqual(['row 3.Phone', 'row 4.Phone', 'row 5.StaffId']);
    expect((await t.http.get('/api/v1/contacts?limit=500', org.deptAdmin.token)).body.items.length).toBe(before);
    const unterminated = await t.http.request('POST', '/api/v1/contacts/import', { token: org.deptAdmin.token, body: 'Phone\n"+1617', headers: { 'content-type': 'text/csv' } });
    expect(unterminated.body.error.message).toMatch(/unterminated/);
  });

  it('holds a CSV import to the custom-field limits of the API', async () => {
    const imp = (csv: string) => t.http.request('POST', '/api/v1/contacts/import', { token: org.deptAdmin.token, body: csv, headers: { 'content-type': 'text/csv' } });
    const fields = (n: number) => Array.from({ length: n }, (_, i) => `Field${i + 1}`);
    const file = (names: string[], phone: string) => `Phone,${names.join(',')}\n${phone},${names.map((_, i) => `v${i + 1}`).join(',')}\n`;

    // The API refuses a 51st custom field...
    const rest = await t.http.post('/api/v1/contacts', { firstName: 'Fifty', phone: '+16175550160', customFields: Object.fromEntries(fields(51).map((f) => [f, 'x'])) }, org.deptAdmin.token);
    expect([rest.status, rest.body.error.code]).toEqual([400, 'validation_failed']);
    // ...and so does the import, for 51 columns as for 3,000, naming the limit.
    for (const n of [51, 3000]) {
      const r = await imp(file(fields(n), '+16175550161'));
      expect([r.status, r.body.error.code]).toEqual([400, 'validation_failed']);
      expect(r.body.error.details).toEqual([{ path: 'header', message: expect.stringContaining('at most 50') }]);
    }
    // Fifty is fine (and the refused files created nothing: the contact is new).
    expect((await imp(file(fields(50), '+16175550161'))).body).toEqual({ created: 1, updated: 0 });

    // A value longer than the API allows is a bad row, not a silently shortened one.
    const long = await imp(`Phone,Program\n+16175550162,${'x'.repeat(501)}\n`);
    expect(long.body.error.details).toEqual([{ path: 'row 2.Program', message: 'longer than 500 characters' }]);
    // Two headings that make the same field name would overwrite each other.
    const clash = await imp('Phone,Start Term,Start_Term\n+16175550163,a,b\n');
    expect([clash.status, clash.body.error.details[0].path]).toEqual([400, 'header']);
  });

  it('counts every bad row of an import but reports at most 200 of them', async () => {
    const rows = Array.from({ length: 300 }, (_, i) => `Row${i},not-a-phone`).join('\n');
    const r = await t.http.request('POST', '/api/v1/contacts/import', { token: org.deptAdmin.token, body: `FirstName,Phone\n${rows}\n`, headers: { 'content-type': 'text/csv' } });
    expect(r.body.error.message).toMatch(/^300 row\(s\) need fixing/);
    expect(r.body.error.details).toHaveLength(200);
    expect(r.body.error.details[199].path).toBe('row 201.Phone');
  });

  it('applies StaffId on import: a value assigns, a blank cell clears, a missing column leaves it', async () => {
    const ana = org.students.find((s) => s.firstName === 'Ana')!;
    const get = async () => (await t.http.get(`/api/v1/contacts/${ana.id}`, org.deptAdmin.token)).body;
    expect((await get()).staffId).toBe(org.member.id);
    const imp = (csv: string) => t.http.request('POST', '/api/v1/contacts/import', { token: org.deptAdmin.token, body: csv, headers: { 'content-type': 'text/csv' } });
    expect((await imp(`Phone,Program\n${ana.phone},Law`)).body).toEqual({ created: 0, updated: 1 });
    expect(await get()).toMatchObject({ staffId: org.member.id, customFields: { Program: 'Law' } });
    await imp(`Phone,StaffId\n${ana.phone},`);
    expect((await get()).staffId).toBeNull();
    await imp(`Phone,StaffId\n${ana.phone},sam@college.edu`);
    expect((await get()).staffId).toBe(org.nonMember.id);
  });

  it('explains why a compose is refused', async () => {
    const send = (body: Record<string, unknown>) => t.http.post('/api/v1/messages', { groupAccountCode: org.account.apiCode, to: [org.students[0]!.id], ...body }, org.member.token);
    expect((await send({ text: '   ' })).body.error.code).toBe('message_empty');
    expect((await send({ text: 'x'.repeat(307) })).body.error.code).toBe('message_too_long');
    expect((await send({ text: 'é'.repeat(306) })).status).toBe(202); // characters, not segments
    const typo = await send({ text: 'Hi {FirstNmae}' });
    expect([typo.body.error.code, typo.body.error.message]).toEqual(['validation_failed', expect.stringContaining('{FirstNmae}')]);
    expect((await send({ text: 'x', to: [] })).body.error.code).toBe('no_recipients');
    expect((await send({ text: 'x', to: ['01J0000000000000000000000Z'] })).body.error.code).toBe('validation_failed');
    expect((await send({ text: 'x', groupAccountCode: 'no-such-account' })).status).toBe(404);
    const both = await t.http.post('/api/v1/messages', { to: [org.students[0]!.id], text: 'x', sendToMyStudentsOnly: true, sendAsStaff: true }, org.deptAdmin.token);
    expect(both.body.error.code).toBe('conflicting_options');
    const staffAsStaff = await t.http.post('/api/v1/messages', { to: [org.students[0]!.id], text: 'x', sendAsStaff: true }, org.member.token);
    expect(staffAsStaff.status).toBe(403);
  });

  it('measures encoding and segments as a client shows them', async () => {
    const r = await t.http.post('/api/v1/messages/measure', { text: 'Hello {FirstName} 👋' }, org.member.token);
    expect(r.body).toMatchObject({ encoding: 'UCS-2', segments: 1, maxLength: 306 });
  });
});
