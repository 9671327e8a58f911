import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { startTestSwitchboard, type TestSwitchboard } from '../helpers/switchboard.js';
import { PASSWORD, buildOrg, conversationWith, login, type Org } from '../helpers/org.js';
import { WsClient } from '../helpers/ws-client.js';

// Changes to a person reach their open connections at once, on real WebSocket clients: a
// password reset by an admin closes every socket of theirs (4001), and leaving a department
// takes the department's group accounts with it (access_revoked, locks released, REST 404).

const clock = new ManualClock(Date.parse('2026-01-05T10:00:00-05:00'));
let t: TestSwitchboard;
let org: Org;
const clients: WsClient[] = [];

beforeAll(async () => {
  t = await startTestSwitchboard({}, { clock });
  org = await buildOrg(t);
});
afterEach(() => {
  clients.splice(0).forEach((c) => c.close());
});
afterAll(async () => t?.close());

async function connect(token: string): Promise<WsClient> {
  const c = await WsClient.connect(t.sb.wsUrl, token);
  clients.push(c);
  return c;
}

let seq = 0;
/** A staff member of the account's department who is a member of the group account, signed in. */
async function newMember(): Promise<{ id: string; email: string; token: string }> {
  const email = `member${++seq}@college.edu`;
  const r = await t.http.post('/api/v1/users', { email, name: `Member ${seq}`, role: 'staff', departmentIds: [org.departmentId], password: PASSWORD, personalAreaCode: '617' }, org.owner.token);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  const members = await t.http.get(`/api/v1/group-accounts/${org.account.apiCode}/members`, org.owner.token);
  const put = await t.http.put(`/api/v1/group-accounts/${org.account.apiCode}/members`, { memberIds: [...members.body.memberIds, r.body.id] }, org.owner.token);
  expect(put.status, JSON.stringify(put.body)).toBe(200);
  return { id: r.body.id, email, token: await login(t, email) };
}

/** A fresh conversation in the group account: a new student texts in. */
async function newConversation(): Promise<string> {
  return conversationWith(t, org, `+1617555${String(3000 + ++seq).padStart(4, '0')}`, 'Hello?');
}

describe("an admin's password reset", () => {
  it("closes every socket of the person with 4001 and releases their locks", async () => {
    const person = await newMember();
    const conversationId = await newConversation();
    const second = await login(t, person.email);
    const tabs = [await connect(person.token), await connect(second)];
    const observer = await connect(org.deptAdmin.token);
    await observer.request({ type: 'subscribe', account: org.account.apiCode });
    expect((await tabs[0]!.request({ type: 'open', conversationId })).granted).toBe(true);

    const mark = observer.mark();
    const r = await t.http.patch(`/api/v1/users/${person.id}`, { password: 'reset by the owner' }, org.owner.token);
    expect(r.status).toBe(200);
    for (const tab of tabs) expect((await tab.waitClosed(2_000)).code).toBe(4001);
    await observer.next((f) => f.type === 'lock' && f.conversationId === conversationId && f.state === 'idle', 'the lock released', 2_000, mark);
    expect((await t.http.get('/api/v1/me', person.token)).status).toBe(401);
    expect((await t.http.get('/api/v1/me', second)).status).toBe(401);
  });
});

