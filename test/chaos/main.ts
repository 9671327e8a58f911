import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAll } from '../helpers/child-switchboard.js';
import { killAllSimulators } from '../bench/standalone-simulator.js';
import { formatReport, runChaos } from './run-chaos.js';

// `npm run chaos -- --seconds 120 --seed 42`: one chaos run, its counts and violations printed;
// exits 1 when the checker found a violation. Without --seed, a random one (printed, to replay).
// The history, the faults and the violations go to .scratch/chaos/seed-<seed>.json.

const SCRATCH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '.scratch', 'chaos');

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function positiveInt(name: string, fallback: number): number {
  const raw = option(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) {
    process.stderr.write(`--${name} must be a positive whole number (got ${raw})\n`);
    process.exit(2);
  }
  return n;
}

const seconds = positiveInt('seconds', 60);
const seed = positiveInt('seed', 1 + Math.floor(Math.random() * 1_000_000));
const cleanUp = (): void => {
  void killAll();
  killAllSimulators();
};
process.once('SIGINT', () => {
  cleanUp();
  process.exit(130);
});

try {
  const report = await runChaos({ seconds, seed, log: (line) => process.stdout.write(`${line}\n`) });
  process.stdout.write(`${formatReport(report).join('\n')}\n`);
  mkdirSync(SCRATCH, { recursive: true });
  const file = join(SCRATCH, `seed-${seed}.json`);
  writeFileSync(file, JSON.stringify({ seed, seconds, counts: report.result.counts, violations: report.result.violations, ...report.history }, null, 1));
  process.stdout.write(`history: ${file}\n`);
  process.exitCode = report.result.violations.length > 0 ? 1 : 0;
} catch (e) {
  cleanUp();
  process.stderr.write(`chaos run failed (seed ${seed}): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 2;
}
