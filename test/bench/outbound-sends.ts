import { simulatorThreadByDefault } from '../../src/config.js';
import type { CoreEvent } from '../../src/events.js';
import type { Message } from '../../src/domain/types.js';
import { startBareUws } from './bare-uws.js';
import { buildBenchOrg, importStudents, openReader, startBenchNode, type BenchNode, type CommitStats } from './bench-org.js';
import type { LoadGenerator } from './load-client.js';
import type { PreparedRequest } from './protocol.js';
import { wallNow } from './protocol.js';
import { profiled } from './profiler.js';
import { cpuWindow, describeLoop, loopWindow } from './cpu.js';
import { row, type BenchOutcome, type ResultRow } from './report.js';
import { startStandaloneSimulator, type StandaloneSimulator } from './standalone-simulator.js';

// Outbound: messages per second from `POST /api/v1/messages` through the six pool numbers' queues
// to the Plivo simulator, over HTTP with the real Plivo SDK, with no send pacing. The clock runs
// from the first POST until every message is `submitted` or later (durable as `queued`, handed to
// its number's queue, `sending` written, accepted by the provider, `submitted` written); progress
// is read from core events, so nothing polls the store while it works. A campaign that cannot
// finish within the deadline is reported at the rate it reached (and fails).
//
// Delivery reports are a separate flow (Plivo → our webhook → sent/delivered), so the judged
// variants delay the simulator's delivery far past the measurement window: only Plivo's immediate
// `queued` callback (one per message, answered without a write) still arrives inside it, as it
// would from Plivo. The sent/delivered reports of the campaign then come after the window. The
// variant with live reports (no delivery delay: three callbacks per message, two of them writes,
// competing for the same core while we measure) is kept as a labelled diagnostic, and so is the
// simulator in its own process (as Plivo is: not on the node's core).
// Baseline: the same generator POSTing small JSON to a bare uWS handler answering 202, as many
// requests as messages, at the pipeline's concurrency (six numbers × NUMBER_MAX_IN_FLIGHT).
// BENCH_OUTBOUND=<label>[,<label>] runs only those variants (labels as in the JSON, e.g.
// `32-in-process-after`; any in-flight limit), for quick before/after comparisons.

export interface OutboundVariant {
  maxInFlight: number;
  /**
   * `in-process`: the simulator on the node's event loop (SIMULATOR_THREAD=false); `thread`: on
   * the node's worker thread (SIMULATOR_THREAD=true); `standalone`: in its own process. The
   * single-node default is the thread on a machine with more than one core (DEFAULT_PLACE).
   */
  simulator: 'in-process' | 'thread' | 'standalone';
  /**
   * `after`: the simulator delays delivery (sent/delivered callbacks) by DELAYED_DELIVERY_MS, past
   * the window; judged. `live`: no delay, the reports compete with the sends; a diagnostic.
   */
  reports: 'after' | 'live';
}

/** Far past any variant's window (deadline 25 s): the campaign's sent/delivered reports never share it. */
const DELAYED_DELIVERY_MS = 600_000;

export function variantLabel(v: OutboundVariant): string {
  return `${v.maxInFlight}-${v.simulator}-${v.reports}`;
}

/** `32-in-process-after` → the variant (BENCH_OUTBOUND). */
function parseVariant(label: string): OutboundVariant {
  const m = /^(\d+)-(in-process|thread|standalone)-(after|live)$/.exec(label);
  if (!m) throw new Error(`BENCH_OUTBOUND: ${label} is not <in-flight>-<in-process|thread|standalone>-<after|live>`);
  return { maxInFlight: Number(m[1]), simulator: m[2] as OutboundVariant['simulator'], reports: m[3] as OutboundVariant['reports'] };
}

export interface OutboundOptions {
  messages: number;
  /** Recipients per POST /messages. */
  perRequest: number;
  warmup: number;
  variants: OutboundVariant[];
  /** Per variant, from the first POST. */
  deadlineMs: number;
}

/** Where the single-node default runs the built-in simulator on this machine: the judged place. */
const DEFAULT_PLACE: OutboundVariant['simulator'] = simulatorThreadByDefault() ? 'thread' : 'in-process';
const OTHER_PLACE: OutboundVariant['simulator'] = DEFAULT_PLACE === 'thread' ? 'in-process' : 'thread';

