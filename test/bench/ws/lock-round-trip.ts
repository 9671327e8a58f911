import { ms, profileFile, startLoadProcess, startServerProcess, stopAll, waitForQuiet, type WsBenchContext, type WsOutcome } from './common.js';
import type { RoundTripResult } from './load-proc.js';
import { row, type Row } from './stats.js';
import type { Child } from './ipc.js';
import type { ServerChild } from './common.js';
import { kdamondCpuWindow } from '../kernel-damon.js';

// Benchmark 1, the lock round trip. 1,000 authenticated clients (sessions of one staff member),
// each with its OWN conversation (a person's sockets share one lock), each doing one open/leave
// cycle per second on a fixed timetable: about 2,000 commands per second, open loop. Per command,
// the time from writing it to reading its ack; p50 and p99 over the measured window.
// Baseline, same run, same process, same generator, same frames at the same rate: a bare uWS
// echo server. Goals: p99 ≤ 3 ms and ≤ 4× the echo's p99.

export const CLIENTS = 1_000;
// For investigation only (the table uses the defaults): a longer period lowers the rate.
const PERIOD_MS = Number(process.env.WS_BENCH_RT_PERIOD_MS ?? 1_000);
const WARMUP_MS = 3_000;
const MEASURE_MS = Number(process.env.WS_BENCH_RT_MEASURE_MS ?? 20_000);
const DRAIN_MS = 3_000;
const GOAL_P99_MS = 3;
const GOAL_RATIO = 4;

interface Org {
  staffTokens: string[];
  conversationIds: string[];
}

/** Bytes per command: the heap is recorded over the whole run (warm-up and drain too), so over every command sent. */
function perCommand(bytes: number | null | undefined, commands: number): string {
  return bytes == null || commands === 0 ? '—' : `${Math.round(bytes / commands).toLocaleString('en-US')} B`;
}

