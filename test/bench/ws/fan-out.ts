import { ms, profileFile, startLoadProcess, startServerProcess, stopAll, waitForQuiet, type ServerChild, type WsBenchContext, type WsOutcome } from './common.js';
import type { FanoutResult } from './load-proc.js';
import { row, type Row } from './stats.js';
import type { Child } from './ipc.js';

// Benchmark 2, the lock board's fan-out. 1,000 operator sockets (sessions of the owner) watch one
// department's lock board while a driver (20 sockets of a staff member, in the same load process
// as the operators, so one clock) opens and leaves conversations of the department's group
// account at 1,000 lock changes per second (each of 500 conversations locked for 20 ms once a
// second). Operators get one `board` frame per tick (BOARD_TICK_MS) with the latest lock of each
// conversation that changed. Per change: from the moment the driver wrote the command to the
// moment the LAST of the 1,000 operators read a board frame with its state or a later one of its
// conversation (a lock held for less than a tick arrives as released only); p50 and p99. From the
// driver's send, so the figure includes the command itself (access check, actor, save) and the
// wait for the tick as well as the publish; the notes also give it from the driver's ack and to
// the first operator. The operators are MiniWs clients (mini-ws.ts): the `ws` package cannot read
// this much in one process.
// Baseline, same run, same process, same generator: a bare uWS app that takes the very lock
// frames the real server would produce from the driver, coalesces them with the same BoardBatcher
// and tick, and publishes each tick's frame to one topic with 1,000 subscribers. A discarded pass
// at the full rate through each of the two warms them up first. Goal: p99 ≤ 50 ms, the server
// using at most one core.

const OPERATORS = 1_000;
const DRIVERS = 20;
const CONVERSATIONS = 500;
// For investigation only (the table uses the defaults): a longer period lowers the rate.
const PERIOD_MS = Number(process.env.WS_BENCH_FANOUT_PERIOD_MS ?? 1_000);
const HOLD_MS = 20;
const WARMUP_MS = 2_000;
const MEASURE_MS = 10_000;
const DRAIN_MS = 3_000;
const GOAL_P99_MS = 50;
const GOAL_SERVER_CORES = 1;
const BOARD_TICK_MS = 20;

interface Org {
  departmentId: string;
  accountId: string;
  ownerTokens: string[];
  staffTokens: string[];
  staffId: string;
  staffName: string;
  conversationIds: string[];
}

