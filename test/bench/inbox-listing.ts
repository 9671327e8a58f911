import { startBareUws } from './bare-uws.js';
import { buildBenchOrg, openReader, startBenchNode } from './bench-org.js';
import type { LoadGenerator } from './load-client.js';
import type { LatencySummary, PreparedRequest, RunResult } from './protocol.js';
import { profiled } from './profiler.js';
import { cpuWindow, describeLoop, loopWindow } from './cpu.js';
import { row, type BenchOutcome } from './report.js';
import { seedInbox } from './seed-inbox.js';
import { prng } from '../helpers/prng.js';

// Inbox listing: pages of 50 conversations of one account that holds a million messages over
// twenty thousand conversations, over HTTP, one request at a time on one connection. A fifth of
// the requests ask for the first page, the rest continue from `before` cursors the server itself
// handed out while the generator walked every page. Baseline: a bare uWS GET answering the real
// first page's bytes, same client, same requests.

export interface InboxOptions {
  conversations: number;
  messagesPerConversation: number;
  pageSize: number;
  requests: number;
  warmup: number;
  deadlineMs: number;
}

export const INBOX_DEFAULTS: InboxOptions = { conversations: 20_000, messagesPerConversation: 50, pageSize: 50, requests: 2_000, warmup: 200, deadlineMs: 60_000 };

function summarise(values: number[]): LatencySummary {
  const s = [...values].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] ?? 0;
  return { p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999), max: s.at(-1) ?? 0, mean: s.reduce((a, b) => a + b, 0) / Math.max(1, s.length) };
}

const round3 = (l: LatencySummary) => Object.fromEntries(Object.entries(l).map(([k, v]) => [k, Number(v.toFixed(3))]));

