import { killAll } from '../helpers/child-switchboard.js';
import { killAllSimulators } from '../bench/standalone-simulator.js';
import { formatReport, runChaos } from './run-chaos.js';

// `npm run chaos -- --seconds 120 --seed 42`: one chaos run, its counts and violations printed;
// exits 1 when the checker found a violation. Without --seed, a random one (printed, to replay).

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
  process.exitCode = report.result.violations.length > 0 ? 1 : 0;
} catch (e) {
  cleanUp();
  process.stderr.write(`chaos run failed (seed ${seed}): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 2;
}