export const OUTBOUND_DEFAULTS: OutboundOptions = {
  messages: 10_000,
  perRequest: 2_000,
  warmup: 300,
  variants: [
    { maxInFlight: 16, simulator: DEFAULT_PLACE, reports: 'after' },
    { maxInFlight: 32, simulator: DEFAULT_PLACE, reports: 'after' },
    { maxInFlight: 32, simulator: OTHER_PLACE, reports: 'after' },
    { maxInFlight: 32, simulator: 'in-process', reports: 'live' },
    { maxInFlight: 32, simulator: 'standalone', reports: 'live' },
  ],
  deadlineMs: 25_000,
};

const POOL_NUMBERS = 6;
const SIMULATOR_PLACE: Record<OutboundVariant['simulator'], string> = {
  'in-process': 'in-process simulator',
  thread: 'simulator on a worker thread',
  standalone: 'simulator in own process',
};
const SUBMITTED_OR_LATER = new Set<Message['status']>(['submitted', 'sent', 'delivered', 'undelivered']);
const FAILED = new Set<Message['status']>(['failed', 'rejected', 'unknown']);

interface Progress {
  readonly count: number;
  readonly failed: number;
  /** Wall time of the last message to get there. */
  readonly lastAt: number;
  /** Resolves when all got there (true) or at the deadline (false); then stops following. */
  wait(): Promise<boolean>;
  /** Stops following now. */
  dispose(): void;
}

/** Follows outbound messages created at or after `since` until `count` of them satisfy `done`. */
function watchOutbound(node: BenchNode, since: number, count: number, done: (m: Message) => boolean, deadlineMs: number): Progress {
  const finished = new Set<string>();
  const failed = new Set<string>();
  let lastAt = 0;
  let resolveAll!: (v: boolean) => void;
  const all = new Promise<boolean>((resolve) => (resolveAll = resolve));
  const off = node.sb.core.events.watchAll((e: CoreEvent) => {
    if (e.type !== 'message') return;
    const m = e.message;
    if (m.direction !== 'outbound' || m.createdAt < since || finished.has(m.id) || failed.has(m.id)) return;
    if (FAILED.has(m.status)) failed.add(m.id);
    else if (done(m)) finished.add(m.id);
    else return;
    lastAt = wallNow();
    if (finished.size + failed.size >= count) resolveAll(true);
  });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), deadlineMs)));
  const dispose = () => {
    clearTimeout(timer);
    off();
  };
  return {
    get count() {
      return finished.size;
    },
    get failed() {
      return failed.size;
    },
    get lastAt() {
      return lastAt;
    },
    wait: () => Promise.race([all, deadline]).finally(dispose),
    dispose,
  };
}

function composeRequests(token: string, apiCode: string, contactIds: string[], perRequest: number, text: string): PreparedRequest[] {
  const out: PreparedRequest[] = [];
  for (let i = 0; i < contactIds.length; i += perRequest) {
    out.push({
      method: 'POST',
      path: '/api/v1/messages',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ groupAccountCode: apiCode, to: contactIds.slice(i, i + perRequest), text, sendAnyway: true }),
    });
  }
  return out;
}

