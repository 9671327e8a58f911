import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSwitchboard, type TestSwitchboard } from '../helpers/switchboard.js';
import { buildOrg, type Org } from '../helpers/org.js';

// Every route × every kind of caller. A user without access to a group account must see nothing
// of it (404, as if it did not exist), a user with access but without admin rights may read and
// send but not manage (403), and no session is 401 everywhere.

let t: TestSwitchboard;
let org: Org;
let conversationId: string;

type Who = 'owner' | 'deptAdmin' | 'member' | 'nonMember' | 'otherAdmin' | 'none';
const WHO: Who[] = ['owner', 'deptAdmin', 'member', 'nonMember', 'otherAdmin', 'none'];

beforeAll(async () => {
  t = await startTestSwitchboard();
  org = await buildOrg(t);
  const r = await t.http.post('/api/v1/messages', { groupAccountCode: org.account.apiCode, to: [org.students[0]!.id], text: 'Hello' }, org.member.token);
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  conversationId = r.body.messages[0].conversationId;
});
afterAll(async () => t?.close());

function token(who: Who): string | undefined {
  return who === 'none' ? undefined : org[who].token;
}

interface Case {
  name: string;
  method: string;
  path: () => string;
  body?: () => unknown;
  expect: Record<Who, number>;
}

const readAccount = { owner: 200, deptAdmin: 200, member: 200, nonMember: 404, otherAdmin: 404, none: 401 };
const manageAccount = { owner: 200, deptAdmin: 200, member: 403, nonMember: 404, otherAdmin: 404, none: 401 };
const sendFromAccount = { owner: 202, deptAdmin: 202, member: 202, nonMember: 404, otherAdmin: 404, none: 401 };
const adminsOnly = { owner: 200, deptAdmin: 200, member: 403, nonMember: 403, otherAdmin: 200, none: 401 };
const everyone = { owner: 200, deptAdmin: 200, member: 200, nonMember: 200, otherAdmin: 200, none: 401 };

