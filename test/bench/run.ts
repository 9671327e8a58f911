import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { uwsIsNative } from '../../gateways/http/listen.js';
import { closeAllNodes } from './bench-org.js';
import { inboundBenchmark } from './inbound-webhooks.js';
import { outboundBenchmark } from './outbound-sends.js';
import { inboxBenchmark } from './inbox-listing.js';
import { hostileBenchmark } from './hostile-webhooks.js';
import { campaignBenchmark } from './campaign-send.js';
import { killAllGenerators, LoadGenerator } from './load-client.js';
import { killAllSimulators } from './standalone-simulator.js';
import { formatTable, type BenchOutcome } from './report.js';
import { runWsBenchmarksDetailed } from './ws/run-ws.js';
import { clusterBenchmark } from './cluster.js';
import { controlDamon } from './kernel-damon.js';

// `npm run bench`: the benchmarks one after the other, each against a baseline measured in the
// same run (the machine is shared and noisy: ratios are what count), then one table, and the
// results as JSON in .scratch/bench/latest.json. `npm run bench -- inbound inbox` runs a subset.
// The load comes from a separate process; every server, temp dir and child is cleaned up on any
// way out.

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const RESULTS = join(ROOT, '.scratch', 'bench', 'latest.json');

const BENCHMARKS: Record<string, (gen: LoadGenerator) => Promise<BenchOutcome>> = {
  inbound: (gen) => inboundBenchmark(gen),
  outbound: (gen) => outboundBenchmark(gen),
  inbox: (gen) => inboxBenchmark(gen),
  hostile: (gen) => hostileBenchmark(gen),
  campaign: () => campaignBenchmark(),
  // The WebSocket benchmarks bring their own load processes (test/bench/ws/).
  locks: () => wsBenchmark('roundTrip', 'locks'),
  fanout: () => wsBenchmark('fanout', 'fanout'),
  connections: () => wsBenchmark('connections', 'connections'),
  // Brings its own nodes (child processes), NATS cluster and simulator.
  cluster: () => clusterBenchmark(),
};

async function wsBenchmark(only: string, name: string): Promise<BenchOutcome> {
  const lines: string[] = [];
  const profileDir = process.env.BENCH_PROFILE ?? null;
  const report = await runWsBenchmarksDetailed({ only: [only], runs: 1, profileDir, log: (l) => lines.push(l) });
  if (report.failures.length > 0) throw new Error(report.failures.join('\n'));
  return { name, rows: report.rows, details: report.details, notes: report.notes };
}

async function main(): Promise<number> {
  const asked = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const unknown = asked.filter((a) => !(a in BENCHMARKS));
  if (unknown.length > 0) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(BENCHMARKS).join(', ')}`);
    return 2;
  }
  const names = asked.length > 0 ? asked : Object.keys(BENCHMARKS);
  const startedAt = new Date();
  console.log(`Switchboard benchmarks ${startedAt.toISOString()} — node ${process.version}, ${cpus().length} cores, uWS ${uwsIsNative() ? 'native' : 'JS FALLBACK'}`);
  // Paused DAMON is turned back on at the process's exit (kernel-damon.ts).
  const damon = controlDamon();
  console.log(damon.describe());

  const gen = await LoadGenerator.start();
  const outcomes: BenchOutcome[] = [];
  const failures: string[] = [];
  try {
    for (const name of names) {
      const t0 = performance.now();
      process.stdout.write(`running ${name} … `);
      try {
        const outcome = await BENCHMARKS[name]!(gen);
        outcomes.push(outcome);
        console.log(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      } catch (e) {
        console.log('FAILED');
        failures.push(`${name}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      }
    }
  } finally {
    await gen.close();
  }

  const rows = outcomes.flatMap((o) => o.rows);
  console.log(`\n${formatTable(rows)}\n`);
  for (const o of outcomes) for (const n of o.notes) console.log(n);
  for (const f of failures) console.log(`ERROR ${f}`);

  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(
    RESULTS,
    JSON.stringify(
      {
        startedAt: startedAt.toISOString(),
        durationS: Number(((Date.now() - startedAt.getTime()) / 1000).toFixed(1)),
        node: process.version,
        cores: cpus().length,
        uwsNative: uwsIsNative(),
        kernelDamon: damon.describe(),
        rows,
        benchmarks: Object.fromEntries(outcomes.map((o) => [o.name, o.details])),
        failures,
      },
      null,
      2,
    ) + '\n',
  );
  console.log(`\nresults: ${RESULTS}`);
  const missed = rows.filter((r) => r.pass === false).length;
  return failures.length > 0 || missed > 0 ? 1 : 0;
}

let exiting = false;
async function cleanUpAndExit(code: number): Promise<void> {
  if (exiting) return;
  exiting = true;
  killAllGenerators();
  await closeAllNodes();
  killAllSimulators();
  process.exit(code);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cleanUpAndExit(130));
for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.once(event, (e: unknown) => {
    console.error(`${event}:`, e);
    void cleanUpAndExit(1);
  });
}

main().then(
  (code) => cleanUpAndExit(code),
  (e: unknown) => {
    console.error(e);
    return cleanUpAndExit(1);
  },
);