async function oneVariant(gen: LoadGenerator, o: OutboundOptions, variant: OutboundVariant) {
  const { maxInFlight } = variant;
  const deliveryDelayMs = variant.reports === 'after' ? DELAYED_DELIVERY_MS : 0;
  let sim: StandaloneSimulator | null = null;
  const env: Record<string, string> = {
    NUMBER_MAX_IN_FLIGHT: String(maxInFlight),
    SIMULATOR_DELIVERY_DELAY_MS: String(deliveryDelayMs),
    SIMULATOR_THREAD: String(variant.simulator === 'thread'),
  };
  if (variant.simulator === 'standalone') {
    sim = await startStandaloneSimulator({ deliveryDelayMs });
    Object.assign(env, { PLIVO_AUTH_ID: sim.authId, PLIVO_AUTH_TOKEN: sim.authToken, PLIVO_API_URL: sim.url });
  }
  let node: BenchNode | null = null;
  const bare = await startBareUws({ kind: 'json202' });
  try {
    node = await startBenchNode(env);
    const org = await buildBenchOrg(node);
    const importStart = performance.now();
    await importStudents(node, org, o.warmup + o.messages);
    const importMs = performance.now() - importStart;
    const contacts = await node.sb.store.contacts.list({ limit: o.warmup + o.messages });
    const ids = contacts.map((c) => c.id);
    if (ids.length !== o.warmup + o.messages) throw new Error(`expected ${o.warmup + o.messages} contacts, found ${ids.length}`);
    const label = `outbound-${variantLabel(variant)}`;
    const text = 'Hi {FirstName}, your application is complete. Reply here with any questions!';
    const requests = composeRequests(org.token, org.account.apiCode, ids.slice(0, o.messages), o.perRequest, text);
    await gen.prepare(label, { kind: 'static', requests });
    await gen.prepare(`${label}-warmup`, { kind: 'static', requests: composeRequests(org.token, org.account.apiCode, ids.slice(o.messages), o.warmup, text) });
    const concurrency = POOL_NUMBERS * maxInFlight;

    // Baseline first, while nothing else runs in the process.
    const smallBody = JSON.stringify({ src: '16175550100', dst: '16172000000', text, url: 'http://127.0.0.1/webhooks/plivo/status', method: 'POST' });
    await gen.prepare(`${label}-bare`, {
      kind: 'static',
      requests: Array.from({ length: o.messages }, () => ({ method: 'POST' as const, path: '/v1/Account/X/Message/', headers: { 'content-type': 'application/json' }, body: smallBody })),
    });
    await gen.run({ set: `${label}-bare`, port: bare.port, from: 0, to: Math.min(1_000, o.messages), connections: concurrency, deadlineMs: o.deadlineMs });
    const bareRun = await gen.run({ set: `${label}-bare`, port: bare.port, from: 0, to: o.messages, connections: concurrency, deadlineMs: o.deadlineMs });

    // Warm-up: a small campaign, delivered completely (callbacks included) before measuring; with
    // delivery delayed, submitted (its reports come after the window, like the campaign's).
    const warmDone = variant.reports === 'live' ? (m: Message) => m.status === 'delivered' : (m: Message) => SUBMITTED_OR_LATER.has(m.status);
    const warm = watchOutbound(node, Date.now(), o.warmup, warmDone, o.deadlineMs);
    const warmRun = await gen.run({ set: `${label}-warmup`, port: node.sb.port, from: 0, to: 1, connections: 1, deadlineMs: o.deadlineMs, keepBodies: 1 });
    if (warmRun.statuses['202'] !== 1) throw new Error(`warm-up compose failed: ${JSON.stringify(warmRun.statuses)} ${warmRun.bodies[0]?.slice(0, 300) ?? ''}`);
    if (!(await warm.wait())) throw new Error(`warm-up: only ${warm.count} of ${o.warmup} messages done in time`);

    const since = Date.now();
    const commitsBefore: CommitStats = { ...node.commits };
    const submitted = watchOutbound(node, since, o.messages, (m) => SUBMITTED_OR_LATER.has(m.status), o.deadlineMs);
    const delivered = variant.reports === 'live' ? watchOutbound(node, since, o.messages, (m) => m.status === 'delivered', o.deadlineMs) : null;
    const cpu = cpuWindow({ server: process.pid, generator: gen.pid, ...(sim ? { simulator: sim.pid } : {}) });
    const loop = loopWindow();
    const { post, complete } = await profiled(label, async () => {
      const post = await gen.run({ set: label, port: node!.sb.port, from: 0, to: requests.length, connections: requests.length, deadlineMs: o.deadlineMs, keepBodies: requests.length });
      return { post, complete: await submitted.wait() };
    });
    const loopUse = loop.stop();
    const cpuShare = cpu.stop();
    const commitsAtEnd: CommitStats = { ...node.commits };
    let allDelivered = false;
    if (delivered && complete) allDelivered = await delivered.wait();
    else delivered?.dispose();

    const queued = post.bodies.reduce((n, b) => n + ((JSON.parse(b) as { queued?: number }).queued ?? 0), 0);
    const reader = openReader(node);
    let inDb: Record<string, number>;
    try {
      const rows = reader
        .prepare<[number], { status: string; n: number }>("SELECT status, count(*) AS n FROM messages WHERE direction = 'outbound' AND created_at >= ? GROUP BY status")
        .all(since);
      inDb = Object.fromEntries(rows.map((r) => [r.status, r.n]));
    } finally {
      reader.close();
    }
    // Every message of the campaign is in the store at `submitted` or later, none failed or pending.
    const notYet = (inDb['queued'] ?? 0) + (inDb['sending'] ?? 0);
    const atLeastSubmitted = Object.entries(inDb).reduce((n, [s, c]) => n + (SUBMITTED_OR_LATER.has(s as Message['status']) ? c : 0), 0);
    const verified =
      post.statuses['202'] === requests.length && queued === o.messages && complete && submitted.failed === 0 && notYet === 0 && atLeastSubmitted === o.messages;
    const submittedMs = (complete ? submitted.lastAt : wallNow()) - post.startedAtMs;
    const rate = (submitted.count * 1000) / submittedMs;
    const commits = commitsAtEnd.commits - commitsBefore.commits;
    const ops = commitsAtEnd.ops - commitsBefore.ops;
    return {
      ...variant,
      concurrency,
      verified,
      complete,
      rate,
      bareRate: bareRun.rate,
      importMs: Math.round(importMs),
      composeAnsweredMs: Math.round(post.finishedAtMs - post.startedAtMs),
      submitted: submitted.count,
      submittedMs: Math.round(submittedMs),
      deliveredMs: delivered && allDelivered ? Math.round(delivered.lastAt - post.startedAtMs) : null,
      statuses: post.statuses,
      queued,
      failed: submitted.failed,
      inDb,
      commits,
      opsPerCommit: commits > 0 ? Number((ops / commits).toFixed(1)) : 0,
      cpu: cpuShare,
      mainThread: loopUse,
      serverCpuUsPerMessage: submitted.count > 0 ? Math.round(((cpuShare.ms['server'] ?? NaN) * 1000) / submitted.count) : null,
      bare: { rate: Math.round(bareRun.rate), p50: bareRun.latencyMs.p50, p99: bareRun.latencyMs.p99, sockets: bareRun.sockets, statuses: bareRun.statuses },
    };
  } finally {
    bare.close();
    await node?.close();
    await sim?.close();
  }
}

