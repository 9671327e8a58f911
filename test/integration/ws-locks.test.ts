import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { TestSwitchboard } from '../helpers/switchboard.js';
import { login, type Org } from '../helpers/org.js';
import { WsClient, type Frame } from '../helpers/ws-client.js';
import { boardShows, wsTestbed } from '../helpers/ws-testbed.js';

// Two people and an operator on real WebSocket clients, against the gateway on port 0, with the
// server's clock simulated: the conversation lock exactly as DOMAIN.md describes it.

const bed = wsTestbed({ phoneBlock: 2000 });
const { clock, connect, newConversation, boardTick } = bed;
let t: TestSwitchboard;
let org: Org;
beforeAll(() => {
  ({ t, org } = bed);
});

const { idleWarningMs, releaseAfterWarningMs, disconnectGraceMs } = { idleWarningMs: 180_000, releaseAfterWarningMs: 60_000, disconnectGraceMs: 15_000 };

describe('the conversation lock over WebSockets', () => {
  it('gives the lock to the first of two racing staff; the other sees who is responding, then gets it when they leave', async () => {
    const conversationId = await newConversation();
    const dana = await connect(org.member.token);
    const dean = await connect(org.deptAdmin.token, 'protocol');
    await dean.request({ type: 'subscribe', account: org.account.apiCode });

    const [a, b] = await Promise.all([dana.request({ type: 'open', conversationId }), dean.request({ type: 'open', conversationId })]);
    const winner = a.granted ? { ws: dana, ack: a } : { ws: dean, ack: b };
    const loser = a.granted ? { ws: dean, ack: b, token: org.deptAdmin.token } : { ws: dana, ack: a, token: org.member.token };
    expect([a.granted, b.granted].sort()).toEqual([false, true]);
    expect(winner.ack.lockToken).toEqual(expect.any(Number));
    expect(loser.ack.lock).toMatchObject({ state: 'locked', holder: { name: winner.ws === dana ? 'Dana Reyes' : 'Dean Admin' }, since: clock.now() });
    expect(loser.ack.lockToken).toBeUndefined();

    // The loser's reply is refused with the holder's name, over WebSocket and over REST.
    const refused = await loser.ws.request({ type: 'reply', conversationId, lockToken: winner.ack.lockToken, text: 'me too' });
    expect(refused).toMatchObject({ type: 'error', code: 'stale_lock_token', message: expect.stringMatching(/is responding/) });
    const rest = await t.http.post(`/api/v1/conversations/${conversationId}/messages`, { text: 'me too', lockToken: winner.ack.lockToken }, loser.token);
    expect(rest.body.error.code).toBe('stale_lock_token');

    const mark = loser.ws.mark();
    await winner.ws.request({ type: 'leave', conversationId });
    if (loser.ws === dean) await dean.next((f) => f.type === 'lock' && f.conversationId === conversationId && f.state === 'idle', 'the idle lock', 5_000, mark);
    const second = await loser.ws.request({ type: 'open', conversationId });
    expect(second.granted).toBe(true);
    expect(second.lockToken).toBeGreaterThan(winner.ack.lockToken);
    // The old holder's token is dead for good.
    const stale = await winner.ws.request({ type: 'reply', conversationId, lockToken: winner.ack.lockToken, text: 'late' });
    expect(stale.code).toBe('stale_lock_token');
    const ok = await loser.ws.request({ type: 'reply', conversationId, lockToken: second.lockToken, text: 'Answering now', clientRef: 'c-1' });
    expect(ok).toMatchObject({ type: 'ack', clientRef: 'c-1', message: { text: 'Answering now', sentBy: { userId: expect.any(String) } } });
  });

  it('asks "are you still working?" after 3 idle minutes and releases 60 s later without an answer', async () => {
    const conversationId = await newConversation();
    const dana = await connect(org.member.token);
    const dean = await connect(org.deptAdmin.token);
    await dean.request({ type: 'subscribe', account: org.account.apiCode });
    const opened = await dana.request({ type: 'open', conversationId });
    expect(opened.granted).toBe(true);

    clock.advance(idleWarningMs - 1);
    // Nothing is on its way: the host has saved and published all it had, and a ping answered on
    // the same socket comes after anything it sent before.
    await t.sb.core.locks.settled();
    await dana.request({ type: 'ping' });
    expect(dana.frames.some((f) => f.type === 'idleWarning' && f.conversationId === conversationId)).toBe(false);
    clock.advance(1);
    const warning = await dana.next((f) => f.type === 'idleWarning' && f.conversationId === conversationId, 'the idle warning');
    expect(warning.releaseAt).toBe(clock.now() + releaseAfterWarningMs);
    await dean.next((f) => f.type === 'lock' && f.conversationId === conversationId && f.state === 'idleWarning', 'the board seeing the warning');

    clock.advance(releaseAfterWarningMs);
    const released = await dana.next((f) => f.type === 'released' && f.conversationId === conversationId, 'the release');
    expect(released.reason).toBe('idle');
    await dean.next((f) => f.type === 'lock' && f.conversationId === conversationId && f.state === 'idle', 'others seeing it free');
    expect((await dean.request({ type: 'open', conversationId })).granted).toBe(true);
  });

  it('keeps the lock when the holder confirms they are still working, and on activity', async () => {
    const conversationId = await newConversation();
    const dana = await connect(org.member.token);
    const opened = await dana.request({ type: 'open', conversationId });
    clock.advance(idleWarningMs);
    await dana.next((f) => f.type === 'idleWarning' && f.conversationId === conversationId, 'the idle warning');
    const kept = await dana.request({ type: 'stillWorking', conversationId });
    expect(kept.lock.state).toBe('locked');
    clock.advance(releaseAfterWarningMs + 1);
    clock.advance(idleWarningMs - releaseAfterWarningMs - 2);
    await dana.request({ type: 'activity', conversationId });
    clock.advance(idleWarningMs - 1);
    const still = await dana.request({ type: 'activity', conversationId });
    expect(still.lock).toMatchObject({ state: 'locked', holder: { userId: org.member.id } });
    expect(dana.frames.filter((f) => f.type === 'released' && f.conversationId === conversationId)).toEqual([]);
    const reply = await dana.request({ type: 'reply', conversationId, lockToken: opened.lockToken, text: 'Still here' });
    expect(reply.type).toBe('ack');
    await dana.request({ type: 'leave', conversationId });
  });

  it('shares one lock between two tabs of the same person', async () => {
    const conversationId = await newConversation();
    const tab1 = await connect(org.member.token);
    const tab2 = await connect(org.member.token);
    const a = await tab1.request({ type: 'open', conversationId });
    const b = await tab2.request({ type: 'open', conversationId });
    expect([a.granted, b.granted]).toEqual([true, true]);
    expect(b.lockToken).toBe(a.lockToken);
    await tab1.request({ type: 'leave', conversationId });
    const other = await connect(org.deptAdmin.token);
    expect((await other.request({ type: 'open', conversationId })).granted).toBe(false);
    expect((await tab2.request({ type: 'reply', conversationId, lockToken: a.lockToken, text: 'from tab 2' })).type).toBe('ack');
  });

  it('keeps the lock through a reload within 15 s, and releases it when the tab is gone for good', async () => {
    const conversationId = await newConversation();
    const first = await connect(org.member.token);
    const opened = await first.request({ type: 'open', conversationId });
    first.close();
    await first.waitClosed();
    clock.advance(disconnectGraceMs - 1);
    const reloaded = await connect(org.member.token);
    const again = await reloaded.request({ type: 'open', conversationId });
    expect(again).toMatchObject({ granted: true, lockToken: opened.lockToken });

    const watcher = await connect(org.deptAdmin.token);
    await watcher.request({ type: 'subscribe', account: org.account.apiCode });
    const mark = watcher.mark();
    reloaded.close();
    // The holder's connection leaving is published (the lock stays, its grace starts).
    const graced = await watcher.next((f) => f.type === 'lock' && f.conversationId === conversationId, 'the grace starting', 5_000, mark);
    expect(graced.state).toBe('locked');
    clock.advance(disconnectGraceMs - 1);
    expect((await watcher.request({ type: 'open', conversationId })).granted).toBe(false);
    clock.advance(1);
    await watcher.next((f) => f.type === 'lock' && f.conversationId === conversationId && f.state === 'idle', 'the release after the grace');
    expect((await watcher.request({ type: 'open', conversationId })).granted).toBe(true);
  });

  it('lets a department admin take over; the previous holder is told why', async () => {
    const conversationId = await newConversation();
    const dana = await connect(org.member.token);
    const dean = await connect(org.deptAdmin.token);
    const held = await dana.request({ type: 'open', conversationId });
    const taken = await dean.request({ type: 'takeOver', conversationId });
    expect(taken).toMatchObject({ type: 'ack', granted: true, lock: { holder: { name: 'Dean Admin' } } });
    expect(taken.lockToken).toBeGreaterThan(held.lockToken);
    const told = await dana.next((f) => f.type === 'released' && f.conversationId === conversationId, 'the take-over notice');
    expect(told).toMatchObject({ reason: 'takenOver', by: { name: 'Dean Admin' } });
    expect((await dana.request({ type: 'reply', conversationId, lockToken: held.lockToken, text: 'x' })).code).toBe('stale_lock_token');
    // Staff cannot take over.
    const staff = await dana.request({ type: 'takeOver', conversationId });
    expect(staff.code).toBe('forbidden');
  });

  it('shows a non-member nothing: no subscription, no lock, no board', async () => {
    const conversationId = await newConversation();
    const sam = await connect(org.nonMember.token);
    expect((await sam.request({ type: 'subscribe', account: org.account.apiCode })).code).toBe('not_found');
    expect((await sam.request({ type: 'open', conversationId })).code).toBe('not_found');
    expect((await sam.request({ type: 'takeOver', conversationId })).code).toBe('not_found');
    expect((await sam.request({ type: 'watchLocks', departmentId: org.departmentId })).code).toBe('forbidden');
    const fran = await connect(org.otherAdmin.token);
    expect((await fran.request({ type: 'watchLocks', departmentId: org.departmentId })).code).toBe('not_found');
    // Activity elsewhere reaches neither of them.
    const dana = await connect(org.member.token);
    await dana.request({ type: 'open', conversationId });
    await dana.request({ type: 'leave', conversationId });
    expect([...sam.frames, ...fran.frames].filter((f) => f.conversationId === conversationId)).toEqual([]);
  });

  it('shows a new subscriber the locks already held in the account; unsubscribing stops its events', async () => {
    const conversationId = await newConversation();
    const dana = await connect(org.member.token);
    expect((await dana.request({ type: 'open', conversationId })).granted).toBe(true);
    const dean = await connect(org.deptAdmin.token);
    const subscribed = await dean.request({ type: 'subscribe', account: org.account.apiCode });
    expect(subscribed.account).toEqual({ id: org.account.id, apiCode: org.account.apiCode, name: 'Admissions Outreach' });
    // "Dana Reyes is responding", before any change: the token stays with its holder.
    const held = subscribed.locks.find((l: { conversationId: string }) => l.conversationId === conversationId);
    expect(held).toEqual({ conversationId, accountId: org.account.id, state: 'locked', holder: { userId: org.member.id, name: 'Dana Reyes' }, since: clock.now() });

    const unsubscribed = await dean.request({ type: 'unsubscribe', account: org.account.apiCode });
    expect(unsubscribed).toEqual({ type: 'ack', re: expect.any(String) });
    const mark = dean.mark();
    await dana.request({ type: 'leave', conversationId });
    // Frames of one socket arrive in order: an event sent before this answer would be here by now.
    await dean.request({ type: 'ping' });
    expect(dean.frames.slice(mark).filter((f) => f.type === 'lock')).toEqual([]);
    // A personal account has no locks.
    expect((await dana.request({ type: 'subscribe', account: 'personal' })).locks).toEqual([]);
  });

  it('shows a new watcher a lock announced before it subscribed and not saved yet', async () => {
    const conversationId = await newConversation();
    // The lock's saves wait at a gate: announced at once, saved behind (as under load, for about a tick).
    const locks = t.sb.store.locks;
    const save = locks.save;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    locks.save = async (record) => {
      await gate;
      return save.call(locks, record);
    };
    try {
      const dana = await connect(org.member.token);
      expect((await dana.request({ type: 'open', conversationId })).granted).toBe(true);
      expect(await locks.get(conversationId)).toBeNull();
      const dean = await connect(org.deptAdmin.token);
      const held = { conversationId, accountId: org.account.id, state: 'locked', holder: { userId: org.member.id, name: 'Dana Reyes' }, since: clock.now() };
      expect((await dean.request({ type: 'subscribe', account: org.account.apiCode })).locks).toContainEqual(held);
      expect((await dean.request({ type: 'watchLocks', departmentId: org.departmentId })).locks).toContainEqual(held);
      await dana.request({ type: 'leave', conversationId });
      dana.close();
      dean.close();
    } finally {
      locks.save = save;
      release();
    }
  });

  it('never answers subscribe with a picture older than a lock event sent before the answer', async () => {
    const conversationId = await newConversation();
    const dana = await connect(org.member.token);
    expect((await dana.request({ type: 'open', conversationId })).granted).toBe(true);
    const dean = await connect(org.deptAdmin.token);
    // The picture is read from the store; Dana leaves right after that read, before the answer.
    const answer = await duringFirstPictureRead(() => dana.request({ type: 'leave', conversationId }), () => dean.request({ type: 'subscribe', account: org.account.apiCode }));
    const idle = dean.frames.findIndex((f) => f.type === 'lock' && f.conversationId === conversationId && f.state === 'idle');
    expect(idle).toBeGreaterThanOrEqual(0);
    expect(idle).toBeLessThan(dean.frames.indexOf(answer));
    // The answer comes last, so it must not show the lock still held.
    expect(answer.locks.filter((l: { conversationId: string }) => l.conversationId === conversationId)).toEqual([]);
  });

  it('never answers watchLocks with a picture older than a board frame sent before the answer', async () => {
    const conversationId = await newConversation();
    const dana = await connect(org.member.token);
    expect((await dana.request({ type: 'open', conversationId })).granted).toBe(true);
    const dean = await connect(org.deptAdmin.token);
    // Right after the picture's read, Dana leaves and a board tick sends that out, before the answer.
    const answer = await duringFirstPictureRead(
      async () => {
        await dana.request({ type: 'leave', conversationId });
        clock.advance(t.sb.config.ws.boardTickMs);
      },
      () => dean.request({ type: 'watchLocks', departmentId: org.departmentId }),
    );
    const idle = dean.frames.findIndex(boardShows(conversationId, 'idle'));
    expect(idle).toBeGreaterThanOrEqual(0);
    expect(idle).toBeLessThan(dean.frames.indexOf(answer));
    expect(answer.locks.filter((l: { conversationId: string }) => l.conversationId === conversationId)).toEqual([]);
  });

  /** Runs `request`, with `meanwhile` done right after the first read of held locks it makes. */
  async function duringFirstPictureRead<T>(meanwhile: () => Promise<unknown>, request: () => Promise<T>): Promise<T> {
    const locks = t.sb.store.locks;
    const read = locks.listActive.bind(locks);
    let reads = 0;
    locks.listActive = async (accountIds) => {
      const picture = await read(accountIds);
      if (++reads === 1) await meanwhile();
      return picture;
    };
    try {
      return await request();
    } finally {
      locks.listActive = read;
    }
  }

  it('replies in a personal-account conversation without a lock token: it has no lock', async () => {
    const composed = await t.http.post('/api/v1/messages', { to: [org.students[1]!.id], text: 'Personal hello' }, org.member.token);
    const conversationId = composed.body.messages[0].conversationId;
    const dana = await connect(org.member.token);
    const ws = await dana.request({ type: 'reply', conversationId, text: 'Following up', clientRef: 'p-1' });
    expect(ws).toMatchObject({ type: 'ack', clientRef: 'p-1', message: { text: 'Following up', direction: 'outbound', sentBy: { userId: org.member.id, name: 'Dana Reyes' } } });
    const rest = await t.http.post(`/api/v1/conversations/${conversationId}/messages`, { text: 'And over REST' }, org.member.token);
    expect([rest.status, rest.body.text]).toEqual([202, 'And over REST']);
  });

  it('refuses lock commands on personal-account conversations', async () => {
    const r = await t.http.post('/api/v1/messages', { to: [org.students[0]!.id], text: 'Personal note' }, org.member.token);
    const dana = await connect(org.member.token);
    const answer = await dana.request({ type: 'open', conversationId: r.body.messages[0].conversationId });
    expect(answer.code).toBe('no_lock');
  });

  it('reads a conversation, its account and the person’s membership once for its lock commands', async () => {
    const conversationId = await newConversation();
    const dana = await connect(org.member.token);
    const conversations = vi.spyOn(t.sb.store.conversations, 'get');
    const accounts = vi.spyOn(t.sb.store.accounts, 'get');
    const members = vi.spyOn(t.sb.store.accounts, 'isMember');
    try {
      for (let i = 0; i < 3; i++) {
        expect((await dana.request({ type: 'open', conversationId })).granted).toBe(true);
        expect((await dana.request({ type: 'leave', conversationId })).lock.state).toBe('idle');
      }
      const read = (spy: typeof conversations | typeof accounts | typeof members) => spy.mock.calls.filter((c) => c.includes(conversationId) || c.includes(org.account.id)).length;
      // Once by the lock service, once by the actor's activation: what access needs of an account
      // never changes while it exists, and a membership is read again once a change of it or of
      // the person is announced (test/integration/lock-access.test.ts).
      expect(read(conversations)).toBe(2);
      expect(read(accounts)).toBe(2);
      expect(read(members)).toBeLessThanOrEqual(1); // none when an earlier test's command read it
    } finally {
      conversations.mockRestore();
      accounts.mockRestore();
      members.mockRestore();
    }
  });

  it('cuts a removed member off at once: subscription gone, lock released', async () => {
    const conversationId = await newConversation();
    const dana = await connect(org.member.token);
    await dana.request({ type: 'subscribe', account: org.account.apiCode });
    const dean = await connect(org.deptAdmin.token);
    await dean.request({ type: 'subscribe', account: org.account.apiCode });
    expect((await dana.request({ type: 'open', conversationId })).granted).toBe(true);

    const removed = await t.http.put(`/api/v1/group-accounts/${org.account.apiCode}/members`, { memberIds: [] }, org.deptAdmin.token);
    expect(removed.status).toBe(200);
    await dana.next((f) => f.type === 'error' && f.code === 'access_revoked', 'the access_revoked notice', 1_000);
    await dean.next((f) => f.type === 'lock' && f.conversationId === conversationId && f.state === 'idle', 'the lock released', 1_000);
    const mark = dana.mark();
    // New events about the account no longer reach her, and she cannot come back in.
    await t.http.post('/simulator/messages', { from: '+16175559999', to: org.account.numbers[1], text: 'anyone?' });
    await dean.next((f) => f.type === 'message' && f.message.text === 'anyone?', 'the message reaching a member');
    expect(dana.frames.slice(mark).filter((f) => f.type === 'message' || f.type === 'conversation')).toEqual([]);
    expect((await dana.request({ type: 'open', conversationId })).code).toBe('not_found');

    await t.http.put(`/api/v1/group-accounts/${org.account.apiCode}/members`, { memberIds: [org.member.id] }, org.deptAdmin.token);
  });

  it('closes the sockets of a session that signs out, and releases its locks', async () => {
    const conversationId = await newConversation();
    const token = await login(t, 'dana@college.edu');
    const dana = await connect(token);
    const dean = await connect(org.deptAdmin.token);
    await dean.request({ type: 'subscribe', account: org.account.apiCode });
    await dana.request({ type: 'open', conversationId });
    expect((await t.http.delete('/api/v1/sessions', token)).status).toBe(204);
    expect((await dana.waitClosed(1_000)).code).toBe(4001);
    await dean.next((f) => f.type === 'lock' && f.conversationId === conversationId && f.state === 'idle', 'the lock released', 1_000);
  });

  it('refuses replies from an API key in group conversations, held or not; the integration composes instead', async () => {
    const conversationId = await newConversation();
    const created = await t.http.post(`/api/v1/departments/${org.departmentId}/api-keys`, { name: 'CRM' }, org.deptAdmin.token);
    expect(created.status).toBe(201);
    const key = created.body.key as string;
    const reply = (lockToken?: number) =>
      t.http.post(`/api/v1/conversations/${conversationId}/messages`, { text: 'From the CRM', ...(lockToken !== undefined ? { lockToken } : {}) }, key);

    // Free: an API key cannot take the lock, so it cannot reply, with or without a token.
    for (const r of [await reply(), await reply(1)]) {
      expect(r.status, JSON.stringify(r.body)).toBe(403);
      expect(r.body.error.code).toBe('api_key_cannot_reply');
    }
    // Held by a person: not even the holder's own token lets an integration answer in their place.
    const dana = await connect(org.member.token);
    const opened = await dana.request({ type: 'open', conversationId });
    const held = await reply(opened.lockToken);
    expect(held.status).toBe(403);
    expect(held.body.error.code).toBe('api_key_cannot_reply');
    // Composing is outreach, not an answer: it is accepted while someone holds the conversation.
    const contactId = (await t.sb.store.conversations.get(conversationId))!.contactId;
    const composed = await t.http.post('/api/v1/messages', { groupAccountCode: org.account.apiCode, to: [contactId], text: 'Your file is complete' }, key);
    expect(composed.status, JSON.stringify(composed.body)).toBe(202);
    expect(composed.body.messages[0].conversationId).toBe(conversationId);
    await dana.request({ type: 'leave', conversationId });
  });

  it('streams the lock board to operators after a first picture', async () => {
    const conversationId = await newConversation();
    const dana = await connect(org.member.token);
    await dana.request({ type: 'open', conversationId });
    const picture = await t.http.get(`/api/v1/locks?departmentId=${org.departmentId}`, org.deptAdmin.token);
    expect(picture.body.items).toContainEqual(expect.objectContaining({ conversationId, state: 'locked', holder: { userId: org.member.id, name: 'Dana Reyes' } }));
    const operator = await connect(org.deptAdmin.token);
    const watch = await operator.request({ type: 'watchLocks', departmentId: org.departmentId });
    expect(watch.locks).toContainEqual(expect.objectContaining({ conversationId, state: 'locked' }));
    await dana.request({ type: 'leave', conversationId });
    await boardTick();
    const update = await operator.next(boardShows(conversationId, 'idle'), 'the board update');
    expect(update.departmentId).toBe(org.departmentId);
    // Operators see who holds what, never the holder's token.
    expect(update.locks.find((l: { conversationId: string }) => l.conversationId === conversationId)).toEqual({ conversationId, accountId: org.account.id, state: 'idle' });

    expect(await operator.request({ type: 'unwatchLocks', departmentId: org.departmentId })).toEqual({ type: 'ack', re: expect.any(String) });
    const mark = operator.mark();
    await dana.request({ type: 'open', conversationId });
    await boardTick();
    await operator.request({ type: 'ping' });
    expect(operator.frames.slice(mark).filter((f) => f.type === 'lock' || f.type === 'board')).toEqual([]);
    await dana.request({ type: 'leave', conversationId });
  });

  it("coalesces the operators' board: one frame per tick with the latest lock of each conversation that changed", async () => {
    const [held, shortLived] = [await newConversation(), await newConversation()];
    const ours = (locks: Array<{ conversationId: string }>) => locks.filter((l) => l.conversationId === held || l.conversationId === shortLived);
    // Frames about this test's conversations (other tests' lock timers may move theirs meanwhile).
    const about = (f: Frame) => (f.type === 'board' && ours(f.locks).length > 0) || (f.type === 'lock' && ours([f as { conversationId: string }]).length > 0);
    const operator = await connect(org.deptAdmin.token);
    await operator.request({ type: 'watchLocks', departmentId: org.departmentId });
    // A member subscribed to the account still gets every change, at once.
    const member = await connect(org.deptAdmin.token);
    await member.request({ type: 'subscribe', account: org.account.apiCode });
    const [opMark, memberMark] = [operator.mark(), member.mark()];

    const dana = await connect(org.member.token);
    await dana.request({ type: 'open', conversationId: held });
    await dana.request({ type: 'open', conversationId: shortLived });
    await dana.request({ type: 'leave', conversationId: shortLived });
    await member.next((f) => f.type === 'lock' && f.conversationId === shortLived && f.state === 'idle', 'the member seeing the shortLived lock go');
    const memberSaw = member.frames.slice(memberMark).filter((f) => f.type === 'lock' && (f.conversationId === held || f.conversationId === shortLived));
    expect(memberSaw.map((f) => [f.conversationId, f.state])).toEqual([
      [held, 'locked'],
      [shortLived, 'locked'],
      [shortLived, 'idle'],
    ]);
    // Within the tick the operator has been sent nothing yet.
    await t.sb.core.locks.settled();
    await operator.request({ type: 'ping' });
    expect(operator.frames.slice(opMark).filter(about)).toEqual([]);

    await boardTick();
    const frame = await operator.next((f) => f.type === 'board' && ours(f.locks).length > 0, 'the board frame', 5_000, opMark);
    expect(frame.departmentId).toBe(org.departmentId);
    // One entry per conversation, in its latest state: the lock taken and given back within the
    // tick ends free.
    expect(ours(frame.locks)).toEqual(
      expect.arrayContaining([
        { conversationId: held, accountId: org.account.id, state: 'locked', holder: { userId: org.member.id, name: 'Dana Reyes' }, since: clock.now() - t.sb.config.ws.boardTickMs },
        { conversationId: shortLived, accountId: org.account.id, state: 'idle' },
      ]),
    );
    expect(ours(frame.locks)).toHaveLength(2);
    await operator.request({ type: 'ping' });
    expect(operator.frames.slice(opMark).filter(about)).toEqual([frame]);

    // The next change waits for the next tick, in a frame of its own.
    await dana.request({ type: 'leave', conversationId: held });
    await boardTick();
    const next = await operator.next(boardShows(held, 'idle'), 'the next board frame', 5_000, opMark);
    expect(ours(next.locks)).toEqual([{ conversationId: held, accountId: org.account.id, state: 'idle' }]);
  });
});

