import { afterAll, describe, expect, it } from 'vitest';
import { killAll } from '../helpers/child-switchboard.js';
import { killAllSimulators } from '../bench/standalone-simulator.js';
import { formatReport, runChaos } from './run-chaos.js';

// Jepsen-style: five staff and a department admin (who takes over now and then) contend for
// three conversations on a three-node cluster while a node is killed and restarted, a node is
// paused past its lease and resumed, and a NATS server is killed and restarted; student texts come
// in throughout. The checker (./checker.ts) must find no two holders at once, no reply accepted
// under a stale token, and every delivered text stored exactly once.
//
// Part of `npm test` (CHAOS=0 leaves it out of a quick local run; `npm run chaos` runs longer ones
// with any seed): seven processes (three nodes, three NATS servers, the simulator) for about a
// minute. The seed is fixed so every run makes the same choices (who opens what, when each fault
// comes); CHAOS_SEED and CHAOS_SECONDS change them. Processes' timing still varies from run to
// run, which is what the checker judges.

const seconds = Number(process.env.CHAOS_SECONDS ?? 30);
const seed = Number(process.env.CHAOS_SEED ?? 7);

describe.skipIf(process.env.CHAOS === '0')('a three-node cluster under faults', () => {
  afterAll(async () => {
    await killAll();
    killAllSimulators();
  });

  it('never lets two people hold a lock, never accepts a stale reply, and stores every delivered text once', async () => {
    const report = await runChaos({ seconds, seed, log: (line) => console.log(line) });
    console.log(formatReport(report).join('\n'));
    // The run did what it is for: every kind of fault, contention, replies both ways, texts.
    expect(report.faults.some((f) => f.startsWith('SIGKILL n'))).toBe(true);
    expect(report.faults.some((f) => f.startsWith('SIGSTOP'))).toBe(true);
    expect(report.faults.some((f) => f.startsWith('SIGKILL nats'))).toBe(true);
    expect(report.result.counts.grants).toBeGreaterThan(20);
    expect(report.commands['takeOver'] ?? 0).toBeGreaterThan(0);
    expect(report.result.counts.repliesAccepted).toBeGreaterThan(10);
    expect(report.result.counts.textsSent).toBeGreaterThan(20);
    expect(report.result.violations.map((v) => `${v.rule}: ${v.detail}`)).toEqual([]);
  });
});
