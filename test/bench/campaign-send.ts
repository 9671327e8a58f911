import { simulatorThreadByDefault } from '../../src/config.js';
import type { CoreEvent } from '../../src/events.js';
import { buildBenchOrg, startBenchNode, studentPhone } from './bench-org.js';
import { cpuMs, describeLoop, loopWindow, type LoopUse } from './cpu.js';
import { profiled } from './profiler.js';
import { row, type BenchOutcome, type ResultRow } from './report.js';

// Campaigns (`npm run bench -- campaign`), two figures:
// 1. Throughput: BENCH_CAMPAIGN_RECIPIENTS (100,000) recipients with pacing lifted, from `start`
//    to the last text handed to the in-process simulator (its `submitted` record), as texts per
//    second, and how much the process grew meanwhile (RSS, sampled every 100 ms, over the RSS
//    before the campaign was created). The recipients are expanded before `start`, so the clock
//    measures sending. Delivery reports are delayed past the window, as in the outbound benchmark.
//    Baseline: the same node's compose (`POST /messages`) of BENCH_CAMPAIGN_BASELINE texts.
// 2. Pacing: NUMBER_SEND_INTERVAL_MS scaled down to 200 ms, 20 texts per number; each number's
//    send starts against its schedule (first start + k × interval): the worst drift of a
//    number's last start, relative to its scheduled span.
// Both run the built-in simulator where the product's default puts it (on its worker thread on a
// machine with more than one core); SIMULATOR_THREAD=true|false chooses.

const RECIPIENTS = Number(process.env.BENCH_CAMPAIGN_RECIPIENTS ?? 100_000);
const BASELINE = Number(process.env.BENCH_CAMPAIGN_BASELINE ?? 10_000);
const PACED_INTERVAL_MS = 200;
const PACED_PER_NUMBER = 20;
const SIMULATOR_THREAD = process.env.SIMULATOR_THREAD ?? String(simulatorThreadByDefault());

function waitFor(node: { sb: { core: { events: { watchAll(l: (e: CoreEvent) => void): () => void } } } }, done: (e: CoreEvent) => boolean, deadlineMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${deadlineMs} ms waiting for ${what}`));
    }, deadlineMs);
    const off = node.sb.core.events.watchAll((e) => {
      if (!done(e)) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

/** Counts outbound messages reaching `submitted` (handed to the provider, recorded). */
function countSubmitted(node: Parameters<typeof waitFor>[0], count: number, deadlineMs: number): Promise<number> {
  let n = 0;
  let last = 0;
  return waitFor(node, (e) => {
    if (e.type !== 'message' || e.message.direction !== 'outbound' || e.message.status !== 'submitted') return false;
    last = performance.now();
    return ++n >= count;
  }, deadlineMs, `${count} texts submitted (${n} so far)`).then(() => last);
}

async function throughput(): Promise<{ rows: ResultRow[]; details: Record<string, unknown> }> {
  const node = await startBenchNode({ NUMBER_SEND_INTERVAL_MS: '0', NUMBER_MAX_IN_FLIGHT: '32', SIMULATOR_DELIVERY_DELAY_MS: '600000', MAX_BODY_BYTES: String(8 * 1024 * 1024), SIMULATOR_THREAD });
  try {
    const org = await buildBenchOrg(node);
    // Baseline: a compose of BASELINE texts on the same node.
    const composeTo = Array.from({ length: BASELINE }, (_, i) => studentPhone(i, 5));
    const b0 = performance.now();
    const composed = countSubmitted(node, BASELINE, 600_000);
    const r = await node.http.post('/api/v1/messages', { groupAccountCode: org.account.apiCode, to: composeTo, text: 'Hi', sendAnyway: true }, org.token);
    if (r.status !== 202) throw new Error(`compose: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
    const composeRate = BASELINE / (((await composed) - b0) / 1000);

    const phones = Array.from({ length: RECIPIENTS }, (_, i) => studentPhone(i));
    const rssBefore = process.memoryUsage().rss;
    let rssMax = rssBefore;
    const sampler = setInterval(() => (rssMax = Math.max(rssMax, process.memoryUsage().rss)), 100);
    try {
      const created = await node.http.post('/api/v1/campaigns', { groupAccountCode: org.account.apiCode, name: 'Bench', text: 'Hi {FirstName}, welcome!', recipients: { phones } }, org.token);
      if (created.status !== 201) throw new Error(`create campaign: ${created.status} ${JSON.stringify(created.body).slice(0, 200)}`);
      const id = created.body.id as string;
      const e0 = performance.now();
      await waitFor(node, (e) => e.type === 'campaign' && e.campaign.id === id && e.campaign.counts.total === RECIPIENTS, 1_800_000, 'the expansion');
      const expandMs = performance.now() - e0;
      const sent = countSubmitted(node, RECIPIENTS, 1_800_000);
      // Process CPU (every thread: node, in-process simulator, GC) over the window, per text: the
      // figure that stays put when neighbours slow the machine down.
      const cpu0 = cpuMs()!;
      const commits0 = { ...node.commits };
      const loop = loopWindow();
      let mainThread: LoopUse | null = null;
      const s0 = performance.now();
      let cpu1 = cpu0;
      const last = await profiled('campaign', async () => {
        const started = await node.http.post(`/api/v1/campaigns/${id}/start`, {}, org.token);
        if (started.status !== 200) throw new Error(`start: ${started.status}`);
        const at = await sent;
        cpu1 = cpuMs()!;
        mainThread = loop.stop();
        return at;
      });
      const cpuUsPerText = ((cpu1 - cpu0) * 1000) / RECIPIENTS;
      // The event loop's own CPU per text: with the simulator on its worker thread, the rate this
      // thread could carry with a core to itself is 1 s divided by it.
      const loopUse = mainThread as LoopUse | null;
      const mainUsPerText = loopUse?.onCpu == null ? null : (loopUse.onCpu * loopUse.wallMs * 1000) / RECIPIENTS;
      const commits = node.commits.commits - commits0.commits;
      const opsPerCommit = commits > 0 ? (node.commits.ops - commits0.ops) / commits : 0;
      const rate = RECIPIENTS / ((last - s0) / 1000);
      const growthMb = (rssMax - rssBefore) / 1024 / 1024;
      return {
        rows: [
          row({ name: `campaign ${RECIPIENTS} recipients, start → last hand-off`, figure: rate, unit: 'texts/s', baseline: composeRate, goal: '≥ 2,000/s', pass: rate >= 2000 }),
          row({ name: 'campaign process growth (RSS)', figure: growthMb, unit: 'MB', baseline: null, goal: '≤ 200 MB', pass: growthMb <= 200 }),
        ],
        details: { recipients: RECIPIENTS, textsPerSecond: rate, cpuUsPerText, commitsPerText: commits / RECIPIENTS, opsPerCommit, mainThread, mainUsPerText, simulatorThread: node.sb.simulatorThreadId !== null, composeTextsPerSecond: composeRate, expandMs, rssBeforeMb: rssBefore / 1048576, rssMaxMb: rssMax / 1048576 },
      };
    } finally {
      clearInterval(sampler);
    }
  } finally {
    await node.close();
  }
}