export async function fanoutBenchmark(ctx: WsBenchContext): Promise<WsOutcome> {
  let server: ServerChild | null = null;
  let load: Child | null = null;
  const rows: Row[] = [];
  const notes: string[] = [];
  const details: Record<string, unknown> = {};
  try {
    [server, load] = await Promise.all([startServerProcess('ws-fanout server'), startLoadProcess('ws-fanout load')]);
    // Each driver socket sends 50 commands a second: above the default per-socket rate (30/s).
    const started = await server.call<{ port: number; dataDir: string }>('startSwitchboard', { env: { WS_RATE_PER_SECOND: '200', WS_RATE_BURST: '400', BOARD_TICK_MS: String(BOARD_TICK_MS) } });
    server.dataDir = started.dataDir;
    const org = await server.call<Org>('setupOrg', { ownerSessions: 4, staffSessions: 2, conversations: CONVERSATIONS }, 120_000);
    const { port: barePort } = await server.call<{ port: number }>('startBare', { boardTickMs: BOARD_TICK_MS });
    const watch = JSON.stringify({ type: 'watchLocks', id: 'w', departmentId: org.departmentId });
    const spec = {
      conversationIds: org.conversationIds,
      accountId: org.accountId,
      holder: { userId: org.staffId, name: org.staffName },
      periodMs: PERIOD_MS,
      holdMs: HOLD_MS,
      warmupMs: WARMUP_MS,
      measureMs: MEASURE_MS,
      drainMs: DRAIN_MS,
      serverPid: server.pid,
    };
    const runTimeout = WARMUP_MS + MEASURE_MS + DRAIN_MS + 30_000;
    const connectBare = async (): Promise<void> => {
      const bareOps = await load!.call<{ connected: number; failed: number; reasons: string[] }>('connectMini', {
        group: 'ops-bare',
        port: barePort,
        paths: ['/pub'],
        count: OPERATORS,
        hello: false,
        firstFrame: watch,
        expect: '"type":"watchLocks"',
      });
      if (bareOps.failed > 0) throw new Error(`bare operators failed to connect: ${bareOps.reasons.join('; ')}`);
      await load!.call('connectWs', { group: 'drv-bare', urls: [`ws://127.0.0.1:${barePort}/pub`], count: DRIVERS, hello: false });
    };
    const closeBare = async (): Promise<void> => {
      await load!.call('closeGroup', { group: 'ops-bare' });
      await load!.call('closeGroup', { group: 'drv-bare' });
    };

    const connectSb = async (): Promise<number> => {
      const ops = await load!.call<{ connected: number; failed: number; reasons: string[]; ms: number }>(
        'connectMini',
        {
          group: 'ops-sb',
          port: started.port,
          paths: org.ownerTokens.map((t) => `/ws?token=${encodeURIComponent(t)}`),
          count: OPERATORS,
          hello: true,
          firstFrame: watch,
          expect: '"type":"ack"',
        },
        120_000,
      );
      if (ops.failed > 0) throw new Error(`operators failed to connect: ${ops.reasons.join('; ')}`);
      const driverUrls = org.staffTokens.map((t) => `ws://127.0.0.1:${started.port}/ws?token=${encodeURIComponent(t)}`);
      await load!.call('connectWs', { group: 'drv-sb', urls: driverUrls, count: DRIVERS, hello: true });
      return ops.ms;
    };
    const closeSb = async (): Promise<void> => {
      await load!.call('closeGroup', { group: 'ops-sb' });
      await load!.call('closeGroup', { group: 'drv-sb' });
    };

    // A discarded pass at the full rate through each server first, so that no side runs its hot
    // paths cold in the first measured run (the generator, the bare app, Switchboard: its lock
    // actors' first activations, its compiled code, its heap's sizes): at this rate a process that
    // falls behind at the start may never catch up within the window.
    ctx.log('  fan-out: warming up …');
    const warmup = { ...spec, warmupMs: 2_000, measureMs: 1_000, drainMs: 1_000 };
    await connectBare();
    await load.call<FanoutResult>('fanout', { operators: 'ops-bare', drivers: 'drv-bare', mode: 'bare', ...warmup }, runTimeout);
    await closeBare();
    await connectSb();
    await load.call<FanoutResult>('fanout', { operators: 'ops-sb', drivers: 'drv-sb', mode: 'sb', ...warmup }, runTimeout);
    await closeSb();

    for (let run = 1; run <= ctx.runs; run++) {
      ctx.log(`  fan-out, run ${run}: bare uWS publish baseline …`);
      await connectBare();
      const quietBare = await waitForQuiet(ctx, [process.pid, server.pid, load.pid], 'bare publish baseline');
      const bare = await load.call<FanoutResult>('fanout', { operators: 'ops-bare', drivers: 'drv-bare', mode: 'bare', ...spec }, runTimeout);
      await closeBare();

      ctx.log(`  fan-out, run ${run}: Switchboard …`);
      const operatorConnectMs = await connectSb();
      const quietSb = await waitForQuiet(ctx, [process.pid, server.pid, load.pid], 'Switchboard');
      const profile = profileFile(ctx, `ws-fanout-run${run}`);
      if (profile) await server.call('profileStart');
      await server.call('loopStart');
      const sb = await load.call<FanoutResult>('fanout', { operators: 'ops-sb', drivers: 'drv-sb', mode: 'sb', ...spec }, runTimeout);
      const loop = await server.call<Record<string, number | null>>('loopStop');
      const profiled = profile ? await server.call<string>('profileStop', { file: profile }) : null;
      await closeSb();

      const clean = sb.incomplete === 0 && Object.keys(sb.driverErrors).length === 0 && sb.operatorsOpenAtEnd === sb.operators;
      const pass = clean && sb.lastFromSend.p99 <= GOAL_P99_MS && (sb.cpu.server ?? Infinity) <= GOAL_SERVER_CORES;
      rows.push(row({ name: `WS fan-out to ${OPERATORS} operators p99 (run ${run})`, figure: sb.lastFromSend.p99, unit: 'ms', baseline: bare.lastFromSend.p99, goal: `≤ ${GOAL_P99_MS} ms, server ≤ ${GOAL_SERVER_CORES} core`, pass }));
      rows.push(row({ name: `WS fan-out to ${OPERATORS} operators p50 (run ${run})`, figure: sb.lastFromSend.p50, unit: 'ms', baseline: bare.lastFromSend.p50, goal: '', pass: null }));
      const fmt = (r: FanoutResult): string =>
        `last p50 ${ms(r.lastFromSend.p50)} p99 ${ms(r.lastFromSend.p99)} max ${ms(r.lastFromSend.max)} · from ack p50 ${ms(r.lastFromAck.p50)} p99 ${ms(r.lastFromAck.p99)} · first p50 ${ms(r.firstFromSend.p50)} · spread p99 ${ms(r.spread.p99)} · driver round trip p50 ${ms(r.driverRoundTrip.p50)} p99 ${ms(r.driverRoundTrip.p99)}`;
      notes.push(
        `fan-out run ${run}: ${sb.operators} operators, ${sb.transitionsPerS} lock changes/s over ${MEASURE_MS / 1000} s (${sb.measured}), board tick ${BOARD_TICK_MS} ms, ${sb.framesPerS} frames/s read by the operators (bare: ${bare.framesPerS})`,
        `  Switchboard: ${fmt(sb)}`,
        `  bare uWS:    ${fmt(bare)}`,
        ...(bare.incomplete > 0
          ? [`  NOTE: the bare baseline fell behind this run (${bare.incomplete} of ${bare.measured} changes never reached all operators within the window): its figure is no valid comparison`]
          : []),
        `  incomplete ${sb.incomplete} (bare ${bare.incomplete}), operators open at the end ${sb.operatorsOpenAtEnd}/${sb.operators}, driver errors ${JSON.stringify(sb.driverErrors)}; send lag p99 ${ms(sb.sendLag.p99)} (bare ${ms(bare.sendLag.p99)})`,
        `  before measuring, other processes used ${quietSb} of a core (bare: ${quietBare}); CPU while measuring (share of one core): server ${sb.cpu.server}, load ${sb.cpu.load}, other processes on the machine ${sb.cpu.others} (bare run: server ${bare.cpu.server}, load ${bare.cpu.load}, others ${bare.cpu.others})`,
        `  server event loop: delay p50 ${loop.delayP50} ms p99 ${loop.delayP99} ms max ${loop.delayMax} ms, utilisation ${loop.utilization}; ` +
          `GC ${loop.gcPauses} pauses, ${loop.gcTotalMs} ms in all, p99 ${loop.gcP99Ms} ms, max ${loop.gcMaxMs} ms; page faults ${loop.pageFaults}; ` +
          `SQLite group commits ${loop.commits} (${loop.syncedCommits} synced) for ${loop.committedOps} writes (max batch ${loop.maxBatch})`,
        ...(profiled ? [`  profile: ${profiled}`] : []),
      );
      details[`run${run}`] = { switchboard: sb, bare, serverLoop: loop, operatorConnectMs };
    }
  } finally {
    await stopAll([load, server]);
  }
  return { name: 'fan-out', rows, notes, details };
}