export async function outboundBenchmark(gen: LoadGenerator, o: OutboundOptions = OUTBOUND_DEFAULTS): Promise<BenchOutcome> {
  const only = process.env.BENCH_OUTBOUND?.split(',').map((s) => s.trim()).filter(Boolean);
  const chosen = only ? only.map(parseVariant) : o.variants;
  const variants = [];
  for (const v of chosen) variants.push(await oneVariant(gen, o, v));
  const rows: ResultRow[] = [];
  const notes: string[] = [
    `outbound: judged = the send path (POST → queued → per-number queues → accepted by the simulator via the SDK → submitted) with the ` +
      `simulator where the single-node default puts it on this machine (${SIMULATOR_PLACE[DEFAULT_PLACE]}) and its delivery delayed ` +
      `${DELAYED_DELIVERY_MS / 60_000} min ("reports after window": only Plivo's immediate queued callback shares the window); ` +
      `"live reports" (3 callbacks per message in the window), the ${SIMULATOR_PLACE[OTHER_PLACE]} and the "simulator in own process" are diagnostics`,
  ];
  for (const v of variants) {
    const where = `${SIMULATOR_PLACE[v.simulator]}, ${v.reports === 'after' ? 'reports after window' : 'live reports'}`;
    // Judged: the send path with the simulator where the single-node default puts it and the
    // delivery reports outside the window. Live reports, the simulator's other place in the node
    // and the standalone simulator are diagnostics (what the reports cost; what the thread does to
    // the event loop; the node with the simulator in another process).
    const judged = v.simulator === DEFAULT_PLACE && v.reports === 'after';
    rows.push(
      row({
        name: `outbound, ${where}, in-flight ${v.maxInFlight}`,
        figure: v.rate,
        unit: 'msg/s',
        baseline: v.bareRate,
        goal: judged ? '≥ 2000/s' : '(diagnostic)',
        pass: judged ? v.verified && v.rate >= 2000 : null,
      }),
    );
    notes.push(
      `outbound ${where}, in-flight ${v.maxInFlight}: ${o.messages} messages in ${Math.ceil(o.messages / o.perRequest)} POSTs ` +
        `(202 ${v.statuses['202'] ?? 0}, queued ${v.queued}, answered after ${v.composeAnsweredMs} ms); ` +
        (v.complete
          ? `all submitted at ${v.submittedMs} ms, ${v.reports === 'live' ? `all delivered at ${v.deliveredMs ?? 'n/a'} ms` : 'delivery reports after the window'}`
          : `DEADLINE: only ${v.submitted} submitted in ${v.submittedMs} ms`) +
        `; ${v.verified ? 'verified' : 'NOT verified'} (failed ${v.failed}, db ${JSON.stringify(v.inDb)}); ` +
        `${v.commits} commits, ${v.opsPerCommit} ops/commit; CPU (cores) ${JSON.stringify(v.cpu.cores)}, server ${v.serverCpuUsPerMessage} µs/message, ${describeLoop(v.mainThread)}; bare ${v.concurrency} connections ${v.bare.rate} req/s`,
    );
  }
  return { name: 'outbound', rows, details: { options: o, variants }, notes };
}
