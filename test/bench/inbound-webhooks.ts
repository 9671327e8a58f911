import { WEBHOOK_PATHS } from '../../gateways/webhooks/webhook-paths.js';
import { startBareUws } from './bare-uws.js';
import { buildBenchOrg, importStudents, openReader, probeCommits, startBenchNode, type CommitStats } from './bench-org.js';
import type { LoadGenerator } from './load-client.js';
import type { RunResult } from './protocol.js';
import { row, type BenchOutcome } from './report.js';
import { profiled } from './profiler.js';
import { cpuWindow, describeLoop, loopWindow } from './cpu.js';

// Inbound webhook ingestion: signed inbound-SMS webhooks per second through signature check,
// dedupe, routing, contact lookup and a durable (synchronous=FULL, group-committed) SQLite write,
// each webhook a new MessageUUID from one of a few thousand students to one of the six pool
// numbers. Baseline: a bare uWS handler that reads the same bodies and answers 200, before and
// after the real run (their mean is the baseline; the two show how noisy the machine was).

export interface InboundOptions {
  webhooks: number;
  warmup: number;
  students: number;
  connections: number;
  deadlineMs: number;
}

export const INBOUND_DEFAULTS: InboundOptions = { webhooks: 20_000, warmup: 2_000, students: 3_000, connections: 32, deadlineMs: 30_000 };

const digits = (e164: string) => e164.slice(1);
const perOp = (ms: number | null | undefined, ops: number): number => (ms === null || ms === undefined || ops === 0 ? NaN : (ms * 1000) / ops);

function commitDelta(before: CommitStats, after: CommitStats) {
  const commits = after.commits - before.commits;
  const ops = after.ops - before.ops;
  return { commits, ops, opsPerCommit: commits > 0 ? ops / commits : 0, maxBatchSoFar: after.maxBatch };
}

function summary(r: RunResult) {
  return {
    answered: r.answered,
    elapsedMs: Math.round(r.elapsedMs),
    rate: Math.round(r.rate),
    statuses: r.statuses,
    networkErrors: r.networkErrors,
    sockets: r.sockets,
    latencyMs: Object.fromEntries(Object.entries(r.latencyMs).map(([k, v]) => [k, Number(v.toFixed(3))])),
  };
}

