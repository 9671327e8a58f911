import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectionsBenchmark } from './connections.js';
import { fanoutBenchmark } from './fan-out.js';
import { lockRoundTripBenchmark } from './lock-round-trip.js';
import type { WsBenchContext, WsOutcome } from './common.js';
import { formatTable, type Row } from './stats.js';
import { controlDamon } from '../kernel-damon.js';

// The WebSocket benchmarks (issue 3): the lock round trip, the lock board's fan-out to 1,000
// operators, and the memory of 19,000 subscribed sockets, each against a bare-uWS baseline
// measured in the same run. The server under test and the load run in child processes (the
// server's event loop is never shared with the load, and the server's memory is its own); every
// child and temp dir goes at the end, also on failure. Each benchmark runs `runs` times (2 by
// default) and reports every run.
//
//   npx tsx test/bench/ws/run-ws.ts [roundTrip|fanout|connections …] [--runs N] [--profile DIR]
//     [--quiet-budget SECONDS]   (how long, in all, to wait for other processes to go quiet; 60)
//
// `runWsBenchmarks()` is what `npm run bench` calls.

export type { Row } from './stats.js';

export interface WsBenchOptions {
  /** Runs of each benchmark (each with its own baseline). */
  runs?: number;
  /** A subset of 'roundTrip', 'fanout', 'connections'. */
  only?: string[];
  /** V8 CPU profiles of the server during each measured Switchboard phase (round trip, fan-out). */
  profileDir?: string | null;
  /** In all, how long to wait for other processes to quieten down before measuring (default 60 s). */
  quietBudgetMs?: number;
  /** Progress and the notes under the table (default: stdout). */
  log?: (line: string) => void;
}

export const WS_BENCHMARKS: Record<string, (ctx: WsBenchContext) => Promise<WsOutcome>> = {
  roundTrip: lockRoundTripBenchmark,
  fanout: fanoutBenchmark,
  connections: connectionsBenchmark,
};

export interface WsBenchReport {
  rows: Row[];
  notes: string[];
  details: Record<string, unknown>;
  failures: string[];
}

/** Runs the benchmarks; a benchmark that throws gives a failing row and its error in `failures`. */
export async function runWsBenchmarksDetailed(options: WsBenchOptions = {}): Promise<WsBenchReport> {
  const log = options.log ?? ((line: string) => console.log(line));
  const ctx: WsBenchContext = {
    runs: Math.max(1, options.runs ?? 2),
    profileDir: options.profileDir ? resolve(options.profileDir) : null,
    log,
    quietBudgetMs: options.quietBudgetMs ?? 60_000,
  };
  const names = options.only && options.only.length > 0 ? options.only : Object.keys(WS_BENCHMARKS);
  const unknown = names.filter((n) => !(n in WS_BENCHMARKS));
  if (unknown.length > 0) throw new Error(`unknown WebSocket benchmark(s) ${unknown.join(', ')}; known: ${Object.keys(WS_BENCHMARKS).join(', ')}`);
  const report: WsBenchReport = { rows: [], notes: [], details: {}, failures: [] };
  for (const name of names) {
    const t0 = performance.now();
    log(`WebSocket benchmark ${name} …`);
    try {
      const o = await WS_BENCHMARKS[name]!(ctx);
      report.rows.push(...o.rows);
      report.notes.push(...o.notes);
      report.details[name] = o.details;
      log(`WebSocket benchmark ${name} done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    } catch (e) {
      const message = e instanceof Error ? (e.stack ?? e.message) : String(e);
      report.failures.push(`${name}: ${message}`);
      report.rows.push({ name: `WS ${name} (failed to run)`, figure: NaN, unit: '', baseline: null, ratio: null, goal: 'runs', pass: false });
      log(`WebSocket benchmark ${name} FAILED after ${((performance.now() - t0) / 1000).toFixed(1)} s: ${message}`);
    }
  }
  return report;
}

/** The rows of the table (notes and failures are logged through `options.log`). */
export async function runWsBenchmarks(options: WsBenchOptions = {}): Promise<Row[]> {
  const log = options.log ?? ((line: string) => console.log(line));
  const report = await runWsBenchmarksDetailed({ ...options, log });
  for (const n of report.notes) log(n);
  for (const f of report.failures) log(`ERROR ${f}`);
  return report.rows;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const only: string[] = [];
  let runs = 2;
  let profileDir: string | null = null;
  let quietBudgetMs: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--runs') runs = Number(args[++i]);
    else if (a === '--profile') profileDir = args[++i] ?? null;
    else if (a === '--quiet-budget') quietBudgetMs = Number(args[++i]) * 1000;
    else if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
    else only.push(a);
  }
  const { uwsIsNative } = await import('../../../gateways/http/listen.js');
  console.log(`Switchboard WebSocket benchmarks ${new Date().toISOString()} — node ${process.version}, ${cpus().length} cores, uWS ${uwsIsNative() ? 'native' : 'JS FALLBACK'}, ${runs} run(s) each`);
  const damon = controlDamon();
  console.log(damon.describe());
  const t0 = performance.now();
  const report = await runWsBenchmarksDetailed({ runs, only, profileDir, ...(quietBudgetMs !== undefined ? { quietBudgetMs } : {}) }).finally(() => damon.restore());
  console.log(`\n${formatTable(report.rows)}\n`);
  for (const n of report.notes) console.log(n);
  for (const f of report.failures) console.log(`ERROR ${f}`);
  console.log(`\n(${((performance.now() - t0) / 1000).toFixed(0)} s in all)`);
  return report.failures.length > 0 ? 1 : 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // An interrupted run still exits, so what it changed on the machine is put back (kernel-damon.ts).
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
