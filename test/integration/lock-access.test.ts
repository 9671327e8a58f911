import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestSwitchboard, type TestSwitchboard } from '../helpers/switchboard.js';
import { buildOrg, conversationWith, login, PASSWORD, type Org } from '../helpers/org.js';
import { WsClient } from '../helpers/ws-client.js';

// The lock commands judge access on every command (the person's record, their membership, which
// only an admin of the department does without), but a node keeps what it read of the
// conversation's account and of memberships (test/integration/ws-locks.test.ts counts the reads)
// until a change of them is announced. A removed or added membership, a person moved out of the
// department and a deleted account take effect on the very next command. Real SQLite store, real
// gateway, real `ws` clients.

let t: TestSwitchboard;
let org: Org;
const sockets: WsClient[] = [];
beforeAll(async () => {
  t = await startTestSwitchboard();
  org = await buildOrg(t);
});
afterAll(async () => {
  for (const ws of sockets) ws.close();
  await t.close();
});

let people = 0;
/** A new staff member of the account's department, not a member of the account. */
async function person(): Promise<{ id: string; token: string }> {
  const email = `access${++people}@college.edu`;
  const r = await t.http.post('/api/v1/users', { email, name: `Access ${people}`, role: 'staff', departmentIds: [org.departmentId], password: PASSWORD, personalAreaCode: '617' }, org.owner.token);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return { id: r.body.id, token: await login(t, email) };
}

/** A new group account of the department (no members) and a conversation a student started in it. */
async function accountWithConversation(name: string, areaCode: string, phone: string): Promise<{ apiCode: string; conversationId: string }> {
  const numbers = ((await t.http.get(`/api/v1/numbers/available?areaCode=${areaCode}&limit=6`, org.deptAdmin.token)).body.items as Array<{ number: string }>).map((n) => n.number);
  const created = await t.http.post('/api/v1/group-accounts', { name, departmentId: org.departmentId, color: '#2F6FDE', numbers, memberIds: [] }, org.deptAdmin.token);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  await t.http.post('/simulator/messages', { from: phone, to: numbers[0], text: 'hello' });
  const contact = await t.sb.store.contacts.getByPhone(phone);
  return { apiCode: created.body.apiCode, conversationId: (await t.sb.store.conversations.getByPair(created.body.id, contact!.id))!.id };
}

async function connect(token: string): Promise<WsClient> {
  const ws = await WsClient.connect(t.sb.wsUrl, token);
  sockets.push(ws);
  return ws;
}