describe('leaving a department', () => {
  it("leaves its group accounts at once: lock released, socket told, REST answers 404", async () => {
    const person = await newMember();
    const conversationId = await newConversation();
    const ws = await connect(person.token);
    await ws.request({ type: 'subscribe', account: org.account.apiCode });
    const observer = await connect(org.deptAdmin.token);
    await observer.request({ type: 'subscribe', account: org.account.apiCode });
    expect((await ws.request({ type: 'open', conversationId })).granted).toBe(true);
    expect((await t.http.get(`/api/v1/accounts/${org.account.apiCode}/conversations?folder=inbox`, person.token)).status).toBe(200);

    const mark = observer.mark();
    const moved = await t.http.patch(`/api/v1/users/${person.id}`, { departmentIds: [org.otherDepartmentId] }, org.owner.token);
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);

    await ws.next((f) => f.type === 'error' && f.code === 'access_revoked' && f.accountId === org.account.id, 'the access_revoked notice', 2_000);
    await ws.next((f) => f.type === 'released' && f.conversationId === conversationId && f.reason === 'revoked', 'the lock released to its holder', 2_000);
    await observer.next((f) => f.type === 'lock' && f.conversationId === conversationId && f.state === 'idle', 'the lock released', 2_000, mark);
    // Still signed in, but the account is gone for them, as if it never existed.
    expect((await t.http.get('/api/v1/me', person.token)).body.accounts.map((a: { id: string }) => a.id)).not.toContain(org.account.id);
    expect((await t.http.get(`/api/v1/accounts/${org.account.apiCode}/conversations?folder=inbox`, person.token)).status).toBe(404);
    expect((await t.http.get(`/api/v1/conversations/${conversationId}`, person.token)).status).toBe(404);
    expect((await ws.request({ type: 'open', conversationId })).code).toBe('not_found');
    // The membership itself is gone from the store, not only hidden.
    expect(await t.sb.store.accounts.listMembers(org.account.id)).not.toContain(person.id);

    // Coming back to the department does not bring the membership back.
    await t.http.patch(`/api/v1/users/${person.id}`, { departmentIds: [org.departmentId] }, org.owner.token);
    expect((await t.http.get(`/api/v1/accounts/${org.account.apiCode}/conversations?folder=inbox`, person.token)).status).toBe(404);
  });

  it("keeps the group accounts of the departments the person stays in", async () => {
    const person = await newMember();
    const moved = await t.http.patch(`/api/v1/users/${person.id}`, { departmentIds: [org.departmentId, org.otherDepartmentId] }, org.owner.token);
    expect(moved.status).toBe(200);
    expect(await t.sb.store.accounts.listMembers(org.account.id)).toContain(person.id);
    expect((await t.http.get(`/api/v1/accounts/${org.account.apiCode}/conversations?folder=inbox`, person.token)).status).toBe(200);
  });

  it("cuts off a department admin's sockets from the department's accounts too", async () => {
    const r = await t.http.post('/api/v1/users', { email: `admin${++seq}@college.edu`, name: 'Ada Admin', role: 'deptAdmin', departmentIds: [org.departmentId], password: PASSWORD, personalAreaCode: '617' }, org.owner.token);
    const token = await login(t, `admin${seq}@college.edu`);
    const conversationId = await newConversation();
    const ws = await connect(token);
    await ws.request({ type: 'subscribe', account: org.account.apiCode });
    expect((await ws.request({ type: 'open', conversationId })).granted).toBe(true);

    expect((await t.http.patch(`/api/v1/users/${r.body.id}`, { departmentIds: [org.otherDepartmentId] }, org.owner.token)).status).toBe(200);
    await ws.next((f) => f.type === 'error' && f.code === 'access_revoked' && f.accountId === org.account.id, 'the access_revoked notice', 2_000);
    await ws.next((f) => f.type === 'released' && f.conversationId === conversationId && f.reason === 'revoked', 'the lock released', 2_000);
    expect((await t.http.get(`/api/v1/accounts/${org.account.apiCode}/conversations?folder=inbox`, token)).status).toBe(404);
  });

  it('gives a membership left behind in the store no access once its holder is out of the department', async () => {
    const person = await newMember();
    // As if the membership outlived the move (a store written before memberships were removed
    // with it, or a write racing the move): the access check itself must ignore it.
    await t.sb.store.users.update(person.id, { departmentIds: [org.otherDepartmentId] });
    const members = await t.sb.store.accounts.listMembers(org.account.id);
    await t.sb.store.accounts.setMembers(org.account.id, [...new Set([...members, person.id])]);

    expect((await t.http.get(`/api/v1/accounts/${org.account.apiCode}/conversations?folder=inbox`, person.token)).status).toBe(404);
    expect((await t.http.get(`/api/v1/group-accounts/${org.account.apiCode}`, person.token)).status).toBe(404);
    expect((await t.http.get('/api/v1/me', person.token)).body.accounts.map((a: { id: string }) => a.id)).not.toContain(org.account.id);
    const ws = await connect(person.token);
    expect((await ws.request({ type: 'subscribe', account: org.account.apiCode })).code).toBe('not_found');
    await t.sb.store.accounts.setMembers(org.account.id, members);
  });
});
