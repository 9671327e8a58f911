import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { startNats, type NatsCluster } from '../helpers/nats-server.js';
import { startTestSwitchboard, type TestSwitchboard } from '../helpers/switchboard.js';
import { tempDir } from '../helpers/temp-dir.js';
import { buildOrg, conversationWith, type Org } from '../helpers/org.js';
import { WsClient } from '../helpers/ws-client.js';

// Two nodes, one bus: two Switchboards in this process on one SQLite file (WAL lets both write)
// and one real nats-server. What one node commits reaches the sockets of the other through NATS
// events alone. (Each node keeps its own simulator: the group's numbers live on node A's, so a
// student's text comes in through node A's webhook.)

describe('two nodes on one NATS bus', () => {
  let nats: NatsCluster;
  const shared = tempDir();
  let a: TestSwitchboard;
  let b: TestSwitchboard;
  let org: Org;
  const clients: WsClient[] = [];

  beforeAll(async () => {
    nats = await startNats(1);
    const file = `${shared.path}/switchboard.db`;
    a = await startTestSwitchboard({ NATS_URL: nats.urls, NODE_ID: 'node-a' }, { store: await createSqliteStore({ file }) });
    b = await startTestSwitchboard({ NATS_URL: nats.urls, NODE_ID: 'node-b' }, { store: await createSqliteStore({ file }) });
    org = await buildOrg(a);
  });
  afterAll(async () => {
    clients.forEach((c) => c.close());
    await b?.close();
    await a?.close();
    await nats?.close();
    shared.remove();
  });

  const connectToB = async (token: string) => {
    const c = await WsClient.connect(b.sb.wsUrl, token);
    clients.push(c);
    return c;
  };

  // First: it starts from a node B that no socket has made watch anything.
  it("subscribes node B to an account's events only while one of its sockets watches the account", async () => {
    const subject = `sb.evt.account.${org.account.id}`;
    expect(await subscriptionsOf(nats, 'node-b')).not.toContain(subject);
    const first = await connectToB(org.deptAdmin.token);
    const second = await connectToB(org.deptAdmin.token);
    for (const ws of [first, second]) expect((await ws.request({ type: 'subscribe', account: org.account.apiCode })).type).toBe('ack');
    // Subscribed before the ack: the first picture is read after the server knows.
    expect(await subscriptionsOf(nats, 'node-b')).toContain(subject);
    expect(await subscriptionsOf(nats, 'node-a')).not.toContain(subject);
    expect((await first.request({ type: 'unsubscribe', account: org.account.apiCode })).type).toBe('ack');
    second.close();
    await second.waitClosed();
    // The last watcher left: the unsubscription is on its way to the server.
    const deadline = Date.now() + 5_000;
    while ((await subscriptionsOf(nats, 'node-b')).includes(subject)) {
      if (Date.now() > deadline) throw new Error('node B kept its subscription after its last watcher left');
      await b.sb.core.events.settled();
    }
    first.close();
  });

  it("delivers a student's text that arrived through node A's webhook to a subscribed socket on node B", async () => {
    const ws = await connectToB(org.member.token);
    const ack = await ws.request({ type: 'subscribe', id: 's1', account: org.account.apiCode });
    expect(ack.type).toBe('ack');
    const texted = await a.http.post('/simulator/messages', { from: '+16175559001', to: org.account.numbers[0], text: 'Sent to A, read on B' });
    expect(texted.body.delivery.state).toBe('delivered');
    const frame = await ws.next((f) => f.type === 'message' && f.message.text === 'Sent to A, read on B', 'the text on node B');
    expect(frame).toMatchObject({ accountId: org.account.id, message: { direction: 'inbound' } });
    await ws.next((f) => f.type === 'conversation' && f.conversationId === frame.conversationId, 'the conversation update on node B');
  });

  it('shows a watcher on one node a lock the other node announced and has not saved yet', async () => {
    const conversationId = await conversationWith(a, org, '+16175559003');
    // Both nodes' lock saves wait at a gate: announced at once, saved behind (as for about a tick under load).
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const restore = [a, b].map((node) => {
      const locks = node.sb.store.locks;
      const save = locks.save;
      locks.save = async (record) => {
        await gate;
        return save.call(locks, record);
      };
      return () => (locks.save = save);
    });
    try {
      const dana = await WsClient.connect(a.sb.wsUrl, org.member.token);
      clients.push(dana);
      expect((await dana.request({ type: 'open', conversationId })).granted).toBe(true);
      const owner = a.sb.core.locks.isActive(conversationId) ? a : b;
      const other = owner === a ? b : a;
      expect(await other.sb.store.locks.get(conversationId)).toBeNull();
      const watcher = await WsClient.connect(other.sb.wsUrl, org.deptAdmin.token);
      clients.push(watcher);
      const held = { conversationId, accountId: org.account.id, state: 'locked', holder: { userId: org.member.id, name: 'Dana Reyes' }, since: expect.any(Number) };
      expect((await watcher.request({ type: 'subscribe', account: org.account.apiCode })).locks).toContainEqual(held);
      expect((await watcher.request({ type: 'watchLocks', departmentId: org.departmentId })).locks).toContainEqual(held);
      await dana.request({ type: 'leave', conversationId });
    } finally {
      restore.forEach((undo) => undo());
      release();
    }
  });

  it("tells a member's socket on node B at once when node A removes them from the group account", async () => {
    const ws = await connectToB(org.member.token);
    expect((await ws.request({ type: 'subscribe', id: 's1', account: org.account.apiCode })).type).toBe('ack');
    const removed = await a.http.put(`/api/v1/group-accounts/${org.account.apiCode}/members`, { memberIds: [] }, org.deptAdmin.token);
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    await ws.next((f) => f.type === 'error' && f.code === 'access_revoked' && f.accountId === org.account.id, 'access_revoked on node B');
    // And no more of the account's events reach it: a later text goes unseen by this socket.
    const other = await connectToB(org.deptAdmin.token);
    expect((await other.request({ type: 'subscribe', id: 's2', account: org.account.apiCode })).type).toBe('ack');
    const mark = ws.mark();
    await a.http.post('/simulator/messages', { from: '+16175559002', to: org.account.numbers[0], text: 'after the removal' });
    await other.next((f) => f.type === 'message' && f.message.text === 'after the removal', 'the text for the admin on node B');
    await expect(ws.next((f) => f.type === 'message', 'nothing', 0, mark)).rejects.toThrow();
  });
});

/** The subjects node `name`'s NATS connection subscribes to, as the server reports them. */
async function subscriptionsOf(nats: NatsCluster, name: string): Promise<string[]> {
  const connz = (await (await fetch(`${nats.servers[0]!.monitorUrl}/connz?subs=1`)).json()) as { connections: Array<{ name?: string; subscriptions_list?: string[] }> };
  return connz.connections.find((c) => c.name === name)?.subscriptions_list ?? [];
}

describe('NATS_URL', () => {
  it('fails start-up within seconds, naming the servers, when no NATS answers there', async () => {
    const started = Date.now();
    const err = await startTestSwitchboard({ NATS_URL: 'nats://127.0.0.1:1', NATS_CONNECT_TIMEOUT_MS: '2000' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ message: expect.stringContaining('cannot reach NATS at nats://127.0.0.1:1') });
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