const cases: Case[] = [
  { name: 'GET /me', method: 'GET', path: () => '/api/v1/me', expect: everyone },
  { name: 'GET /departments', method: 'GET', path: () => '/api/v1/departments', expect: everyone },
  { name: 'POST /departments', method: 'POST', path: () => '/api/v1/departments', body: () => ({ name: 'Registrar', code: `R${Math.floor(Math.random() * 1e6)}` }), expect: { owner: 201, deptAdmin: 403, member: 403, nonMember: 403, otherAdmin: 403, none: 401 } },
  { name: 'GET /users', method: 'GET', path: () => '/api/v1/users', expect: adminsOnly },
  { name: 'GET /users/{member}', method: 'GET', path: () => `/api/v1/users/${org.member.id}`, expect: { owner: 200, deptAdmin: 200, member: 200, nonMember: 404, otherAdmin: 404, none: 401 } },
  { name: 'PATCH /users/{member} role', method: 'PATCH', path: () => `/api/v1/users/${org.member.id}`, body: () => ({ role: 'staff' }), expect: { owner: 200, deptAdmin: 200, member: 403, nonMember: 404, otherAdmin: 404, none: 401 } },
  { name: 'GET /contacts', method: 'GET', path: () => '/api/v1/contacts', expect: everyone },
  { name: 'POST /contacts/import', method: 'POST', path: () => '/api/v1/contacts/import', body: () => ({ csv: 'Phone,FirstName\n+16175550188,Zed' }), expect: adminsOnly },
  { name: 'GET /numbers/available', method: 'GET', path: () => '/api/v1/numbers/available?areaCode=212&limit=2', expect: adminsOnly },
  {
    name: 'POST /group-accounts (denials)',
    method: 'POST',
    path: () => '/api/v1/group-accounts',
    body: () => ({ name: 'Second', departmentId: org.departmentId, color: '#000000', numbers: ['+12125550001', '+12125550002', '+12125550003', '+12125550004', '+12125550005', '+12125550006'], memberIds: [] }),
    expect: { owner: -1, deptAdmin: -1, member: 403, nonMember: 403, otherAdmin: 404, none: 401 },
  },
  { name: 'GET /group-accounts/{code}', method: 'GET', path: () => `/api/v1/group-accounts/${org.account.apiCode}`, expect: readAccount },
  { name: 'GET /group-accounts/{code}/members', method: 'GET', path: () => `/api/v1/group-accounts/${org.account.apiCode}/members`, expect: readAccount },
  { name: 'PATCH /group-accounts/{code}', method: 'PATCH', path: () => `/api/v1/group-accounts/${org.account.apiCode}`, body: () => ({ color: '#123456' }), expect: manageAccount },
  { name: 'PUT /group-accounts/{code}/members', method: 'PUT', path: () => `/api/v1/group-accounts/${org.account.apiCode}/members`, body: () => ({ memberIds: [org.member.id] }), expect: manageAccount },
  { name: 'DELETE /group-accounts/{code} (denials)', method: 'DELETE', path: () => `/api/v1/group-accounts/${org.account.apiCode}`, expect: { owner: -1, deptAdmin: -1, member: 403, nonMember: 404, otherAdmin: 404, none: 401 } },
  { name: 'GET /accounts/{code}/conversations', method: 'GET', path: () => `/api/v1/accounts/${org.account.apiCode}/conversations?folder=archived`, expect: readAccount },
  { name: 'GET /conversations/{id}', method: 'GET', path: () => `/api/v1/conversations/${conversationId}`, expect: readAccount },
  { name: 'GET /conversations/{id}/messages', method: 'GET', path: () => `/api/v1/conversations/${conversationId}/messages`, expect: readAccount },
  { name: 'POST /conversations/{id}/archive', method: 'POST', path: () => `/api/v1/conversations/${conversationId}/archive`, expect: readAccount },
  { name: 'POST /conversations/{id}/unarchive', method: 'POST', path: () => `/api/v1/conversations/${conversationId}/unarchive`, expect: readAccount },
  // Replies in a group account need the lock (taken over WebSocket; see ws-locks.test.ts): with
  // access and no lock the answer is lock_required, without access the conversation does not exist.
  { name: 'POST /conversations/{id}/messages without the lock', method: 'POST', path: () => `/api/v1/conversations/${conversationId}/messages`, body: () => ({ text: 'Reply' }), expect: { owner: 409, deptAdmin: 409, member: 409, nonMember: 404, otherAdmin: 404, none: 401 } },
  { name: 'GET /locks of the department', method: 'GET', path: () => `/api/v1/locks?departmentId=${org.departmentId}`, expect: { owner: 200, deptAdmin: 200, member: 403, nonMember: 403, otherAdmin: 404, none: 401 } },
  { name: 'POST /messages from the group account', method: 'POST', path: () => '/api/v1/messages', body: () => ({ groupAccountCode: org.account.apiCode, to: [org.students[1]!.id], text: 'Hi' }), expect: sendFromAccount },
  { name: 'GET /accounts/personal/conversations', method: 'GET', path: () => '/api/v1/accounts/personal/conversations', expect: everyone },
];