describe('actor lifecycle under load', () => {
  it('answers a racing open during a leave, and passivates the actor once idle and unwatched for a while', async () => {
    const conversationId = await newConversation();
    const dana = await connect(org.member.token);
    const dean = await connect(org.deptAdmin.token);
    for (let i = 0; i < 20; i++) {
      expect((await dana.request({ type: 'open', conversationId })).granted).toBe(true);
      // Dana leaves while Dean clicks in: his open is answered either way, never with an error.
      const [left, opened] = await Promise.all([dana.request({ type: 'leave', conversationId }), dean.request({ type: 'open', conversationId })]);
      expect(left.type).toBe('ack');
      expect(opened.type).toBe('ack');
      if (!opened.granted) expect((await dean.request({ type: 'open', conversationId })).granted).toBe(true);
      await dean.request({ type: 'leave', conversationId });
    }
    // Idle and unwatched, the actor stays warm for a while (the next click needs no store read)…
    clock.advance(t.sb.config.lock.passivateAfterMs - 1);
    await dean.request({ type: 'ping' });
    expect(t.sb.core.locks.isActive(conversationId)).toBe(true);
    clock.advance(1);
    await dean.request({ type: 'ping' });
    // …then it is stopped; the next open restores it from the store.
    expect(t.sb.core.locks.isActive(conversationId)).toBe(false);
    const again = await dean.request({ type: 'open', conversationId });
    expect(again.granted).toBe(true);
    await dean.request({ type: 'leave', conversationId });
  });
});

