import { connect } from '@nats-io/transport-node';
import { startNats } from '../helpers/nats-server.js';
import { spawnSwitchboard, killAll } from '../helpers/child-switchboard.js';
import { startSimulatorServer } from '../helpers/simulator-server.js';
import { startTestSwitchboard, FAST_ENV } from '../helpers/switchboard.js';
import { tempDir } from '../helpers/temp-dir.js';
import { WsClient, type Frame } from '../helpers/ws-client.js';
import { buildBenchOrg, type BenchNode } from './bench-org.js';
import { row, type BenchOutcome } from './report.js';

// The cluster, as three-node deployments run it but with two nodes: Switchboards as child
// processes on one SQLite file, a three-server NATS cluster with JetStream, the standalone
// simulator. Measured from this process:
// - the lock round trip of a client on node A for a conversation node B runs (`open` then
//   `leave`, one at a time), against a raw NATS request/reply between two connections on two
//   servers of the same cluster, in the same run;
// - failover: node B is killed (SIGKILL) and the client on A opens another of B's conversations:
//   the time from the kill to the granted open (placement waits out B's lease, NODE_LEASE_MS,
//   default 3 s).

const WARMUP = 100;
const ROUND_TRIPS = 1_000;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

export async function clusterBenchmark(): Promise<BenchOutcome> {
  const nats = await startNats(3);
  const simulator = await startSimulatorServer();
  const data = tempDir('switchboard-bench-cluster-');
  const clients: WsClient[] = [];
  try {
    const { authId, authToken } = simulator.sim.credentials;
    const plivo = { PLIVO_AUTH_ID: authId, PLIVO_AUTH_TOKEN: authToken, PLIVO_API_URL: simulator.apiUrl };
    const setup = await startTestSwitchboard(plivo, { dataDir: data.path });
    let org;
    let conversations: string[];
    try {
      org = await buildBenchOrg(setup as unknown as BenchNode);
      const sent = await setup.http.post('/api/v1/messages', { groupAccountCode: org.account.apiCode, to: ['+16172000001', '+16172000002'], text: 'Bench' }, org.token);
      if (sent.status !== 202) throw new Error(`compose: ${sent.status} ${JSON.stringify(sent.body)}`);
      conversations = (sent.body.messages as Array<{ conversationId: string }>).map((m) => m.conversationId);
    } finally {
      await setup.close();
    }
    const env = { ...FAST_ENV, ...plivo, DATA_DIR: data.path, NATS_URL: nats.urls, NATS_KV_REPLICAS: '3', LOG_LEVEL: 'silent', WS_RATE_PER_SECOND: '10000', WS_RATE_BURST: '10000' };
    const a = await spawnSwitchboard({ ...env, NODE_ID: 'bench-a' });
    const b = await spawnSwitchboard({ ...env, NODE_ID: 'bench-b' });
    const socket = async (url: string) => {
      const c = await WsClient.connect(`${url.replace(/^http/, 'ws')}/ws`, org.token);
      clients.push(c);
      return c;
    };
    const ask = async (c: WsClient, frame: Frame, timeoutMs = 20_000) => {
      const answer = await c.request(frame, timeoutMs);
      if (answer.type !== 'ack') throw new Error(`${frame.type}: ${JSON.stringify(answer)}`);
      return answer;
    };
    // Node B runs both conversations: it opened them first.
    const onB = await socket(b.url);
    for (const id of conversations) {
      await ask(onB, { type: 'open', conversationId: id });
      await ask(onB, { type: 'leave', conversationId: id });
    }
    onB.close();

    const onA = await socket(a.url);
    const [first, second] = conversations as [string, string];
    const lockTimes: number[] = [];
    for (let i = 0; i < WARMUP + ROUND_TRIPS; i++) {
      const t0 = performance.now();
      await ask(onA, { type: 'open', conversationId: first });
      await ask(onA, { type: 'leave', conversationId: first });
      if (i >= WARMUP) lockTimes.push((performance.now() - t0) / 2);
    }
    lockTimes.sort((x, y) => x - y);

    // The raw NATS request between two servers of the same cluster, one at a time.
    const responder = await connect({ servers: nats.servers[0]!.url });
    const requester = await connect({ servers: nats.servers[1]!.url });
    const natsTimes: number[] = [];
    try {
      responder.subscribe('bench.echo', { callback: (_err, msg) => void msg.respond(msg.data) });
      await responder.flush();
      // The subscription reaches the other server over the route a moment later: until it has,
      // a request is answered at once with "no responders". Ask again on each such answer (each a
      // round trip to the server, no timer), up to a deadline.
      for (const until = performance.now() + 10_000; ; ) {
        try {
          await requester.request('bench.echo', 'probe', { timeout: 1_000 });
          break;
        } catch (e) {
          if (performance.now() > until) throw e;
        }
      }
      const payload = JSON.stringify({ actorId: first, command: JSON.stringify({ type: 'open', userId: 'u', name: 'n', connId: 'c' }) });
      for (let i = 0; i < WARMUP + ROUND_TRIPS; i++) {
        const t0 = performance.now();
        await requester.request('bench.echo', payload, { timeout: 5_000 });
        if (i >= WARMUP) natsTimes.push(performance.now() - t0);
      }
    } finally {
      await responder.close();
      await requester.close();
    }
    natsTimes.sort((x, y) => x - y);

    // Failover: kill B, then open one of its conversations through A.
    const killedAt = performance.now();
    await b.kill();
    let opened: Frame | null = null;
    while (!opened) {
      const answer = await onA.request({ type: 'open', conversationId: second }, 20_000);
      if (answer.type === 'ack') opened = answer;
      else if (answer.code !== 'actor_unavailable') throw new Error(`open after the kill: ${JSON.stringify(answer)}`);
    }
    const failoverMs = performance.now() - killedAt;
    await a.stop();

    const lockP99 = percentile(lockTimes, 0.99);
    const natsP99 = percentile(natsTimes, 0.99);
    return {
      name: 'cluster',
      rows: [
        row({ name: 'cluster lock round trip p99 (client on the non-owner)', figure: lockP99, unit: 'ms', baseline: natsP99, goal: '≤ 5 ms, ≤ 3× NATS', pass: lockP99 <= 5 && lockP99 <= 3 * natsP99 }),
        row({ name: 'cluster lock round trip p50', figure: percentile(lockTimes, 0.5), unit: 'ms', baseline: percentile(natsTimes, 0.5), goal: '', pass: null }),
        row({ name: 'failover: kill owner → open elsewhere', figure: failoverMs, unit: 'ms', baseline: null, goal: '≤ 5000 ms', pass: failoverMs <= 5_000 }),
      ],
      details: { lockP50: percentile(lockTimes, 0.5), lockP99, natsP50: percentile(natsTimes, 0.5), natsP99, failoverMs, roundTrips: ROUND_TRIPS, granted: opened.granted },
      notes: [
        `cluster: ${ROUND_TRIPS} open+leave pairs from a client on node A for a conversation node B runs, one at a time (each figure is half a pair); baseline: raw NATS request/reply between two servers of the cluster; failover with NODE_LEASE_MS 3000`,
      ],
    };
  } finally {
    clients.forEach((c) => c.close());
    await killAll();
    await simulator.close();
    await nats.close();
    data.remove();
  }
}