describe('the access matrix', () => {
  for (const c of cases) {
    for (const who of WHO) {
      const want = c.expect[who];
      if (want < 0) continue; // success paths with side effects are covered by the loop tests
      it(`${c.name} as ${who} → ${want}`, async () => {
        const r = await t.http.request(c.method, c.path(), { token: token(who), ...(c.body ? { json: c.body() } : {}) });
        expect(r.status, JSON.stringify(r.body)).toBe(want);
        if (want >= 400) expect(r.body.error.code).toEqual(expect.any(String));
      });
    }
  }

  it('lists the group account only to those with access, and never names it to others', async () => {
    for (const who of ['owner', 'deptAdmin', 'member'] as const) {
      const r = await t.http.get('/api/v1/group-accounts', org[who].token);
      expect(r.body.items.map((a: { apiCode: string }) => a.apiCode)).toContain(org.account.apiCode);
    }
    for (const who of ['nonMember', 'otherAdmin'] as const) {
      const list = await t.http.get('/api/v1/group-accounts', org[who].token);
      expect(list.body.items).toEqual([]);
      const me = await t.http.get('/api/v1/me', org[who].token);
      expect(JSON.stringify(me.body)).not.toContain('Admissions Outreach');
    }
  });

  it('refuses the personal-account options on a group account with a clear error', async () => {
    for (const option of ['sendToMyStudentsOnly', 'sendAsStaff']) {
      const r = await t.http.post('/api/v1/messages', { groupAccountCode: org.account.apiCode, to: [org.students[0]!.id], text: 'x', [option]: true }, org.deptAdmin.token);
      expect(r.status).toBe(422);
      expect(r.body.error.code).toBe('group_account_option');
    }
  });

  it('scopes API keys to their department', async () => {
    const created = await t.http.post(`/api/v1/departments/${org.departmentId}/api-keys`, { name: 'CRM' }, org.deptAdmin.token);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const key = created.body.key as string;
    expect((await t.http.get(`/api/v1/group-accounts/${org.account.apiCode}`, key)).status).toBe(200);
    const sent = await t.http.post('/api/v1/messages', { groupAccountCode: org.account.apiCode, to: [org.students[2]!.id], text: 'From the CRM' }, key);
    expect(sent.status, JSON.stringify(sent.body)).toBe(202);

    const other = await t.http.post(`/api/v1/departments/${org.otherDepartmentId}/api-keys`, { name: 'FA' }, org.otherAdmin.token);
    expect((await t.http.get(`/api/v1/group-accounts/${org.account.apiCode}`, other.body.key)).status).toBe(404);
    // Staff cannot mint keys; another department's admin cannot see this department's keys.
    expect((await t.http.post(`/api/v1/departments/${org.departmentId}/api-keys`, { name: 'x' }, org.member.token)).status).toBe(403);
    expect((await t.http.get(`/api/v1/departments/${org.departmentId}/api-keys`, org.otherAdmin.token)).status).toBe(404);

    // The list shows which keys exist, never the keys themselves.
    const listed = await t.http.get(`/api/v1/departments/${org.departmentId}/api-keys`, org.deptAdmin.token);
    expect(listed.body.items).toContainEqual({ ...created.body.apiKey, revokedAt: null });
    expect(JSON.stringify(listed.body)).not.toContain(key);

    const revoked = await t.http.delete(`/api/v1/departments/${org.departmentId}/api-keys/${created.body.apiKey.id}`, org.deptAdmin.token);
    expect(revoked.status).toBe(204);
    expect((await t.http.get(`/api/v1/group-accounts/${org.account.apiCode}`, key)).status).toBe(401);
  });

  it("lets the department's admin delete a group account: its numbers go back, it is gone", async () => {
    const numbers = (await t.http.get('/api/v1/numbers/available?areaCode=312&limit=6', org.deptAdmin.token)).body.items.map((n: { number: string }) => n.number);
    const created = await t.http.post('/api/v1/group-accounts', { name: 'Short Lived', departmentId: org.departmentId, color: '#336699', numbers, memberIds: [] }, org.deptAdmin.token);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect((await t.http.delete(`/api/v1/group-accounts/${created.body.apiCode}`, org.deptAdmin.token)).status).toBe(204);
    expect((await t.http.get(`/api/v1/group-accounts/${created.body.apiCode}`, org.deptAdmin.token)).status).toBe(404);
    const again = (await t.http.get('/api/v1/numbers/available?areaCode=312&limit=20', org.deptAdmin.token)).body.items.map((n: { number: string }) => n.number);
    expect(again).toEqual(expect.arrayContaining(numbers));
  });

  it('ends a session on sign-out', async () => {
    const login = await t.http.post('/api/v1/sessions', { email: 'sam@college.edu', password: 'correct horse battery' });
    const tok = login.body.token;
    expect((await t.http.get('/api/v1/me', tok)).status).toBe(200);
    expect((await t.http.delete('/api/v1/sessions', tok)).status).toBe(204);
    expect((await t.http.get('/api/v1/me', tok)).status).toBe(401);
  });

  it('refuses a wrong password without saying which part was wrong', async () => {
    const wrong = await t.http.post('/api/v1/sessions', { email: 'sam@college.edu', password: 'nope nope nope' });
    const unknown = await t.http.post('/api/v1/sessions', { email: 'nobody@college.edu', password: 'nope nope nope' });
    expect([wrong.status, unknown.status]).toEqual([401, 401]);
    expect(wrong.body.error).toEqual(unknown.body.error);
  });
});
