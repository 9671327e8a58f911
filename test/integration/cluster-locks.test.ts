import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { startNats, type NatsCluster } from '../helpers/nats-server.js';
import { spawnSwitchboard, killAll, type ChildSwitchboard } from '../helpers/child-switchboard.js';
import { startSimulatorServer, type SimulatorServer } from '../helpers/simulator-server.js';
import { startTestSwitchboard, FAST_ENV } from '../helpers/switchboard.js';
import { buildOrg, type Org } from '../helpers/org.js';
import { tempDir } from '../helpers/temp-dir.js';
import { WsClient, type Frame } from '../helpers/ws-client.js';

// Three Switchboards as child processes, as `npm start` runs them, on one SQLite file (WAL
// serialises their writes) and a three-server NATS cluster with JetStream, with the standalone
// Plivo simulator. They must behave as one: a lock taken through one node on a conversation
// another node runs is seen by operators on the third; and when the node that runs conversations
// dies (SIGKILL) or is paused past its lease (SIGSTOP), another node takes its locks over with
// their deadlines, and the paused one commits nothing when it wakes.

const LEASE_MS = 1_000;
const GRACE_MS = 1_500;
/** Long enough for a lease to lapse and a lock to be adopted on a loaded machine. */
const FAILOVER_DEADLINE_MS = 15_000;

