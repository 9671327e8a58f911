import { monitorEventLoopDelay } from 'node:perf_hooks';
import { WEBHOOK_PATHS } from '../../gateways/webhooks/webhook-paths.js';
import { startBareUws, type BareServer } from './bare-uws.js';
import { openReader, startBenchNode } from './bench-org.js';
import { cpuWindow, loopWindow } from './cpu.js';
import { hostileForm } from './hostile-form.js';
import { profiled } from './profiler.js';
import type { LoadGenerator } from './load-client.js';
import type { RunResult } from './protocol.js';
import { row, type BenchOutcome } from './report.js';

// What refusing a hostile webhook costs the server's main thread. Anyone can post to the webhook
// URLs; a bogus-signed request must be refused for about what reading its headers costs, never
// for a parse, sort and hash of whatever body it carries. Two bodies, each under three bogus
// V3 signatures, sent one at a time on one connection so every refusal is measured alone:
// - 200,000 fields, 1.8 MB (under the API's MAX_BODY_BYTES, far over what Plivo sends);
// - as many fields as fit in 60 KiB (under the webhook body limit: only the field cap stops it).
// Baseline: a bare uWS handler reading the same bodies in full and answering (what receiving
// them costs at the least). Figures: main-thread CPU per refused request (/proc schedstat of the
// server's JavaScript thread), and the longest event-loop stall while they were refused.

export interface HostileOptions {
  requests: number;
  warmup: number;
  deadlineMs: number;
}

export const HOSTILE_DEFAULTS: HostileOptions = { requests: 60, warmup: 20, deadlineMs: 60_000 };

const VARIANTS = [
  { set: 'hostile-large', label: '1.8 MB, 200k fields', fields: 200_000, maxBytes: 2_000_000 },
  { set: 'hostile-fields', label: '60 KiB of fields', fields: 200_000, maxBytes: 60 * 1024 },
] as const;

const SIGNATURES = 3;

interface Measured {
  run: RunResult;
  /** Main-thread CPU ms per answered request (NaN when /proc is unavailable). */
  cpuMsPerRequest: number;
  /** Process CPU ms per answered request (every thread). */
  processCpuMsPerRequest: number;
  /** The longest the event loop was held up while these requests were answered. */
  maxStallMs: number;
}

async function measure(gen: LoadGenerator, set: string, port: number, o: HostileOptions, profile: string | null): Promise<Measured> {
  const sequential = (from: number, to: number) => ({ set, port, from, to, connections: 1, deadlineMs: o.deadlineMs });
  await gen.run(sequential(0, o.warmup));
  const stalls = monitorEventLoopDelay({ resolution: 1 });
  stalls.enable();
  const cpu = cpuWindow({ server: process.pid });
  const loop = loopWindow();
  const send = () => gen.run(sequential(o.warmup, o.warmup + o.requests));
  const run = profile === null ? await send() : await profiled(profile, send);
  const use = loop.stop();
  const processCpu = cpu.stop();
  stalls.disable();
  const answered = Math.max(1, run.answered);
  return {
    run,
    cpuMsPerRequest: use.onCpu === null ? NaN : (use.onCpu * use.wallMs) / answered,
    processCpuMsPerRequest: (processCpu.ms['server'] ?? NaN) / answered,
    maxStallMs: stalls.max / 1e6,
  };
}

const brief = (m: Measured) => ({
  answered: m.run.answered,
  statuses: m.run.statuses,
  networkErrors: m.run.networkErrors,
  errors: m.run.errors,
  latencyMs: { p50: Number(m.run.latencyMs.p50.toFixed(3)), max: Number(m.run.latencyMs.max.toFixed(3)) },
  mainThreadCpuMsPerRequest: Number(m.cpuMsPerRequest.toFixed(3)),
  processCpuMsPerRequest: Number(m.processCpuMsPerRequest.toFixed(3)),
  maxStallMs: Number(m.maxStallMs.toFixed(2)),
});

export async function hostileBenchmark(gen: LoadGenerator, o: HostileOptions = HOSTILE_DEFAULTS): Promise<BenchOutcome> {
  const node = await startBenchNode();
  let bare: BareServer | null = null;
  try {
    bare = await startBareUws({ kind: 'drain' });
    const rows = [];
    const details: Record<string, unknown> = { options: o, signatures: SIGNATURES };
    const notes: string[] = [];
    let stored = 0;
    for (const v of VARIANTS) {
      const form = hostileForm(v.fields, v.maxBytes);
      const bytes = Buffer.byteLength(form.body);
      await gen.prepare(v.set, { kind: 'hostileWebhooks', count: o.warmup + o.requests, path: WEBHOOK_PATHS.message, fields: v.fields, maxBytes: v.maxBytes, signatures: SIGNATURES });
      const real = await measure(gen, v.set, node.sb.port, o, v.set);
      const baseline = await measure(gen, v.set, bare.port, o, null);
      // Every one refused (any 4xx), none taken in.
      const refused = Object.entries(real.run.statuses).reduce((n, [status, count]) => (status.startsWith('4') ? n + count : n), 0);
      const verified = real.run.answered === o.requests && refused === o.requests;
      const name = `hostile webhook refused (${v.label}, ${SIGNATURES} bogus sigs)`;
      rows.push(
        row({ name, figure: real.cpuMsPerRequest, unit: 'ms CPU', baseline: baseline.cpuMsPerRequest, goal: '≤ 1 ms', pass: verified && real.cpuMsPerRequest <= 1 }),
        row({ name: '  longest event-loop stall', figure: real.maxStallMs, unit: 'ms', baseline: baseline.maxStallMs, goal: '', pass: null }),
      );
      details[v.set] = { fields: form.fields, bytes, real: brief(real), bareDrain: brief(baseline), verified };
      notes.push(
        `hostile (${v.label}): ${form.fields} fields, ${bytes} bytes; answers ${JSON.stringify(real.run.statuses)} ` +
          `(${verified ? 'all refused' : 'NOT all refused'}${real.run.networkErrors > 0 ? `, ${real.run.networkErrors} network errors: ${real.run.errors.join('; ')}` : ''}); ` +
          `server main thread ${real.cpuMsPerRequest.toFixed(2)} ms CPU per request (process ${real.processCpuMsPerRequest.toFixed(2)} ms), longest stall ${real.maxStallMs.toFixed(1)} ms; ` +
          `bare uWS reading the same body: ${baseline.cpuMsPerRequest.toFixed(2)} ms, stall ${baseline.maxStallMs.toFixed(1)} ms`,
      );
    }
    const reader = openReader(node);
    try {
      stored = reader.prepare<[], number>('SELECT count(*) FROM messages').pluck().get()!;
    } finally {
      reader.close();
    }
    if (stored !== 0) notes.push(`hostile: the store holds ${stored} messages, expected none`);
    details['storedMessages'] = stored;
    return { name: 'hostile', rows, details, notes };
  } finally {
    bare?.close();
    await node.close();
  }
}