export async function lockRoundTripBenchmark(ctx: WsBenchContext): Promise<WsOutcome> {
  let server: ServerChild | null = null;
  let load: Child | null = null;
  const rows: Row[] = [];
  const notes: string[] = [];
  const details: Record<string, unknown> = {};
  try {
    [server, load] = await Promise.all([startServerProcess('ws-rt server'), startLoadProcess('ws-rt load')]);
    const started = await server.call<{ port: number; dataDir: string; experiments: string[] }>('startSwitchboard', { env: {} });
    server.dataDir = started.dataDir;
    if (started.experiments.length > 0) notes.push(`lock round trip: EXPERIMENT ${started.experiments.join(', ')} (not the product as shipped)`);
    const org = await server.call<Org>('setupOrg', { ownerSessions: 1, staffSessions: 4, conversations: CLIENTS }, 120_000);
    const { port: barePort } = await server.call<{ port: number }>('startBare');
    const timing = { periodMs: PERIOD_MS, warmupMs: WARMUP_MS, measureMs: MEASURE_MS, drainMs: DRAIN_MS, serverPid: server.pid };
    const runTimeout = WARMUP_MS + MEASURE_MS + DRAIN_MS + 30_000;

    for (let run = 1; run <= ctx.runs; run++) {
      ctx.log(`  lock round trip, run ${run}: echo baseline …`);
      await load.call('connectWs', { group: 'echo', urls: [`ws://127.0.0.1:${barePort}/echo`], count: CLIENTS, hello: false });
      const quietEcho = await waitForQuiet(ctx, [process.pid, server.pid, load.pid], 'echo baseline');
      const echo = await load.call<RoundTripResult>('roundTrip', { group: 'echo', mode: 'echo', conversationIds: org.conversationIds, ...timing }, runTimeout);
      await load.call('closeGroup', { group: 'echo' });

      ctx.log(`  lock round trip, run ${run}: Switchboard …`);
      const urls = org.staffTokens.map((t) => `ws://127.0.0.1:${started.port}/ws?token=${encodeURIComponent(t)}`);
      const connected = await load.call<{ ms: number }>('connectWs', { group: 'sb', urls, count: CLIENTS, hello: true });
      const runNotes: string[] = [];
      let ping: RoundTripResult | null = null;
      if (process.env.WS_BENCH_RT_PING) {
        // Investigation only: the same rate of pings, answered by the gateway without the core, and
        // what they leave for the garbage collector.
        await waitForQuiet(ctx, [process.pid, server.pid, load.pid], 'Switchboard pings');
        await server.call('loopStart');
        ping = await load.call<RoundTripResult>('roundTrip', { group: 'sb', mode: 'ping', conversationIds: org.conversationIds, ...timing }, runTimeout);
        const pl = await server.call<Record<string, number | null>>('loopStop');
        runNotes.push(`  the pings' heap: GC ${pl.gcPauses} pauses, ${pl.gcTotalMs} ms in all; per ping ${perCommand(pl.allocatedBytes, ping.sent)} allocated, ${perCommand(pl.promotedBytes, ping.sent)} promoted`);
        runNotes.push(`  pings through the real gateway at the same rate: p50 ${ms(ping.all.p50)} p99 ${ms(ping.all.p99)} max ${ms(ping.all.max)}; CPU server ${ping.cpu.server}, others ${ping.cpu.others}`);
      }
      const quietSb = await waitForQuiet(ctx, [process.pid, server.pid, load.pid], 'Switchboard');
      const profile = profileFile(ctx, `ws-lock-round-trip-run${run}`);
      if (profile) await server.call('profileStart');
      await server.call('loopStart');
      const kdamond = kdamondCpuWindow();
      const sb = await load.call<RoundTripResult>('roundTrip', { group: 'sb', mode: 'sb', conversationIds: org.conversationIds, ...timing }, runTimeout);
      const kdamondCores = kdamond.stop();
      const loop = await server.call<Record<string, number | null>>('loopStop');
      if (profile) runNotes.push(`  profile: ${await server.call<string>('profileStop', { file: profile })}`);
      await load.call('closeGroup', { group: 'sb' });

      const clean = sb.missing === 0 && Object.keys(sb.errors).length === 0 && sb.notGranted === 0;
      const pass = clean && sb.all.p99 <= GOAL_P99_MS && sb.all.p99 <= GOAL_RATIO * echo.all.p99;
      rows.push(row({ name: `WS lock round trip p99 (run ${run})`, figure: sb.all.p99, unit: 'ms', baseline: echo.all.p99, goal: `≤ ${GOAL_P99_MS} ms, ≤ ${GOAL_RATIO}× echo`, pass }));
      rows.push(row({ name: `WS lock round trip p50 (run ${run})`, figure: sb.all.p50, unit: 'ms', baseline: echo.all.p50, goal: '', pass: null }));
      const seconds = MEASURE_MS / 1000;
      notes.push(
        `lock round trip run ${run}: ${sb.clients} clients, ${sb.ratePerS} commands/s measured over ${seconds} s (${sb.measured} commands; connect ${connected.ms} ms)`,
        `  Switchboard: open p50 ${ms(sb.open.p50)} p99 ${ms(sb.open.p99)} · leave p50 ${ms(sb.leave.p50)} p99 ${ms(sb.leave.p99)} · all p99.9 ${ms(sb.all.p999)} max ${ms(sb.all.max)} · from schedule p99 ${ms(sb.fromSchedule.p99)}`,
        `  echo:        p50 ${ms(echo.all.p50)} p99 ${ms(echo.all.p99)} p99.9 ${ms(echo.all.p999)} max ${ms(echo.all.max)} (${echo.ratePerS} msgs/s)`,
        `  p99 per second of the window: Switchboard ${sb.p99PerSecond.map((x) => x.toFixed(1)).join(' ')} ms; echo ${echo.p99PerSecond.map((x) => x.toFixed(1)).join(' ')} ms`,
        `  answers missing ${sb.missing}, errors ${JSON.stringify(sb.errors)}, not granted ${sb.notGranted}; generator send lag p99 ${ms(sb.sendLag.p99)} (echo run ${ms(echo.sendLag.p99)})`,
        `  before measuring, other processes used ${quietSb} of a core (echo: ${quietEcho}); CPU while measuring (share of one core): server ${sb.cpu.server}, load ${sb.cpu.load}, other processes on the machine ${sb.cpu.others} (echo run: server ${echo.cpu.server}, load ${echo.cpu.load}, others ${echo.cpu.others}); the kernel's kdamond ${kdamondCores === null ? 'not running' : `${kdamondCores} of a core over the run, warm-up included (kernel-damon.ts)`}`,
        `  server event loop: delay p50 ${loop.delayP50} ms p99 ${loop.delayP99} ms max ${loop.delayMax} ms, utilisation ${loop.utilization}; ` +
          `GC ${loop.gcPauses} pauses (${loop.scavenges} scavenges, ${loop.markCompacts} mark-compacts), ${loop.gcTotalMs} ms in all, p99 ${loop.gcP99Ms} ms, max ${loop.gcMaxMs} ms, ` +
          `per command ${perCommand(loop.allocatedBytes, sb.sent)} allocated, ${perCommand(loop.promotedBytes, sb.sent)} promoted; ` +
          `page faults ${loop.pageFaults} (${((loop.pageFaults ?? 0) / sb.sent).toFixed(2)} per command); ` +
          `SQLite group commits ${loop.commits} (${loop.syncedCommits} synced) for ${loop.committedOps} writes (${loop.commits ? ((loop.committedOps ?? 0) / loop.commits).toFixed(1) : '—'} per commit, max ${loop.maxBatch})`,
        ...runNotes,
      );
      details[`run${run}`] = { switchboard: sb, echo, ping, serverLoop: loop, connectMs: connected.ms };
    }
  } finally {
    await stopAll([load, server]);
  }
  return { name: 'lock round trip', rows, notes, details };
}