describe('three nodes on one NATS cluster', () => {
  let nats: NatsCluster;
  let simulator: SimulatorServer;
  const data = tempDir();
  let org: Org;
  let conversations: string[];
  const nodes = new Map<string, ChildSwitchboard>();
  const clients: WsClient[] = [];
  let nc: NatsConnection;
  let claims: KV;
  /** Dean watching the board on node C, and Dana on node A (kept from one test to the next). */
  let board: WsClient;
  let danaOnA: WsClient;

  const start = async (nodeId: string) => {
    const { authId, authToken } = simulator.sim.credentials;
    const node = await spawnSwitchboard({
      ...FAST_ENV,
      DATA_DIR: data.path,
      NATS_URL: nats.urls,
      NATS_KV_REPLICAS: '3',
      NODE_ID: nodeId,
      NODE_LEASE_MS: String(LEASE_MS),
      LOCK_DISCONNECT_GRACE_MS: String(GRACE_MS),
      PLIVO_AUTH_ID: authId,
      PLIVO_AUTH_TOKEN: authToken,
      PLIVO_API_URL: simulator.apiUrl,
    });
    nodes.set(nodeId, node);
    return node;
  };
  const socket = async (nodeId: string, token: string) => {
    const c = await WsClient.connect(`${nodes.get(nodeId)!.url.replace(/^http/, 'ws')}/ws`, token);
    clients.push(c);
    return c;
  };
  const ownerOf = async (conversationId: string) => (await claims.get(`conversation.${conversationId}`))?.json<{ node: string }>().node;
  const ok = async (c: WsClient, frame: Frame, timeoutMs?: number) => {
    const answer = await c.request(frame, timeoutMs);
    expect(answer.type, JSON.stringify(answer)).toBe('ack');
    return answer;
  };

  beforeAll(async () => {
    [nats, simulator] = await Promise.all([startNats(3), startSimulatorServer()]);
    // The organisation and three conversations, written by a node that then stops.
    const { authId, authToken } = simulator.sim.credentials;
    const setup = await startTestSwitchboard({ PLIVO_AUTH_ID: authId, PLIVO_AUTH_TOKEN: authToken, PLIVO_API_URL: simulator.apiUrl }, { dataDir: data.path });
    try {
      org = await buildOrg(setup);
      const sent = await setup.http.post(
        '/api/v1/messages',
        { groupAccountCode: org.account.apiCode, to: org.students.map((s) => s.id), text: 'Your file is complete.' },
        org.member.token,
      );
      expect(sent.status, JSON.stringify(sent.body)).toBe(202);
      conversations = (sent.body.messages as Array<{ conversationId: string }>).map((m) => m.conversationId);
      expect(conversations).toHaveLength(3);
    } finally {
      await setup.close();
    }
    // One after the other: three loaders at once on a shared machine starve each other.
    for (const id of ['node-a', 'node-b', 'node-c']) await start(id);
    nc = await connect({ servers: nats.urls });
    claims = await new Kvm(nc).open('sb-actors');
  }, 120_000);

  afterAll(async () => {
    clients.forEach((c) => c.close());
    await killAll();
    await nc?.close();
    await simulator?.close();
    await nats?.close();
    data.remove();
  });

  it('locks through node A a conversation node B runs; operators on node C see it; the reply commits; a second user on C is refused', async () => {
    const [first] = conversations as [string];
    // Node B runs the conversation: Dean opened it there first (and left).
    const deanOnB = await socket('node-b', org.deptAdmin.token);
    await ok(deanOnB, { type: 'open', conversationId: first });
    await ok(deanOnB, { type: 'leave', conversationId: first });
    expect(await ownerOf(first)).toBe('node-b');

    board = await socket('node-c', org.deptAdmin.token);
    await ok(board, { type: 'watchLocks', departmentId: org.departmentId });
    danaOnA = await socket('node-a', org.member.token);
    const opened = await ok(danaOnA, { type: 'open', conversationId: first });
    expect(opened).toMatchObject({ granted: true, lock: { state: 'locked', holder: { userId: org.member.id } } });
    expect(await ownerOf(first)).toBe('node-b');
    await board.next(
      (f) => f.type === 'board' && (f.locks as Array<{ conversationId: string; holder?: { userId: string } }>).some((l) => l.conversationId === first && l.holder?.userId === org.member.id),
      "Dana's lock on the board on node C",
    );

    const replied = await ok(danaOnA, { type: 'reply', conversationId: first, lockToken: opened.lockToken, text: 'Through node A', clientRef: 'r1' });
    expect(replied).toMatchObject({ message: { text: 'Through node A', direction: 'outbound' } });

    const deanOnC = await socket('node-c', org.deptAdmin.token);
    expect(await ok(deanOnC, { type: 'open', conversationId: first })).toMatchObject({ granted: false, lock: { holder: { userId: org.member.id } } });
    const refused = await deanOnC.request({ type: 'reply', conversationId: first, lockToken: opened.lockToken, text: 'Not mine to send', clientRef: 'r2' });
    expect(refused).toMatchObject({ type: 'error', code: 'stale_lock_token' });
  });

  it("adopts a killed node's held locks with their deadlines: holders on live nodes get a new token, those on the dead node lose it after the grace", async () => {
    const [first, second] = conversations as [string, string];
    expect(await ownerOf(first)).toBe('node-b');
    // Dana still holds the first through node A. Dean holds the second through a socket on node B.
    const deanOnB = await socket('node-b', org.deptAdmin.token);
    expect(await ok(deanOnB, { type: 'open', conversationId: second })).toMatchObject({ granted: true });
    expect(await ownerOf(second)).toBe('node-b');
    const mark = danaOnA.mark();
    const boardMark = board.mark();
    const before = (await danaOnA.request({ type: 'activity', conversationId: first })) as Frame;
    expect(before.type).toBe('ack');

    const killedAt = Date.now();
    await nodes.get('node-b')!.kill();
    // Dana's lock moves to a live node under a new token, told to her socket without her asking.
    const renewed = await danaOnA.next((f) => f.type === 'lock' && f.conversationId === first && typeof f.lockToken === 'number', 'the new token after the failover', FAILOVER_DEADLINE_MS, mark);
    const failoverMs = Date.now() - killedAt;
    console.log(`failover: Dana's new token ${failoverMs} ms after node B was killed`);
    expect(['node-a', 'node-c']).toContain(await ownerOf(first));
    // Dean's socket died with node B: his lock is released once the grace has run, with nobody asking.
    await board.next(
      (f) => f.type === 'board' && (f.locks as Array<{ conversationId: string; state: string }>).some((l) => l.conversationId === second && l.state === 'idle'),
      "Dean's lock released after the grace",
      FAILOVER_DEADLINE_MS + GRACE_MS,
      boardMark,
    );
    // The new token is the one the lock takes now.
    const replied = await ok(danaOnA, { type: 'reply', conversationId: first, lockToken: renewed.lockToken, text: 'After the failover', clientRef: 'r3' });
    expect(replied).toMatchObject({ message: { text: 'After the failover' } });
  });

  it('takes the locks of a node paused past its lease; woken, that node commits nothing under its old token', async () => {
    const third = conversations[2]!;
    // Node C runs the third conversation; Dana holds it through a tab on C and one on A.
    const danaOnC = await socket('node-c', org.member.token);
    const onC = await ok(danaOnC, { type: 'open', conversationId: third });
    expect(onC).toMatchObject({ granted: true });
    expect(await ownerOf(third)).toBe('node-c');
    expect(await ok(danaOnA, { type: 'open', conversationId: third })).toMatchObject({ granted: true, lockToken: onC.lockToken });
    const before = await nodes.get('node-a')!.http.get(`/api/v1/conversations/${third}/messages`, org.member.token);
    expect(before.status).toBe(200);

    const c = nodes.get('node-c')!;
    const mark = danaOnA.mark();
    process.kill(c.pid, 'SIGSTOP');
    try {
      // Dana keeps working on A: node A waits out C's lease, takes the conversation over and
      // tells her the lock's new token.
      await ok(danaOnA, { type: 'activity', conversationId: third }, FAILOVER_DEADLINE_MS);
      const renewed = await danaOnA.next((f) => f.type === 'lock' && f.conversationId === third && typeof f.lockToken === 'number', 'the new token', FAILOVER_DEADLINE_MS, mark);
      expect(renewed.lockToken).toBeGreaterThan(onC.lockToken);
      expect(await ownerOf(third)).toBe('node-a');
    } finally {
      process.kill(c.pid, 'SIGCONT');
    }
    // Woken, node C no longer runs the conversation: the old token is refused, nothing is stored.
    const stale = await danaOnC.request({ type: 'reply', conversationId: third, lockToken: onC.lockToken, text: 'From the paused node', clientRef: 'r4' }, FAILOVER_DEADLINE_MS);
    expect(stale).toMatchObject({ type: 'error', code: 'stale_lock_token' });
    const after = await nodes.get('node-a')!.http.get(`/api/v1/conversations/${third}/messages`, org.member.token);
    expect(after.body.items).toHaveLength(before.body.items.length);
    expect(await ownerOf(third)).toBe('node-a');
  });
});