describe('access to lock commands', () => {
  it('reads no membership for the lock commands of an admin of the department', async () => {
    const conversationId = await conversationWith(t, org, '+16175554101');
    const admin = await connect(org.deptAdmin.token);
    const membershipReads = vi.spyOn(t.sb.store.accounts, 'isMember');
    try {
      expect(await admin.request({ type: 'open', conversationId })).toMatchObject({ type: 'ack', granted: true });
      expect(await admin.request({ type: 'leave', conversationId })).toMatchObject({ type: 'ack', lock: { state: 'idle' } });
      expect(membershipReads).not.toHaveBeenCalled();
    } finally {
      membershipReads.mockRestore();
    }
  });

  it('refuses a member removed right after a granted open on the very next command', async () => {
    const conversationId = await conversationWith(t, org, '+16175554102');
    const staff = await connect(org.nonMember.token);
    const members = (await t.http.get(`/api/v1/group-accounts/${org.account.apiCode}/members`, org.deptAdmin.token)).body.memberIds as string[];
    const put = (ids: string[]) => t.http.put(`/api/v1/group-accounts/${org.account.apiCode}/members`, { memberIds: ids }, org.deptAdmin.token);
    expect((await put([...members, org.nonMember.id])).status).toBe(200);
    try {
      expect(await staff.request({ type: 'open', conversationId })).toMatchObject({ type: 'ack', granted: true });
      expect((await put(members)).status).toBe(200);
      expect(await staff.request({ type: 'open', conversationId })).toMatchObject({ type: 'error', code: 'not_found' });
      expect(await staff.request({ type: 'leave', conversationId })).toMatchObject({ type: 'error', code: 'not_found' });
    } finally {
      expect((await put(members)).status).toBe(200);
    }
  });

  it('grants a person added as a member right after a refused open on the very next command', async () => {
    const conversationId = await conversationWith(t, org, '+16175554104');
    const newcomer = await person();
    const staff = await connect(newcomer.token);
    expect(await staff.request({ type: 'open', conversationId })).toMatchObject({ type: 'error', code: 'not_found' });
    expect(await staff.request({ type: 'open', conversationId })).toMatchObject({ type: 'error', code: 'not_found' });
    const members = (await t.http.get(`/api/v1/group-accounts/${org.account.apiCode}/members`, org.deptAdmin.token)).body.memberIds as string[];
    const put = (ids: string[]) => t.http.put(`/api/v1/group-accounts/${org.account.apiCode}/members`, { memberIds: ids }, org.deptAdmin.token);
    expect((await put([...members, newcomer.id])).status).toBe(200);
    try {
      expect(await staff.request({ type: 'open', conversationId })).toMatchObject({ type: 'ack', granted: true });
    } finally {
      expect((await put(members)).status).toBe(200);
    }
  });

  it('reads the membership of a person moved out of the account’s department again, whatever record the caller still holds', async () => {
    const conversationId = await conversationWith(t, org, '+16175554105');
    const mover = await person();
    const members = (await t.http.get(`/api/v1/group-accounts/${org.account.apiCode}/members`, org.deptAdmin.token)).body.memberIds as string[];
    expect((await t.http.put(`/api/v1/group-accounts/${org.account.apiCode}/members`, { memberIds: [...members, mover.id] }, org.deptAdmin.token)).status).toBe(200);
    // The record as it was before the move: only the membership, gone with the move, can refuse it.
    const before = await t.sb.core.auth.authenticate(mover.token);
    await t.sb.core.locks.open(before, 'n1:test:move', conversationId);
    await t.sb.core.locks.leave(before, 'n1:test:move', conversationId);
    expect((await t.http.patch(`/api/v1/users/${mover.id}`, { departmentIds: [org.otherDepartmentId] }, org.owner.token)).status).toBe(200);
    await expect(t.sb.core.locks.open(before, 'n1:test:move', conversationId)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('refuses the conversations of a deleted account at once, also to an admin whose commands had its account', async () => {
    const { apiCode, conversationId } = await accountWithConversation('Short Lived', '212', '+16175554103');
    const admin = await connect(org.deptAdmin.token);
    expect(await admin.request({ type: 'open', conversationId })).toMatchObject({ type: 'ack', granted: true });
    expect(await admin.request({ type: 'leave', conversationId })).toMatchObject({ type: 'ack' });

    expect((await t.http.delete(`/api/v1/group-accounts/${apiCode}`, org.deptAdmin.token)).status).toBe(204);
    expect(await admin.request({ type: 'open', conversationId })).toMatchObject({ type: 'error', code: 'not_found' });
  });

  it('does not keep an account read while it was being deleted', async () => {
    const { apiCode, conversationId } = await accountWithConversation('Racing', '213', '+16175554106');
    const admin = await t.sb.core.auth.authenticate(org.deptAdmin.token);
    await t.sb.core.locks.open(admin, 'n1:test:race', conversationId);
    await t.sb.core.locks.leave(admin, 'n1:test:race', conversationId);
    // A membership change: the node reads the account afresh on the next command...
    const members = (await t.http.put(`/api/v1/group-accounts/${apiCode}/members`, { memberIds: [org.member.id] }, org.deptAdmin.token));
    expect(members.status).toBe(200);
    // ... and the account is deleted while that read is under way (its lock actor is still active).
    const store = t.sb.store.accounts;
    const read = store.get.bind(store);
    const racing = vi.spyOn(store, 'get').mockImplementationOnce(async (id) => {
      const account = await read(id);
      expect((await t.http.delete(`/api/v1/group-accounts/${apiCode}`, org.deptAdmin.token)).status).toBe(204);
      return account;
    });
    try {
      await t.sb.core.locks.open(admin, 'n1:test:race', conversationId).catch(() => undefined);
      expect(racing).toHaveBeenCalled();
    } finally {
      racing.mockRestore();
    }
    await expect(t.sb.core.locks.open(admin, 'n1:test:race', conversationId)).rejects.toMatchObject({ code: 'not_found' });
  });
});
