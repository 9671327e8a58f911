import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestSwitchboard, type TestSwitchboard } from '../helpers/switchboard.js';
import { buildOrg, conversationWith, type Org } from '../helpers/org.js';
import { WsClient } from '../helpers/ws-client.js';

// The lock commands judge access on every command (the person's record, their membership, which
// only an admin of the department does without), but what they need of the conversation's account
// never changes while it exists, so a node keeps it once read (test/integration/ws-locks.test.ts
// counts the reads). A removed membership and a deleted account still take effect on the very
// next command. Real SQLite store, real gateway, real `ws` clients.

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

  it('refuses the conversations of a deleted account at once, also to an admin whose commands had its account', async () => {
    const numbers = ((await t.http.get('/api/v1/numbers/available?areaCode=212&limit=6', org.deptAdmin.token)).body.items as Array<{ number: string }>).map((n) => n.number);
    const created = await t.http.post('/api/v1/group-accounts', { name: 'Short Lived', departmentId: org.departmentId, color: '#2F6FDE', numbers, memberIds: [] }, org.deptAdmin.token);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    await t.http.post('/simulator/messages', { from: '+16175554103', to: numbers[0], text: 'hello' });
    const contact = await t.sb.store.contacts.getByPhone('+16175554103');
    const conversationId = (await t.sb.store.conversations.getByPair(created.body.id, contact!.id))!.id;
    const admin = await connect(org.deptAdmin.token);
    expect(await admin.request({ type: 'open', conversationId })).toMatchObject({ type: 'ack', granted: true });
    expect(await admin.request({ type: 'leave', conversationId })).toMatchObject({ type: 'ack' });

    expect((await t.http.delete(`/api/v1/group-accounts/${created.body.apiCode}`, org.deptAdmin.token)).status).toBe(204);
    expect(await admin.request({ type: 'open', conversationId })).toMatchObject({ type: 'error', code: 'not_found' });
  });
});
