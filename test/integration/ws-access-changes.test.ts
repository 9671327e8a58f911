import { beforeAll, describe, expect, it } from 'vitest';
import type { TestSwitchboard } from '../helpers/switchboard.js';
import { login, PASSWORD, type Org } from '../helpers/org.js';
import type { CoreEvent } from '../../src/events.js';
import { wsTestbed } from '../helpers/ws-testbed.js';

// Being given access to a group account reaches the person's open sockets at once
// (`accessGranted`), as losing it does (`access_revoked`); people whose access does not change
// are told nothing. Real `ws` clients against the gateway on port 0.

const bed = wsTestbed({ phoneBlock: 4000 });
const { connect, newConversation } = bed;
let t: TestSwitchboard;
let org: Org;
beforeAll(() => {
  ({ t, org } = bed);
});

let personSeq = 0;
async function person(role: 'deptAdmin' | 'staff', departmentIds: string[]): Promise<{ id: string; token: string }> {
  const email = `granted${++personSeq}@college.edu`;
  const r = await t.http.post('/api/v1/users', { email, name: `Granted ${personSeq}`, role, departmentIds, password: PASSWORD, personalAreaCode: '617' }, org.owner.token);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return { id: r.body.id, token: await login(t, email) };
}

/**
 * Who the core tells they were given (or lost) access while `action` runs (the bus of a single
 * node delivers as it publishes, one copy per person, so they are all in when the request is
 * answered).
 */
async function accessChanges(accountName: string, action: () => Promise<void>): Promise<{ given: string[]; taken: string[] }> {
  const given: string[] = [];
  const taken: string[] = [];
  const off = t.sb.core.events.watchAll((e: CoreEvent) => {
    if (e.type !== 'membership' || e.name !== accountName) return;
    given.push(...e.addedUserIds);
    taken.push(...e.removedUserIds);
  });
  try {
    await action();
  } finally {
    off();
  }
  return { given, taken };
}
const givenAccess = async (accountName: string, action: () => Promise<void>) => (await accessChanges(accountName, action)).given;
const granted = (accountId: string) => (f: Record<string, any>) => f.type === 'accessGranted' && f.account.id === accountId;

describe('accessGranted', () => {
  it('tells a person added as a member on every open socket; they subscribe and the account’s events flow', async () => {
    const newcomer = await person('staff', [org.departmentId]);
    const tabs = [await connect(newcomer.token), await connect(newcomer.token)];
    expect((await tabs[0]!.request({ type: 'subscribe', account: org.account.apiCode })).code).toBe('not_found');

    const members = (await t.http.get(`/api/v1/group-accounts/${org.account.apiCode}/members`, org.deptAdmin.token)).body.memberIds as string[];
    // An admin of the department could use the account already: adding them gives them nothing new.
    const given = await givenAccess('Admissions Outreach', async () => {
      const put = await t.http.put(`/api/v1/group-accounts/${org.account.apiCode}/members`, { memberIds: [...members, newcomer.id, org.deptAdmin.id] }, org.deptAdmin.token);
      expect(put.status, JSON.stringify(put.body)).toBe(200);
    });
    expect(given).toEqual([newcomer.id]);

    for (const tab of tabs) {
      const frame = await tab.next(granted(org.account.id), 'the accessGranted frame');
      expect(frame).toEqual({ type: 'accessGranted', account: { id: org.account.id, apiCode: org.account.apiCode, name: 'Admissions Outreach' } });
    }
    const ack = await tabs[0]!.request({ type: 'subscribe', account: org.account.apiCode });
    expect(ack.type).toBe('ack');
    const mark = tabs[0]!.mark();
    const conversationId = await newConversation();
    await tabs[0]!.next((f) => f.type === 'conversation' && f.conversationId === conversationId, "the account's events", 5_000, mark);
  });

  it('tells the members and the department’s admins of a new group account, not the people it does not concern', async () => {
    const staff = await person('staff', [org.departmentId]);
    const [member, admin] = [await connect(staff.token), await connect(org.deptAdmin.token)];
    const numbers = ((await t.http.get('/api/v1/numbers/available?areaCode=212&limit=6', org.deptAdmin.token)).body.items as Array<{ number: string }>).map((n) => n.number);
    let accountId = '';
    const given = await givenAccess('Campus Visits', async () => {
      const created = await t.http.post('/api/v1/group-accounts', { name: 'Campus Visits', departmentId: org.departmentId, color: '#1B8A5A', numbers, memberIds: [staff.id] }, org.deptAdmin.token);
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      accountId = created.body.id;
    });
    // Staff of the department who are not members, and the other department's admin: nothing.
    expect(given.sort()).toEqual([staff.id, org.deptAdmin.id, org.owner.id].sort());
    for (const ws of [member, admin]) {
      expect(await ws.next(granted(accountId), 'the accessGranted frame')).toMatchObject({ account: { apiCode: 'campus-visits', name: 'Campus Visits' } });
    }
  });

  it('tells a person whose new role opens the department’s accounts to them', async () => {
    const promoted = await person('staff', [org.departmentId]);
    const ws = await connect(promoted.token);
    const r = await t.http.patch(`/api/v1/users/${promoted.id}`, { role: 'deptAdmin' }, org.owner.token);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    await ws.next(granted(org.account.id), 'the accessGranted frame');
    expect((await ws.request({ type: 'subscribe', account: org.account.apiCode })).type).toBe('ack');
  });
});

