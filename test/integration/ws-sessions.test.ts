import { beforeAll, describe, expect, it } from 'vitest';
import type { TestSwitchboard } from '../helpers/switchboard.js';
import { login, PASSWORD, type Org } from '../helpers/org.js';
import WebSocket from 'ws';
import type { Frame, WsClient } from '../helpers/ws-client.js';
import { boardShows, wsTestbed } from '../helpers/ws-testbed.js';

// A WebSocket lives for hours; what it may do is judged on the person and session as they are
// now, not as they were when it connected. Real `ws` clients against the gateway on port 0, the
// server's clock simulated.

const bed = wsTestbed({ phoneBlock: 3000 });
const { connect, newConversation, boardTick } = bed;
let t: TestSwitchboard;
let org: Org;
beforeAll(() => {
  ({ t, org } = bed);
});

let personSeq = 0;
/** A new person of the organisation, signed in. */
async function person(role: 'deptAdmin' | 'staff', departmentIds: string[]): Promise<{ id: string; email: string; token: string }> {
  const email = `person${++personSeq}@college.edu`;
  const r = await t.http.post('/api/v1/users', { email, name: `Person ${personSeq}`, role, departmentIds, password: PASSWORD, personalAreaCode: '617' }, org.owner.token);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return { id: r.body.id, email, token: await login(t, email) };
}

async function patchUser(id: string, patch: Record<string, unknown>): Promise<void> {
  const r = await t.http.patch(`/api/v1/users/${id}`, patch, org.owner.token);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
}

const isIdle = (conversationId: string) => (f: Frame) => f.type === 'lock' && f.conversationId === conversationId && f.state === 'idle';

describe('access judged on the person as they are now', () => {
  it('cuts an admin moved out of the department off on the same socket: board, subscription, lock, commands', async () => {
    const mine = await newConversation();
    const danas = await newConversation();
    const ada = await person('deptAdmin', [org.departmentId]);
    const ws = await connect(ada.token);
    expect((await ws.request({ type: 'subscribe', account: org.account.apiCode })).type).toBe('ack');
    expect((await ws.request({ type: 'watchLocks', departmentId: org.departmentId })).type).toBe('ack');
    expect((await ws.request({ type: 'open', conversationId: mine })).granted).toBe(true);
    const dana = await connect(org.member.token);
    expect((await dana.request({ type: 'open', conversationId: danas })).granted).toBe(true);
    const dean = await connect(org.deptAdmin.token);
    await dean.request({ type: 'watchLocks', departmentId: org.departmentId });

    await patchUser(ada.id, { departmentIds: [org.otherDepartmentId] });

    // Told at once: the board and the account are gone, and so is the lock she held.
    const board = await ws.next((f) => f.type === 'error' && f.code === 'access_revoked' && f.departmentId === org.departmentId, 'the board notice');
    expect(board.re).toBeUndefined();
    await ws.next((f) => f.type === 'error' && f.code === 'access_revoked' && f.accountId === org.account.id, 'the account notice');
    await ws.next((f) => f.type === 'released' && f.conversationId === mine && f.reason === 'revoked', 'her lock released');
    await boardTick();
    await dean.next(boardShows(mine, 'idle'), 'others seeing her lock go');

    // The same socket can no longer do what her old record allowed.
    expect((await ws.request({ type: 'watchLocks', departmentId: org.departmentId })).code).toBe('not_found');
    expect((await ws.request({ type: 'subscribe', account: org.account.apiCode })).code).toBe('not_found');
    expect((await ws.request({ type: 'open', conversationId: danas })).code).toBe('not_found');
    expect((await ws.request({ type: 'takeOver', conversationId: danas })).code).toBe('not_found');

    // The board she was watching no longer streams to her: Dana leaving reaches the operator only.
    const mark = ws.mark();
    await dana.request({ type: 'leave', conversationId: danas });
    await boardTick();
    await dean.next(boardShows(danas, 'idle'), 'the operator seeing Dana leave');
    await t.sb.core.locks.settled();
    await ws.request({ type: 'ping' });
    expect(ws.frames.slice(mark).filter((f) => f.conversationId === danas || f.type === 'board')).toEqual([]);
  });

  it('refuses a take-over on the same socket once its admin is demoted to staff, and closes it once disabled', async () => {
    const conversationId = await newConversation();
    const bo = await person('deptAdmin', [org.departmentId]);
    // A member of the account, so that only the role decides the take-over.
    const members = await t.http.put(`/api/v1/group-accounts/${org.account.apiCode}/members`, { memberIds: [org.member.id, bo.id] }, org.deptAdmin.token);
    expect(members.status, JSON.stringify(members.body)).toBe(200);
    const ws = await connect(bo.token);
    expect((await ws.request({ type: 'watchLocks', departmentId: org.departmentId })).type).toBe('ack');
    const dana = await connect(org.member.token);
    expect((await dana.request({ type: 'open', conversationId })).granted).toBe(true);

    await patchUser(bo.id, { role: 'staff' });

    await ws.next((f) => f.type === 'error' && f.code === 'access_revoked' && f.departmentId === org.departmentId, 'the board notice');
    expect((await ws.request({ type: 'takeOver', conversationId })).code).toBe('forbidden');
    expect((await ws.request({ type: 'watchLocks', departmentId: org.departmentId })).code).toBe('forbidden');
    // Still a member: opening shows who is responding.
    expect((await ws.request({ type: 'open', conversationId })).granted).toBe(false);

    await patchUser(bo.id, { disabled: true });
    expect((await ws.waitClosed()).code).toBe(4001);

    await dana.request({ type: 'leave', conversationId });
    await t.http.put(`/api/v1/group-accounts/${org.account.apiCode}/members`, { memberIds: [org.member.id] }, org.deptAdmin.token);
  });
});