async function pacing(): Promise<{ rows: ResultRow[]; details: Record<string, unknown> }> {
  const node = await startBenchNode({ NUMBER_SEND_INTERVAL_MS: String(PACED_INTERVAL_MS), SIMULATOR_DELIVERY_DELAY_MS: '600000', SIMULATOR_THREAD });
  try {
    const org = await buildBenchOrg(node);
    const total = PACED_PER_NUMBER * org.account.numbers.length;
    // One area code per pool number is not given, so least-busy choice spreads them evenly.
    const phones = Array.from({ length: total }, (_, i) => `+1212${String(5_000_000 + i).padStart(7, '0')}`);
    const starts = new Map<string, number[]>();
    const off = node.sb.core.events.watchAll((e) => {
      if (e.type !== 'message' || e.message.direction !== 'outbound' || e.message.status !== 'submitted') return;
      // `sending` is written right before the Plivo call; its time is the start the queue scheduled.
      const list = starts.get(e.message.fromNumber) ?? starts.set(e.message.fromNumber, []).get(e.message.fromNumber)!;
      list.push(e.message.updatedAt);
    });
    try {
      const created = await node.http.post('/api/v1/campaigns', { groupAccountCode: org.account.apiCode, name: 'Paced', text: 'Hi', recipients: { phones } }, org.token);
      const id = created.body.id as string;
      await waitFor(node, (e) => e.type === 'campaign' && e.campaign.id === id && e.campaign.counts.total === total, 120_000, 'the expansion');
      const done = waitFor(node, (e) => e.type === 'campaign' && e.campaign.id === id && e.campaign.state === 'completed', 120_000, 'the paced campaign');
      await node.http.post(`/api/v1/campaigns/${id}/start`, {}, org.token);
      await done;
    } finally {
      off();
    }
    let worst = 0;
    for (const times of starts.values()) {
      const sorted = [...times].sort((a, b) => a - b);
      const span = (sorted.length - 1) * PACED_INTERVAL_MS;
      if (span <= 0) continue;
      worst = Math.max(worst, Math.abs(sorted.at(-1)! - sorted[0]! - span) / span);
    }
    const pct = worst * 100;
    return {
      rows: [row({ name: `campaign pacing, ${PACED_PER_NUMBER} texts per number every ${PACED_INTERVAL_MS} ms: worst drift`, figure: pct, unit: '%', baseline: null, goal: '≤ 1%', pass: pct <= 1 })],
      details: { perNumber: Object.fromEntries([...starts].map(([n, t]) => [n, t.length])), worstDriftPercent: pct },
    };
  } finally {
    await node.close();
  }
}

export async function campaignBenchmark(): Promise<BenchOutcome> {
  const a = await throughput();
  const b = await pacing();
  return {
    name: 'campaign',
    rows: [...a.rows, ...b.rows],
    details: { ...a.details, ...b.details },
    notes: [
      `campaign: ${RECIPIENTS} recipients expanded in ${((a.details.expandMs as number) / 1000).toFixed(1)} s before start (not in the rate); process CPU ${Math.round(a.details.cpuUsPerText as number)} µs per text (every thread, simulator included${a.details.simulatorThread ? ', on its worker thread' : ', on the event loop'}), of which the event loop ${a.details.mainUsPerText === null ? '?' : Math.round(a.details.mainUsPerText as number)} µs; ${(a.details.commitsPerText as number).toFixed(2)} group commits per text, ${(a.details.opsPerCommit as number).toFixed(1)} writes each; ${describeLoop(a.details.mainThread as LoopUse)}; baseline is this node's compose of ${BASELINE} texts; pacing drift is |last start − first − (n−1)×interval| / ((n−1)×interval) per number, the worst number shown.`,
    ],
  };
}