export async function inboxBenchmark(gen: LoadGenerator, o: InboxOptions = INBOX_DEFAULTS): Promise<BenchOutcome> {
  const node = await startBenchNode();
  let bare: Awaited<ReturnType<typeof startBareUws>> | null = null;
  try {
    const org = await buildBenchOrg(node);
    const seeded = seedInbox(node.dbFile, {
      accountId: org.account.id,
      numbers: org.account.numbers,
      conversations: o.conversations,
      messagesPerConversation: o.messagesPerConversation,
    });
    const reader = openReader(node);
    let stored: { messages: number; inbox: number };
    try {
      stored = {
        messages: reader.prepare<[string], number>('SELECT count(*) FROM messages WHERE account_id = ?').pluck().get(org.account.id)!,
        inbox: reader.prepare<[string], number>("SELECT count(*) FROM conversations WHERE account_id = ? AND folder = 'inbox'").pluck().get(org.account.id)!,
      };
    } finally {
      reader.close();
    }
    const expected = o.conversations * o.messagesPerConversation;
    if (stored.messages !== expected || stored.inbox !== o.conversations) {
      throw new Error(`seeded ${JSON.stringify(stored)}, expected ${expected} messages in ${o.conversations} conversations`);
    }

    const firstPage = `/api/v1/accounts/${org.account.apiCode}/conversations?folder=inbox&limit=${o.pageSize}`;
    const headers = { authorization: `Bearer ${org.token}` };
    const walked = await gen.walk({ port: node.sb.port, path: firstPage, headers, maxPages: Math.ceil(o.conversations / o.pageSize) + 2 });
    // A full last page still hands out a cursor; the page it leads to is empty and not asked for.
    const expectedPages = Math.ceil(o.conversations / o.pageSize);
    const emptyTail = o.conversations % o.pageSize === 0 ? 1 : 0;
    if (walked.pages !== expectedPages + emptyTail) throw new Error(`walked ${walked.pages} pages of the Inbox, expected ${expectedPages}`);
    const cursors = walked.cursors.slice(0, expectedPages - 1);

    const random = prng(20_240_601);
    const paths: string[] = [];
    for (let i = 0; i < o.warmup + o.requests; i++) {
      const cursor = i % 5 === 0 ? null : cursors[Math.floor(random() * cursors.length)]!;
      paths.push(cursor === null ? firstPage : `${firstPage}&before=${encodeURIComponent(cursor)}`);
    }
    const requests: PreparedRequest[] = paths.map((path) => ({ method: 'GET', path, headers }));
    await gen.prepare('inbox', { kind: 'static', requests });

    const sequential = (port: number, from: number, to: number, keepBodies = 0) => ({ set: 'inbox', port, from, to, connections: 1, deadlineMs: o.deadlineMs, keepBodies });
    await gen.run(sequential(node.sb.port, 0, o.warmup));
    const cpu = cpuWindow({ server: process.pid, generator: gen.pid });
    const loop = loopWindow();
    const real: RunResult = await profiled('inbox', () => gen.run(sequential(node.sb.port, o.warmup, o.warmup + o.requests, 1)));
    const loopUse = loop.stop();
    const cpuShare = cpu.stop();
    const ok = real.statuses['200'] ?? 0;
    const items = real.bodies[0] ? (JSON.parse(real.bodies[0]) as { items: unknown[] }).items.length : 0;

    bare = await startBareUws({ kind: 'fixed', body: walked.firstBody });
    await gen.run(sequential(bare.port, 0, o.warmup));
    const baseline = await gen.run(sequential(bare.port, o.warmup, o.warmup + o.requests));

    // The same pages straight from the core (no HTTP, no JSON): what the store and services cost.
    const principal = await node.sb.core.auth.authenticate(org.token);
    const direct: number[] = [];
    for (const path of paths.slice(o.warmup)) {
      const before = new URL(path, 'http://x').searchParams.get('before');
      const cursor = before ? { lastMessageAt: Number(before.split('_')[0]), id: before.split('_')[1]! } : undefined;
      const t0 = performance.now();
      await node.sb.core.conversations.list(principal, org.account.apiCode, { folder: 'inbox', limit: o.pageSize, before: cursor });
      direct.push(performance.now() - t0);
    }
    const core = summarise(direct);

    const verified = real.answered === o.requests && ok === o.requests && items === o.pageSize;
    const notes = [
      `inbox: seeded ${seeded.messages} messages in ${seeded.conversations} conversations in ${(seeded.ms / 1000).toFixed(1)} s; ` +
        `${ok}/${o.requests} answered 200 with ${items} items (${(real.bodyBytes / Math.max(1, real.answered) / 1024).toFixed(1)} KiB/page), ${expectedPages} pages walked: ${verified ? 'verified' : 'NOT verified'}; ` +
        `in-process core.conversations.list p50 ${core.p50.toFixed(2)} ms, p99 ${core.p99.toFixed(2)} ms; ${describeLoop(loopUse)}`,
    ];
    if (!verified) notes.push(`inbox: statuses ${JSON.stringify(real.statuses)} ${real.errors.join('; ')}`);
    return {
      name: 'inbox',
      rows: [
        row({ name: 'inbox page p50 (1M messages, HTTP)', figure: real.latencyMs.p50, unit: 'ms', baseline: baseline.latencyMs.p50, goal: '', pass: null }),
        row({ name: 'inbox page p99 (1M messages, HTTP)', figure: real.latencyMs.p99, unit: 'ms', baseline: baseline.latencyMs.p99, goal: '≤ 10 ms', pass: verified && real.latencyMs.p99 <= 10 }),
      ],
      details: {
        options: o,
        seeded,
        pagesWalked: walked.pages,
        real: { answered: real.answered, statuses: real.statuses, rate: Math.round(real.rate), latencyMs: round3(real.latencyMs), bytesPerPage: Math.round(real.bodyBytes / Math.max(1, real.answered)) },
        baseline: { answered: baseline.answered, rate: Math.round(baseline.rate), latencyMs: round3(baseline.latencyMs) },
        coreDirectMs: round3(core),
        cpu: cpuShare,
        mainThread: loopUse,
        serverCpuUsPerPage: Math.round(((cpuShare.ms['server'] ?? NaN) * 1000) / Math.max(1, real.answered)),
        verified,
      },
      notes,
    };
  } finally {
    bare?.close();
    await node.close();
  }
}