describe('access_revoked', () => {
  const putMembers = async (memberIds: string[]) => {
    const put = await t.http.put(`/api/v1/group-accounts/${org.account.apiCode}/members`, { memberIds }, org.owner.token);
    expect(put.status, JSON.stringify(put.body)).toBe(200);
  };

  it('is not sent to a department admin removed from the members, who can use the account anyway; their lock stays', async () => {
    const members = (await t.http.get(`/api/v1/group-accounts/${org.account.apiCode}/members`, org.owner.token)).body.memberIds as string[];
    await putMembers([...new Set([...members, org.deptAdmin.id])]);
    const conversationId = await newConversation();
    const ws = await connect(org.deptAdmin.token);
    await ws.request({ type: 'subscribe', account: org.account.apiCode });
    expect((await ws.request({ type: 'open', conversationId })).granted).toBe(true);

    const { taken } = await accessChanges('Admissions Outreach', () => putMembers(members.filter((m) => m !== org.deptAdmin.id)));
    expect(taken).toEqual([]);
    const still = await ws.request({ type: 'activity', conversationId });
    expect(still.lock).toMatchObject({ state: 'locked', holder: { userId: org.deptAdmin.id } });
    expect(ws.frames.filter((f) => f.type === 'error' || f.type === 'released')).toEqual([]);
  });

  it('is sent to everyone who could use a deleted account: members, the department’s admins, owners', async () => {
    const numbers = ((await t.http.get('/api/v1/numbers/available?areaCode=312&limit=6', org.deptAdmin.token)).body.items as Array<{ number: string }>).map((n) => n.number);
    const created = await t.http.post('/api/v1/group-accounts', { name: 'Short Lived', departmentId: org.departmentId, color: '#AA3377', numbers, memberIds: [org.member.id] }, org.deptAdmin.token);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const admin = await connect(org.deptAdmin.token);
    await admin.request({ type: 'subscribe', account: 'short-lived' });

    const { taken } = await accessChanges('Short Lived', async () => {
      expect((await t.http.delete('/api/v1/group-accounts/short-lived', org.deptAdmin.token)).status).toBe(204);
    });
    expect(taken).toEqual(expect.arrayContaining([org.member.id, org.deptAdmin.id, org.owner.id]));
    expect(taken).not.toContain(org.nonMember.id);
    expect(taken).not.toContain(org.otherAdmin.id);
    await admin.next((f) => f.type === 'error' && f.code === 'access_revoked' && f.accountId === created.body.id, 'the access_revoked notice');
  });
});
