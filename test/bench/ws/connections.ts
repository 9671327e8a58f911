import { setTimeout as delay } from 'node:timers/promises';
import { startLoadProcess, startServerProcess, stopAll, type ServerChild, type WsBenchContext, type WsOutcome } from './common.js';
import type { Child } from './ipc.js';
import { fdCount, row, vmRssKiB, type Row } from './stats.js';

// Benchmark 3, connections. 19,000 concurrent authenticated sockets on one node, each subscribed to
// the group account; the server's resident memory (VmRSS of the server process, after full GCs, at
// idle) before and after connecting them, per connection. The clients come from three load
// processes (a process may open 20,000 files; the server needs 19,000 plus its SQLite files and
// listen socket). Sessions are made with a handful of logins (scrypt, slow on purpose) and reused
// across sockets. Baseline, same run: a bare uWS WebSocket server in a fresh process of its own,
// the same number of sockets, each subscribed to a topic by its first message.
// Goal: ≤ 2 KiB per connection.

const SOCKETS = 19_000;
const LOAD_PROCESSES = 3;
const SESSIONS = 8;
const WARMUP_SOCKETS = 300;
const GOAL_KIB = 2;

interface Phase {
  beforeKiB: number;
  afterKiB: number;
  perSocketKiB: number;
  heapPerSocketKiB: number;
  connected: number;
  failed: number;
  reasons: string[];
  connectMs: number;
  serverFds: number | null;
  before: Record<string, number | null>;
  after: Record<string, number | null>;
}

type Mem = { vmRssKiB: number; heapUsedKiB: number; heapTotalKiB: number; externalKiB: number; arrayBuffersKiB: number; connections: number | null };

async function measure(
  server: ServerChild,
  loads: Child[],
  connect: { port: number; paths: string[]; hello: boolean; firstFrame: string; expect: string },
): Promise<Phase> {
  // Warm up the code paths (first upgrade, schemas, subscribe), so that "before" is a running server.
  const warm = await loads[0]!.call<{ failed: number; reasons: string[] }>('connectMini', { group: 'warm', count: WARMUP_SOCKETS, ...connect }, 60_000);
  if (warm.failed > 0) throw new Error(`warm-up sockets failed: ${warm.reasons.join('; ')}`);
  await loads[0]!.call('closeGroup', { group: 'warm' });
  await delay(1_000); // a measuring window, not a wait for an event
  const before = await server.call<Mem>('memory');
  const beforeKiB = vmRssKiB(server.pid);

  const t0 = performance.now();
  const share = Math.ceil(SOCKETS / loads.length);
  const results = await Promise.all(
    loads.map((l, i) =>
      l.call<{ connected: number; failed: number; reasons: string[] }>(
        'connectMini',
        { group: 'held', count: Math.min(share, SOCKETS - i * share), concurrency: 64, ...connect },
        240_000,
      ),
    ),
  );
  const connectMs = Math.round(performance.now() - t0);
  const connected = results.reduce((s, r) => s + r.connected, 0);
  const failed = results.reduce((s, r) => s + r.failed, 0);
  const serverFds = fdCount(server.pid);
  await delay(1_000); // a measuring window, not a wait for an event
  const after = await server.call<Mem>('memory');
  const afterKiB = vmRssKiB(server.pid);
  await Promise.all(loads.map((l) => l.call('closeGroup', { group: 'held' })));
  const perSocketKiB = connected > 0 ? (afterKiB - beforeKiB) / connected : NaN;
  return {
    beforeKiB,
    afterKiB,
    perSocketKiB: Math.round(perSocketKiB * 1000) / 1000,
    heapPerSocketKiB: connected > 0 ? Math.round(((after.heapUsedKiB - before.heapUsedKiB) / connected) * 1000) / 1000 : NaN,
    connected,
    failed,
    reasons: results.flatMap((r) => r.reasons).slice(0, 5),
    connectMs,
    serverFds,
    before,
    after,
  };
}

export async function connectionsBenchmark(ctx: WsBenchContext): Promise<WsOutcome> {
  const rows: Row[] = [];
  const notes: string[] = [];
  const details: Record<string, unknown> = {};
  let loads: Child[] = [];
  let server: ServerChild | null = null;
  try {
    loads = await Promise.all(Array.from({ length: LOAD_PROCESSES }, (_, i) => startLoadProcess(`ws-conn load ${i + 1}`)));
    for (let run = 1; run <= ctx.runs; run++) {
      ctx.log(`  connections, run ${run}: bare uWS baseline (${SOCKETS} sockets) …`);
      server = await startServerProcess('ws-conn bare server');
      const { port: barePort } = await server.call<{ port: number }>('startBare');
      const bare = await measure(server, loads, { port: barePort, paths: ['/sub'], hello: false, firstFrame: '{"type":"subscribe","id":"s","account":"bench"}', expect: '"type":"ack"' });
      await stopAll([server]);
      server = null;

      ctx.log(`  connections, run ${run}: Switchboard (${SOCKETS} sockets) …`);
      server = await startServerProcess('ws-conn server');
      const started = await server.call<{ port: number; dataDir: string; experiments: string[] }>('startSwitchboard', { env: {} });
      server.dataDir = started.dataDir;
      if (started.experiments.length > 0) notes.push(`connections: EXPERIMENT ${started.experiments.join(', ')} (not the product as shipped)`);
      const org = await server.call<{ apiCode: string; staffTokens: string[] }>('setupOrg', { ownerSessions: 1, staffSessions: SESSIONS, conversations: 0 }, 120_000);
      const sb = await measure(server, loads, {
        port: started.port,
        paths: org.staffTokens.map((t) => `/ws?token=${encodeURIComponent(t)}`),
        hello: true,
        firstFrame: JSON.stringify({ type: 'subscribe', id: 's', account: org.apiCode }),
        expect: '"type":"ack"',
      });
      await stopAll([server]);
      server = null;

      const pass = sb.failed === 0 && sb.connected === SOCKETS && sb.perSocketKiB <= GOAL_KIB;
      rows.push(row({ name: `WS memory per subscribed socket, ${SOCKETS} (run ${run})`, figure: sb.perSocketKiB, unit: 'KiB', baseline: bare.perSocketKiB, goal: `≤ ${GOAL_KIB} KiB`, pass }));
      const fmt = (p: Phase): string =>
        `${p.connected} connected (${p.failed} failed${p.reasons.length ? `: ${p.reasons.join('; ')}` : ''}) in ${(p.connectMs / 1000).toFixed(1)} s (${Math.round((p.connected / p.connectMs) * 1000)}/s); ` +
        `VmRSS ${p.beforeKiB} → ${p.afterKiB} KiB = ${p.perSocketKiB} KiB/socket; JS heap used ${p.before.heapUsedKiB} → ${p.after.heapUsedKiB} KiB = ${p.heapPerSocketKiB} KiB/socket; ` +
        `heap total ${p.before.heapTotalKiB} → ${p.after.heapTotalKiB} KiB; server fds ${p.serverFds}`;
      notes.push(`connections run ${run}:`, `  Switchboard: ${fmt(sb)}`, `  bare uWS:    ${fmt(bare)}`);
      details[`run${run}`] = { switchboard: sb, bare };
    }
  } finally {
    await stopAll([server, ...loads]);
  }
  return { name: 'connections', rows, notes, details };
}