export async function inboundBenchmark(gen: LoadGenerator, o: InboundOptions = INBOUND_DEFAULTS): Promise<BenchOutcome> {
  const node = await startBenchNode();
  const bare = await startBareUws({ kind: 'drain' });
  try {
    const org = await buildBenchOrg(node);
    const students = await importStudents(node, org, o.students);
    const total = o.warmup + o.webhooks;
    await gen.prepare('inbound', {
      kind: 'webhooks',
      count: total,
      uuidPrefix: `bench-${Date.now().toString(36)}`,
      signedUrl: node.sb.url + WEBHOOK_PATHS.message,
      path: WEBHOOK_PATHS.message,
      authToken: node.sb.simulator!.authToken,
      from: students.map(digits),
      to: org.account.numbers.map(digits),
    });
    const at = (port: number, from: number, to: number) => ({ set: 'inbound', port, from, to, connections: o.connections, deadlineMs: o.deadlineMs });

    // The bare handler gets the very same bodies; it stores nothing, so reusing them is harmless.
    await gen.run(at(bare.port, 0, o.warmup));
    const bareCpu = cpuWindow({ server: process.pid, generator: gen.pid });
    const bareBefore = await gen.run(at(bare.port, o.warmup, total));
    const bareCpuShare = bareCpu.stop();

    await gen.run(at(node.sb.port, 0, o.warmup)).then((w) => {
      if (w.statuses['200'] !== w.answered) throw new Error(`warm-up webhooks not all 200: ${JSON.stringify(w.statuses)} ${w.errors.join('; ')}`);
    });
    const disk = probeCommits(node.dataDir);
    const commitsBefore = { ...node.commits };
    const cpu = cpuWindow({ server: process.pid, generator: gen.pid });
    const loop = loopWindow();
    const real = await profiled('inbound', () => gen.run(at(node.sb.port, o.warmup, total)));
    const loopUse = loop.stop();
    const cpuShare = cpu.stop();
    const commits = commitDelta(commitsBefore, node.commits);

    const bareAfter = await gen.run(at(bare.port, o.warmup, total));
    const bareRate = (bareBefore.rate + bareAfter.rate) / 2;

    // Every webhook must have been answered 200 (durable), and stored exactly once.
    const ok = real.statuses['200'] ?? 0;
    const reader = openReader(node);
    let stored: number;
    let distinct: number;
    try {
      stored = reader.prepare<[], number>("SELECT count(*) FROM messages WHERE direction = 'inbound'").pluck().get()!;
      distinct = reader.prepare<[], number>("SELECT count(DISTINCT provider_id) FROM messages WHERE direction = 'inbound'").pluck().get()!;
    } finally {
      reader.close();
    }
    const complete = real.answered === o.webhooks && ok === o.webhooks;
    const verified = complete && stored === total && distinct === total;
    const notes: string[] = [];
    if (!complete) notes.push(`inbound: only ${ok} of ${o.webhooks} webhooks answered 200 (${JSON.stringify(real.statuses)}; ${real.errors.join('; ')})`);
    if (stored !== total || distinct !== total) notes.push(`inbound: the store holds ${stored} inbound messages (${distinct} distinct), expected ${total}`);
    notes.push(
      `inbound: ${ok}/${o.webhooks} answered 200, store holds ${stored} inbound (= ${total} with warm-up): ${verified ? 'verified' : 'NOT verified'}; ` +
        `${o.connections} connections (${real.sockets} opened); ${commits.commits} commits, ${commits.opsPerCommit.toFixed(1)} ops/commit; ` +
        `${describeLoop(loopUse)}; disk ${Math.round(disk.perSecond)} FULL commits/s (p99 ${disk.p99Ms.toFixed(2)} ms); ` +
        `CPU (cores) ${JSON.stringify(cpuShare.cores)}, bare ${JSON.stringify(bareCpuShare.cores)}; bare before/after ${Math.round(bareBefore.rate)}/${Math.round(bareAfter.rate)} req/s`,
    );

    const rate = verified ? real.rate : 0;
    const ratio = bareRate > 0 ? rate / bareRate : 0;
    return {
      name: 'inbound',
      rows: [
        row({ name: 'inbound webhooks (signed, durable)', figure: rate, unit: 'req/s', baseline: bareRate, goal: '≥ 3000/s and ≥ 0.3×', pass: verified && rate >= 3000 && ratio >= 0.3 }),
        row({ name: '  inbound webhook latency p50', figure: real.latencyMs.p50, unit: 'ms', baseline: (bareBefore.latencyMs.p50 + bareAfter.latencyMs.p50) / 2, goal: '', pass: null }),
        row({ name: '  inbound webhook latency p99', figure: real.latencyMs.p99, unit: 'ms', baseline: (bareBefore.latencyMs.p99 + bareAfter.latencyMs.p99) / 2, goal: '', pass: null }),
        // CPU per request barely moves when the shared machine is busy: the figure to compare runs by.
        row({ name: '  server CPU per webhook', figure: perOp(cpuShare.ms['server'], real.answered), unit: 'µs', baseline: perOp(bareCpuShare.ms['server'], bareBefore.answered), goal: '', pass: null }),
      ],
      details: {
        options: o,
        real: summary(real),
        bareBefore: summary(bareBefore),
        bareAfter: summary(bareAfter),
        commits,
        cpu: cpuShare,
        mainThread: loopUse,
        disk,
        bareCpu: bareCpuShare,
        stored,
        distinctProviderIds: distinct,
        verified,
      },
      notes,
    };
  } finally {
    bare.close();
    await node.close();
  }
}