describe('hostile and broken clients', () => {
  it('refuses an upgrade without a valid token', async () => {
    await expect(WsClient.connect(t.sb.wsUrl, null)).rejects.toThrow(/401/);
    await expect(WsClient.connect(t.sb.wsUrl, 'forged-token')).rejects.toThrow(/401/);
  });

  it('answers malformed frames with stable error codes and stays up', async () => {
    const c = await connect(org.member.token);
    const cases: Array<[string, string]> = [
      ['not json', 'bad_request'],
      ['[]', 'validation_failed'],
      ['{"type":"launch"}', 'validation_failed'],
      ['{"type":"open","conversationId":"x"}', 'validation_failed'],
      ['{"type":"reply","conversationId":"01J0000000000000000000000A","lockToken":"1","text":"x"}', 'validation_failed'],
      ['{"type":"ping","extra":true}', 'validation_failed'],
      ['{"__proto__":{"admin":true},"type":"ping"}', 'validation_failed'],
    ];
    for (const [frame, code] of cases) {
      const mark = c.mark();
      c.send(frame);
      const answer = await c.next((f) => f.type === 'error' || f.type === 'ack', `the answer to ${frame}`, 5_000, mark);
      expect(answer.type === 'ack' ? 'ack' : answer.code, frame).toBe(code);
    }
    // An id that is not 1–64 characters is not echoed: the answer names no request.
    for (const id of ['', 'x'.repeat(65)]) {
      const mark = c.mark();
      c.send({ type: 'ping', id });
      const answer = await c.next((f) => f.type === 'error', `the answer to an id of ${id.length} characters`, 5_000, mark);
      expect(answer).toEqual({ type: 'error', code: 'validation_failed', message: expect.stringMatching(/^id: /) });
    }
    c.socket.send(Buffer.from([0xff, 0x00, 0x13]));
    await c.next((f) => f.code === 'bad_request', 'binary junk refused', 5_000, c.frames.length - 1);
    expect((await c.request({ type: 'ping' })).type).toBe('ack');
  });

  it('closes a socket that sends a frame over the size limit', async () => {
    const c = await connect(org.member.token);
    c.send({ type: 'ping', pad: 'x'.repeat(32 * 1024) });
    // uWS drops the connection outright (no close frame), so the client sees an abnormal closure.
    expect([1006, 1009]).toContain((await c.waitClosed()).code);
  });

  it('tells a flooding client to slow down, then closes it', async () => {
    const c = await connect(org.member.token);
    for (let i = 0; i < 400; i++) c.send('{"type":"ping"}');
    await c.next((f) => f.code === 'rate_limited', 'the rate limit error');
    expect((await c.waitClosed()).code).toBe(4008);
  });

  // Last: it moves the clock past every session's end.
  it('closes a socket when its session expires', async () => {
    const c = await connect(org.member.token);
    expect((await c.request({ type: 'ping' })).type).toBe('ack');
    clock.advance(t.sb.config.sessionTtlMs);
    expect((await c.waitClosed()).code).toBe(4001);
  });
});
