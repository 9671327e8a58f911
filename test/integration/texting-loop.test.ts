import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CoreEvent } from '../../src/events.js';
import type { Message } from '../../src/domain/types.js';
import { startTestSwitchboard, type TestSwitchboard } from '../helpers/switchboard.js';
import { buildOrg, type Org } from '../helpers/org.js';
import { nextEvent, until } from '../helpers/wait.js';
import { WsClient } from '../helpers/ws-client.js';

// The whole loop a department runs every day, through the real gateway, the real Plivo SDK and
// the simulator's signed webhooks: create a group account from searched numbers → text students
// → a student replies → the conversation is in the Inbox → a staff member replies → the history
// says who sent what.

let t: TestSwitchboard;
let org: Org;

beforeAll(async () => {
  t = await startTestSwitchboard();
  org = await buildOrg(t);
});
afterAll(async () => t?.close());

const delivered = (id: string) => (e: CoreEvent) => e.type === 'message' && e.message.id === id && e.message.status === 'delivered';

async function waitDelivered(id: string): Promise<Message> {
  return until(
    t.sb.core.events,
    async () => {
      const m = await t.sb.store.messages.get(id);
      return m?.status === 'delivered' ? m : null;
    },
    `message ${id} delivered`,
  );
}

describe('the texting loop of a group account', () => {
  let conversationId: string;
  let poolNumber: string;
  const ana = () => org.students.find((s) => s.firstName === 'Ana')!;

  it('texts students from the pool, filling merge fields, filed in Archived', async () => {
    const r = await t.http.post(
      '/api/v1/messages',
      { groupAccountCode: org.account.apiCode, to: [ana().id, org.students.find((s) => s.firstName === 'Ben')!.phone], text: 'Hi {FirstName}, your {Program} file is complete.' },
      org.member.token,
    );
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body.queued).toBe(2);
    expect(r.body.skipped).toEqual({ optedOut: 0, notYourStudent: 0, unassigned: 0 });
    for (const m of r.body.messages) {
      expect(org.account.numbers).toContain(m.from);
      await waitDelivered(m.id);
    }
    const toAna = r.body.messages.find((m: { to: string }) => m.to === ana().phone);
    conversationId = toAna.conversationId;
    poolNumber = toAna.from;
    // Ana's phone (617) got the text from a 617 pool number (all demo pool numbers are 617 here).
    const phone = await t.http.get(`/simulator/messages?number=${encodeURIComponent(ana().phone)}`);
    expect(phone.body.messages).toEqual([expect.objectContaining({ from: poolNumber, text: 'Hi Ana, your Nursing file is complete.' })]);

    const archived = await t.http.get(`/api/v1/accounts/${org.account.apiCode}/conversations?folder=archived`, org.member.token);
    expect(archived.body.items.map((c: { id: string }) => c.id)).toContain(conversationId);
    const inbox = await t.http.get(`/api/v1/accounts/${org.account.apiCode}/conversations?folder=inbox`, org.member.token);
    expect(inbox.body.items).toEqual([]);
  });

  it('moves the conversation to the Inbox when the student replies, to the number that texted her', async () => {
    const arrived = nextEvent(t.sb.core.events, (e) => e.type === 'message' && e.message.direction === 'inbound', 'the inbound text');
    const sent = await t.http.post('/simulator/messages', { from: ana().phone, to: poolNumber, text: 'Thanks! Is the deadline Friday?' });
    expect(sent.status, JSON.stringify(sent.body)).toBe(200);
    expect(sent.body.delivery.state).toBe('delivered');
    await arrived;

    const inbox = await t.http.get(`/api/v1/accounts/${org.account.apiCode}/conversations?folder=inbox`, org.member.token);
    expect(inbox.body.items).toEqual([
      expect.objectContaining({
        id: conversationId,
        folder: 'inbox',
        unread: 1,
        lastMessagePreview: expect.stringContaining('deadline'),
        contact: expect.objectContaining({ firstName: 'Ana', phone: ana().phone }),
      }),
    ]);
  });

  it('sends a staff reply from the same pool number and shows who sent every text', async () => {
    // Group-account replies need the conversation's lock: clicking into it (a WebSocket `open`).
    const ws = await WsClient.connect(t.sb.wsUrl, org.member.token);
    const opened = await ws.request({ type: 'open', conversationId });
    expect(opened.granted).toBe(true);
    const r = await t.http.post(`/api/v1/conversations/${conversationId}/messages`, { text: 'Yes, Friday at 5pm.', lockToken: opened.lockToken }, org.member.token);
    ws.close();
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body.from).toBe(poolNumber);
    await waitDelivered(r.body.id);

    const history = await t.http.get(`/api/v1/conversations/${conversationId}/messages`, org.member.token);
    expect(history.status).toBe(200);
    expect(history.body.items.map((m: { direction: string; text: string; status: string; sentBy: { name: string } | null }) => [m.direction, m.text, m.status, m.sentBy?.name ?? null])).toEqual([
      ['outbound', 'Hi Ana, your Nursing file is complete.', 'delivered', 'Dana Reyes'],
      ['inbound', 'Thanks! Is the deadline Friday?', 'received', null],
      ['outbound', 'Yes, Friday at 5pm.', 'delivered', 'Dana Reyes'],
    ]);
    const phone = await t.http.get(`/simulator/messages?number=${encodeURIComponent(ana().phone)}`);
    expect(phone.body.messages.at(-1)).toMatchObject({ from: poolNumber, text: 'Yes, Friday at 5pm.' });
  });

  it('archives a handled conversation and moves it back', async () => {
    const a = await t.http.post(`/api/v1/conversations/${conversationId}/archive`, {}, org.member.token);
    expect(a.body.folder).toBe('archived');
    const u = await t.http.post(`/api/v1/conversations/${conversationId}/unarchive`, {}, org.member.token);
    expect(u.body.folder).toBe('inbox');
    const read = await t.http.post(`/api/v1/conversations/${conversationId}/read`, {}, org.member.token);
    expect(read.body.unread).toBe(0);
  });

  it('opts a student out on STOP for this account only, confirms once, and refuses later texts', async () => {
    const ben = org.students.find((s) => s.firstName === 'Ben')!;
    const conv = await t.sb.store.conversations.getByPair(org.account.id, ben.id);
    const r = await t.http.post('/simulator/messages', { from: ben.phone, to: conv!.senderNumber!, text: ' stop ' });
    expect(r.body.delivery.state).toBe('delivered');

    const confirmation = await until(
      t.sb.core.events,
      async () => (await t.http.get(`/simulator/messages?number=${encodeURIComponent(ben.phone)}`)).body.messages.find((m: { text: string }) => /unsubscribed/.test(m.text)),
      'the opt-out confirmation on Ben’s phone',
    );
    expect(confirmation.from).toBe(conv!.senderNumber);

    const refused = await t.http.post('/api/v1/messages', { groupAccountCode: org.account.apiCode, to: [ben.id], text: 'Still there?' }, org.member.token);
    expect(refused.status).toBe(422);
    expect(refused.body.error.code).toBe('opted_out');
    // A campaign skips and counts him instead.
    const bulk = await t.http.post('/api/v1/messages', { groupAccountCode: org.account.apiCode, to: [ben.id, ana().id], text: 'Reminder', sendAnyway: true }, org.member.token);
    expect(bulk.status, JSON.stringify(bulk.body)).toBe(202);
    expect(bulk.body).toMatchObject({ queued: 1, skipped: { optedOut: 1 } });
    // The opt-out is scoped to the group account: his assigned staff can still text him personally.
    const personal = await t.http.post('/api/v1/messages', { to: [ben.id], text: 'Hi Ben, Dana here.' }, org.member.token);
    expect(personal.status, JSON.stringify(personal.body)).toBe(202);

    // START opts back in.
    await t.http.post('/simulator/messages', { from: ben.phone, to: conv!.senderNumber!, text: 'START' });
    const again = await t.http.post('/api/v1/messages', { groupAccountCode: org.account.apiCode, to: [ben.id], text: 'Welcome back' }, org.member.token);
    expect(again.status, JSON.stringify(again.body)).toBe(202);
  });

  it('answers calls: a short message without a forwarding number, a Dial with one', async () => {
    const caller = ana().phone;
    const before = await t.http.post('/simulator/calls', { from: caller, to: org.account.numbers[2] });
    expect(before.status, JSON.stringify(before.body)).toBe(200);
    expect(before.body.dial).toBeNull();
    expect(before.body.actions).toEqual([expect.objectContaining({ verb: 'speak', text: expect.stringMatching(/does not take calls/) }), expect.objectContaining({ verb: 'hangup' })]);

    const patched = await t.http.patch(`/api/v1/group-accounts/${org.account.apiCode}`, { forwardingNumber: '(617) 555-0199' }, org.deptAdmin.token);
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect(patched.body.forwardingNumber).toBe('+16175550199');
    const after = await t.http.post('/simulator/calls', { from: caller, to: org.account.numbers[2] });
    // The forwarded call shows the student's number to the person who picks up.
    expect(after.body.dial).toMatchObject({ numbers: ['+16175550199'], callerId: caller });
  });
});