describe('sockets per person', () => {
  /** Opens a socket and resolves with how the server closed it, or null once it said hello. */
  function helloOrClose(token: string): Promise<{ socket: WebSocket; closedWith: number | null }> {
    const socket = new WebSocket(`${t.sb.wsUrl}?token=${encodeURIComponent(token)}`);
    return new Promise((resolve, reject) => {
      socket.once('message', () => resolve({ socket, closedWith: null }));
      socket.once('close', (code) => resolve({ socket, closedWith: code }));
      socket.once('error', reject);
    });
  }

  it('refuses the newest socket past WS_MAX_SOCKETS_PER_USER, counted over all sessions, and keeps the others', async () => {
    const max = t.sb.config.ws.maxSocketsPerUser;
    expect(max).toBe(20);
    const sessions = [await login(t, 'sam@college.edu'), await login(t, 'sam@college.edu')];
    const open: WsClient[] = [];
    for (let i = 0; i < max; i++) open.push(await connect(sessions[i % 2]!));

    // The 21st, from either session or a new one, is closed at once without a hello.
    const third = await login(t, 'sam@college.edu');
    for (const token of [sessions[0]!, third]) {
      const refused = await helloOrClose(token);
      expect(refused.closedWith).toBe(4010);
    }
    // Someone else is not affected, and the person's open sockets still work.
    const other = await helloOrClose(org.member.token);
    expect(other.closedWith).toBeNull();
    other.socket.close();
    for (const c of open) expect((await c.request({ type: 'ping' })).type).toBe('ack');

    // A tab closing frees its place.
    open[0]!.close();
    await open[0]!.waitClosed();
    const next = await helloOrClose(third);
    expect(next.closedWith).toBeNull();
    next.socket.close();
    open.forEach((c) => c.close());
  });
});

describe('session expiry', () => {
  // A server of its own: these tests move the clock past the end of every session.
  const own = wsTestbed({ phoneBlock: 3500 });

  it('closes the sockets of an expired session at once and releases the locks held only through them', async () => {
    const { t, clock } = own;
    const first = await login(t, 'dana@college.edu');
    const firstEndsAt = clock.now() + t.sb.config.sessionTtlMs;
    clock.advance(3_600_000);
    // Signed in again an hour later (another browser): this session outlives the first.
    const second = await login(t, 'dana@college.edu');
    const operator = await own.connect(await login(t, 'dean@college.edu'));
    await operator.request({ type: 'watchLocks', departmentId: own.org.departmentId });
    // Also the account: its `lock` events come at once, a witness that the board has the change.
    await operator.request({ type: 'subscribe', account: own.org.account.apiCode });

    const alone = await own.newConversation();
    const shared = await own.newConversation();
    const tab1 = await own.connect(first);
    const tab2 = await own.connect(first);
    const other = await own.connect(second);
    // A minute before the first session ends (well within the lock's idle limit).
    clock.advance(firstEndsAt - clock.now() - 60_000);
    expect((await tab1.request({ type: 'open', conversationId: alone })).granted).toBe(true);
    const held = await tab2.request({ type: 'open', conversationId: shared });
    expect((await other.request({ type: 'open', conversationId: shared })).lockToken).toBe(held.lockToken);

    clock.advance(60_000 - 1);
    await t.sb.core.locks.settled();
    expect((await tab1.request({ type: 'ping' })).type).toBe('ack');
    clock.advance(1);

    // Both sockets of the expired session close; the lock held only through them goes at once.
    expect((await tab1.waitClosed()).code).toBe(4001);
    expect((await tab2.waitClosed()).code).toBe(4001);
    await operator.next(isIdle(alone), 'the account seeing the lock released');
    await own.boardTick();
    await operator.next(boardShows(alone, 'idle'), 'the board seeing the lock released');
    expect((await operator.request({ type: 'open', conversationId: alone })).granted).toBe(true);

    // The lock also held through the other session stays hers, past the reload grace too.
    clock.advance(t.sb.config.lock.disconnectGraceMs);
    await t.sb.core.locks.settled();
    expect((await other.request({ type: 'activity', conversationId: shared })).lock).toMatchObject({ state: 'locked', holder: { userId: own.org.member.id } });
    expect(operator.frames.filter((f) => isIdle(shared)(f) || boardShows(shared, 'idle')(f))).toEqual([]);
    expect((await other.request({ type: 'reply', conversationId: shared, lockToken: held.lockToken, text: 'Still on it' })).type).toBe('ack');
    expect(other.closed).toBeNull();
  });
});
