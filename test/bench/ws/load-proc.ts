import { setTimeout as delay } from 'node:timers/promises';
import WebSocket from 'ws';
import { MiniWs } from './mini-ws.js';
import { serve } from './ipc.js';
import { cpuWindow, Samples, summarize, type Summary } from './stats.js';

// The load generator of the WebSocket benchmarks: a child process (forked by run-ws.ts, so it
// never competes with the server's event loop in one process) holding groups of client sockets to
// a server over loopback, and running timed, open-loop workloads on them: commands go out on a
// fixed timetable whether or not earlier ones were answered, and each answer is timed from the
// moment its command was written. Timestamps are performance.now() of this one process.
//
// - `ws` clients (the `ws` package, as a Node client would) for the lock round trip and the
//   driver of the fan-out;
// - MiniWs clients (mini-ws.ts) for the 1,000 operators of the fan-out and the 19,000 idle
//   sockets of the connection benchmark.

type Group = { kind: 'ws'; sockets: WebSocket[] } | { kind: 'mini'; sockets: MiniWs[] };
const groups = new Map<string, Group>();

async function limited(count: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

// Polling a counter filled by socket callbacks in this process, against a deadline.
const sleep = (ms: number): Promise<void> => delay(ms);

function closeGroup(name: string): void {
  const g = groups.get(name);
  if (!g) return;
  groups.delete(name);
  if (g.kind === 'ws') for (const s of g.sockets) s.terminate();
  else for (const s of g.sockets) s.close();
}

/** Opens `count` `ws` clients to `urls[i % urls.length]`; with `hello`, waits for each one's first frame. */
async function connectWs(a: { group: string; urls: string[]; count: number; hello: boolean; concurrency?: number }): Promise<{ connected: number; ms: number }> {
  const t0 = performance.now();
  const sockets: WebSocket[] = new Array(a.count);
  groups.set(a.group, { kind: 'ws', sockets });
  await limited(a.count, a.concurrency ?? 50, async (i) => {
    const ws = new WebSocket(a.urls[i % a.urls.length]!, { perMessageDeflate: false });
    sockets[i] = ws;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`client ${i}: no ${a.hello ? 'hello' : 'open'} within 10 s`)), 10_000);
      const ok = (): void => {
        clearTimeout(timer);
        resolve();
      };
      if (a.hello) ws.once('message', ok);
      else ws.once('open', ok);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`client ${i}: upgrade refused with ${res.statusCode}`)));
      ws.once('error', reject);
    });
  });
  return { connected: sockets.length, ms: Math.round(performance.now() - t0) };
}

/**
 * Opens `count` MiniWs clients (path `paths[i % paths.length]`), waits for the hello when the
 * server sends one, then sends `firstFrame` and waits for the answer, which must contain
 * `expect`. Failures are counted (up to 5 reasons kept), not thrown.
 */
async function connectMini(a: {
  group: string;
  port: number;
  paths: string[];
  count: number;
  hello: boolean;
  firstFrame: string;
  expect: string;
  concurrency?: number;
}): Promise<{ connected: number; failed: number; reasons: string[]; ms: number }> {
  const t0 = performance.now();
  const sockets: MiniWs[] = [];
  const existing = groups.get(a.group);
  if (existing && existing.kind !== 'mini') throw new Error(`group ${a.group} is not MiniWs`);
  groups.set(a.group, existing ?? { kind: 'mini', sockets });
  const into = (groups.get(a.group) as { sockets: MiniWs[] }).sockets;
  let failed = 0;
  const reasons: string[] = [];
  const expect = Buffer.from(a.expect);
  await limited(a.count, a.concurrency ?? 64, async (i) => {
    try {
      const ws = await MiniWs.connect({ host: '127.0.0.1', port: a.port, path: a.paths[i % a.paths.length]!, waitFirstFrame: a.hello, timeoutMs: 20_000 });
      into.push(ws);
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no answer to the first frame within 20 s')), 20_000);
        ws.onText = (buf, s, e) => {
          ws.onText = null;
          clearTimeout(timer);
          const at = buf.indexOf(expect, s);
          if (at < 0 || at >= e) reject(new Error(`unexpected answer ${buf.toString('utf8', s, Math.min(e, s + 300))}`));
          else resolve();
        };
        ws.onClose = (code) => {
          clearTimeout(timer);
          reject(new Error(`closed (${code}) before answering`));
        };
        ws.sendText(a.firstFrame);
      });
      ws.onClose = null;
    } catch (e) {
      failed++;
      if (reasons.length < 5) reasons.push(e instanceof Error ? e.message : String(e));
    }
  });
  return { connected: into.length, failed, reasons, ms: Math.round(performance.now() - t0) };
}

/** Sockets of a group still open. */
function openCount(a: { group: string }): number {
  const g = groups.get(a.group);
  if (!g) return 0;
  return g.kind === 'ws' ? g.sockets.filter((s) => s.readyState === WebSocket.OPEN).length : g.sockets.filter((s) => !s.closed).length;
}

// --- 1. lock round trip ---------------------------------------------------------------------------

interface RoundTripArgs {
  group: string;
  /** 'sb': open/leave commands answered by acks; 'echo': the same frames, echoed; 'ping': pings to the real server (its gateway alone). */
  mode: 'sb' | 'echo' | 'ping';
  /** conversationIds[i] belongs to client i. */
  conversationIds: string[];
  periodMs: number;
  warmupMs: number;
  measureMs: number;
  drainMs: number;
  serverPid: number;
}

export interface RoundTripResult {
  clients: number;
  sent: number;
  measured: number;
  answered: number;
  missing: number;
  errors: Record<string, number>;
  notGranted: number;
  open: Summary;
  leave: Summary;
  all: Summary;
  /** From the scheduled send time (includes the generator's own lag). */
  fromSchedule: Summary;
  sendLag: Summary;
  /** p99 (ms) of the commands sent in each second of the measured window. */
  p99PerSecond: number[];
  ratePerS: number;
  cpu: Record<string, number | null>;
}

async function roundTrip(a: RoundTripArgs): Promise<RoundTripResult> {
  const g = groups.get(a.group);
  if (!g || g.kind !== 'ws') throw new Error(`no ws group ${a.group}`);
  const clients = g.sockets;
  const n = clients.length;
  if (a.conversationIds.length < n) throw new Error('one conversation per client is needed');
  const cycles = Math.ceil((a.warmupMs + a.measureMs) / a.periodMs);
  // The timetable: client i opens at i·P/n into each period and leaves half a period later.
  const total = cycles * n * 2;
  const order = Array.from({ length: total }, (_, k) => k);
  const timeOf = (k: number): number => {
    const cycle = Math.floor(k / (2 * n));
    const r = k % (2 * n);
    const i = r >> 1;
    return cycle * a.periodMs + (i * a.periodMs) / n + (r & 1 ? a.periodMs / 2 : 0);
  };
  order.sort((x, y) => timeOf(x) - timeOf(y));
  const schedAt = new Float64Array(total);
  const client = new Int32Array(total);
  const kind = new Uint8Array(total); // 0 open, 1 leave
  order.forEach((k, j) => {
    schedAt[j] = timeOf(k);
    client[j] = (k % (2 * n)) >> 1;
    kind[j] = k & 1;
  });
  const sentAt = new Float64Array(total);
  const answeredAt = new Float64Array(total);
  const frames: string[] = new Array(total);
  for (let j = 0; j < total; j++) {
    frames[j] =
      a.mode === 'ping'
        ? JSON.stringify({ type: 'ping', id: `c${j.toString(36)}` })
        : JSON.stringify({ type: kind[j] ? 'leave' : 'open', id: `c${j.toString(36)}`, conversationId: a.conversationIds[client[j]!] });
  }
  const errors: Record<string, number> = {};
  let notGranted = 0;
  let answered = 0;
  const onMessage = (data: WebSocket.RawData): void => {
    const now = performance.now();
    const f = JSON.parse(data.toString()) as { type: string; re?: string; id?: string; code?: string; granted?: boolean };
    const ref = a.mode === 'echo' ? f.id : f.type === 'ack' || f.type === 'error' ? f.re : undefined;
    if (ref === undefined || ref[0] !== 'c') return;
    const j = parseInt(ref.slice(1), 36);
    if (!(j >= 0 && j < total) || answeredAt[j] !== 0) return;
    answeredAt[j] = now;
    answered++;
    if (f.type === 'error') errors[f.code ?? '?'] = (errors[f.code ?? '?'] ?? 0) + 1;
    else if (a.mode === 'sb' && kind[j] === 0 && f.granted !== true) notGranted++;
  };
  for (const ws of clients) ws.on('message', onMessage);

  const t0 = performance.now() + 20;
  const measureFrom = a.warmupMs;
  const measureTo = a.warmupMs + a.measureMs;
  let next = 0;
  let cpu: ReturnType<typeof cpuWindow> | null = null;
  let cpuShares: Record<string, number | null> = {};
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now();
      if (!cpu && now - t0 >= measureFrom) cpu = cpuWindow({ load: process.pid, server: a.serverPid });
      if (cpu && now - t0 >= measureTo && Object.keys(cpuShares).length === 0) cpuShares = cpu.stop();
      while (next < total && t0 + schedAt[next]! <= now) {
        const ws = clients[client[next]!]!;
        sentAt[next] = performance.now();
        ws.send(frames[next]!);
        next++;
      }
      if (next >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  if (cpu && Object.keys(cpuShares).length === 0) cpuShares = (cpu as { stop(): Record<string, number | null> }).stop();
  const deadline = performance.now() + a.drainMs;
  while (answered < total && performance.now() < deadline) await sleep(20);
  for (const ws of clients) ws.off('message', onMessage);

  const open = new Samples();
  const leave = new Samples();
  const all = new Samples();
  const fromSchedule = new Samples();
  const lag = new Samples();
  let measured = 0;
  let missing = 0;
  const seconds = Array.from({ length: Math.ceil(a.measureMs / 1000) }, () => new Samples());
  for (let j = 0; j < total; j++) {
    if (schedAt[j]! < measureFrom || schedAt[j]! >= measureTo) continue;
    measured++;
    if (answeredAt[j] !== 0) seconds[Math.floor((schedAt[j]! - measureFrom) / 1000)]!.push(answeredAt[j]! - sentAt[j]!);
    lag.push(sentAt[j]! - (t0 + schedAt[j]!));
    if (answeredAt[j] === 0) {
      missing++;
      continue;
    }
    const ms = answeredAt[j]! - sentAt[j]!;
    (kind[j] ? leave : open).push(ms);
    all.push(ms);
    fromSchedule.push(answeredAt[j]! - (t0 + schedAt[j]!));
  }
  return {
    clients: n,
    sent: next,
    measured,
    answered,
    missing,
    errors,
    notGranted,
    open: summarize(open.values()),
    leave: summarize(leave.values()),
    all: summarize(all.values()),
    fromSchedule: summarize(fromSchedule.values()),
    sendLag: summarize(lag.values()),
    p99PerSecond: seconds.map((x) => summarize(x.values()).p99),
    ratePerS: Math.round((measured / a.measureMs) * 1000),
    cpu: cpuShares,
  };
}

// --- 2. fan-out -------------------------------------------------------------------------------

interface FanoutArgs {
  operators: string;
  drivers: string;
  mode: 'sb' | 'bare';
  /** The conversations the drivers cycle through: driver d owns a contiguous slice. */
  conversationIds: string[];
  accountId: string;
  holder: { userId: string; name: string };
  periodMs: number;
  /** How long each lock is held (open → leave). */
  holdMs: number;
  warmupMs: number;
  measureMs: number;
  drainMs: number;
  serverPid: number;
}

export interface FanoutResult {
  operators: number;
  operatorsOpenAtEnd: number;
  transitionsPerS: number;
  measured: number;
  complete: number;
  incomplete: number;
  /** Driver's send → the last operator's receipt. */
  lastFromSend: Summary;
  /** Driver's ack → the last operator's receipt (negative: operators were told before the ack). */
  lastFromAck: Summary;
  /** Driver's send → the first operator's receipt. */
  firstFromSend: Summary;
  /** First → last operator's receipt (the spread of one event over all operators). */
  spread: Summary;
  driverRoundTrip: Summary;
  sendLag: Summary;
  framesPerS: number;
  driverErrors: Record<string, number>;
  cpu: Record<string, number | null>;
}

const CONV = Buffer.from('"conversationId":"');
/** Crockford base32 digit values by character code (ids are upper case). */
const BASE32 = new Uint8Array(128);
[...'0123456789ABCDEFGHJKMNPQRSTVWXYZ'].forEach((ch, v) => (BASE32[ch.charCodeAt(0)] = v));
const STATE = Buffer.from('"state":"');

async function fanout(a: FanoutArgs): Promise<FanoutResult> {
  const og = groups.get(a.operators);
  const dg = groups.get(a.drivers);
  if (!og || og.kind !== 'mini') throw new Error(`no MiniWs group ${a.operators}`);
  if (!dg || dg.kind !== 'ws') throw new Error(`no ws group ${a.drivers}`);
  const ops = og.sockets.filter((s) => !s.closed);
  const drivers = dg.sockets;
  const nOps = ops.length;
  const D = drivers.length;
  const K = Math.floor(a.conversationIds.length / D);
  const convIndex = new Map<string, number>();
  a.conversationIds.forEach((c, i) => convIndex.set(c, i));
  const cycles = Math.ceil((a.warmupMs + a.measureMs) / a.periodMs);
  // Driver d, its conversation c: open at c·P/K + d·P/(K·D) into each period, leave holdMs later.
  const perCycle = D * K * 2;
  const total = cycles * perCycle;
  const timeOf = (k: number): number => {
    const cycle = Math.floor(k / perCycle);
    const r = k % perCycle;
    const pair = r >> 1;
    const d = pair % D;
    const c = Math.floor(pair / D);
    return cycle * a.periodMs + (c * a.periodMs) / K + (d * a.periodMs) / (K * D) + (r & 1 ? a.holdMs : 0);
  };
  const order = Array.from({ length: total }, (_, k) => k).sort((x, y) => timeOf(x) - timeOf(y));
  const schedAt = new Float64Array(total);
  const driverOf = new Int32Array(total);
  const slotOf = new Int32Array(total); // conversation index · 2 + (1 locked | 0 idle)
  order.forEach((k, j) => {
    const r = k % perCycle;
    const pair = r >> 1;
    const d = pair % D;
    const c = Math.floor(pair / D);
    schedAt[j] = timeOf(k);
    driverOf[j] = d;
    slotOf[j] = (d * K + c) * 2 + (r & 1 ? 0 : 1);
  });
  const frameOf = (j: number): string => {
    const conv = a.conversationIds[slotOf[j]! >> 1]!;
    const id = `t${j.toString(36)}`;
    const locked = (slotOf[j]! & 1) === 1;
    if (a.mode === 'sb') return `{"type":"${locked ? 'open' : 'leave'}","id":"${id}","conversationId":"${conv}"}`;
    // The bare baseline publishes what it gets: send it the lock event the real server would publish.
    return locked
      ? `{"type":"lock","conversationId":"${conv}","state":"locked","holder":{"userId":"${a.holder.userId}","name":"${a.holder.name}"},"since":${Date.now()},"accountId":"${a.accountId}","id":"${id}"}`
      : `{"type":"lock","conversationId":"${conv}","state":"idle","accountId":"${a.accountId}","id":"${id}"}`;
  };

  const sentAt = new Float64Array(total);
  const ackAt = new Float64Array(total);
  const firstAt = new Float64Array(total);
  const lastAt = new Float64Array(total);
  const count = new Int32Array(total);
  const current = new Int32Array(a.conversationIds.length * 2).fill(-1);
  let frames = 0;
  const driverErrors: Record<string, number> = {};

  // Operators get `board` frames: each carries the latest lock of every conversation that changed
  // in the last tick. A change counts as delivered to an operator when a frame brings its state or
  // a later state of its conversation (a lock taken and released within one tick arrives as
  // released only: the board shows the present, and that is what operators must see). Per
  // conversation, its changes in order (`changesOf`), and per operator and conversation how many
  // of them were delivered (`delivered`).
  const C = a.conversationIds.length;
  const changesOf: number[][] = Array.from({ length: C }, () => []);
  const rankOf = new Int32Array(total);
  for (let j = 0; j < total; j++) {
    const c = slotOf[j]! >> 1;
    rankOf[j] = changesOf[c]!.length;
    changesOf[c]!.push(j);
  }
  const delivered = new Int32Array(nOps * C);
  // The conversation of an entry, cheaply: tens of thousands of frames a second, each with dozens
  // of entries, go through here. The last 8 characters of an id (40 bits of base32) identify it
  // among ours (checked unique below); otherwise the id is looked up whole.
  const keyOf = (buf: Buffer, at: number): number => {
    let k = 0;
    for (let i = at + 18; i < at + 26; i++) k = k * 32 + BASE32[buf[i]!]!;
    return k;
  };
  const byKey = new Map<number, number>();
  for (const [i, c] of a.conversationIds.entries()) byKey.set(keyOf(Buffer.from(c, 'latin1'), 0), i);
  const fast = byKey.size === a.conversationIds.length;
  // Every operator gets the same bytes each tick (one publish to all): a frame is parsed into its
  // entries once, and the other 999 copies are only compared with it byte for byte (one memcmp)
  // before its entries are counted for their operator. Parsing every copy kept the load process
  // at 0.91 of a core (0.57 without), and its backlog was part of every operator's measured latency.
  let parsedBytes = Buffer.alloc(0);
  let parsedConv = new Int32Array(0);
  let parsedLocked = new Int8Array(0);
  const parse = (buf: Buffer, s: number, e: number): void => {
    const conv: number[] = [];
    const locked: number[] = [];
    for (let ci = buf.indexOf(CONV, s); ci >= 0 && ci + 44 <= e; ci = buf.indexOf(CONV, ci + 44)) {
      const c = fast ? byKey.get(keyOf(buf, ci + 18)) : convIndex.get(buf.toString('latin1', ci + 18, ci + 44));
      if (c === undefined) continue;
      const si = buf.indexOf(STATE, ci + 44);
      if (si < 0 || si >= e) break;
      const c0 = buf[si + 9];
      const l = c0 === 0x6c ? 1 : c0 === 0x69 && buf[si + 13] === 0x22 ? 0 : -1;
      if (l < 0) continue;
      conv.push(c);
      locked.push(l);
    }
    parsedBytes = Buffer.from(buf.subarray(s, e));
    parsedConv = Int32Array.from(conv);
    parsedLocked = Int8Array.from(locked);
  };
  const onOperatorText = (op: number, buf: Buffer, s: number, e: number, at: number): void => {
    frames++;
    // {"type":"board",… or {"type":"lock",… — the type is the first key.
    if (buf[s + 9] !== 0x62 && buf[s + 9] !== 0x6c) return;
    if (e - s !== parsedBytes.length || buf.compare(parsedBytes, 0, parsedBytes.length, s, e) !== 0) parse(buf, s, e);
    for (let x = 0; x < parsedConv.length; x++) {
      const conv = parsedConv[x]!;
      const j = current[conv * 2 + parsedLocked[x]!]!;
      if (j < 0) continue;
      const seen = op * C + conv;
      const list = changesOf[conv]!;
      for (let r = delivered[seen]!; r <= rankOf[j]!; r++) {
        const k = list[r]!;
        if (count[k]!++ === 0) firstAt[k] = at;
        lastAt[k] = at;
      }
      if (delivered[seen]! <= rankOf[j]!) delivered[seen] = rankOf[j]! + 1;
    }
  };
  ops.forEach((o, op) => (o.onText = (buf, s, e, at) => onOperatorText(op, buf, s, e, at)));
  const onDriverMessage = (data: WebSocket.RawData): void => {
    const now = performance.now();
    const f = JSON.parse(data.toString()) as { type: string; re?: string; id?: string; code?: string };
    const ref = a.mode === 'sb' ? (f.type === 'ack' || f.type === 'error' ? f.re : undefined) : f.id;
    if (ref === undefined || ref[0] !== 't') return;
    const j = parseInt(ref.slice(1), 36);
    if (j >= 0 && j < total && ackAt[j] === 0) ackAt[j] = now;
    if (f.type === 'error') driverErrors[f.code ?? '?'] = (driverErrors[f.code ?? '?'] ?? 0) + 1;
  };
  for (const d of drivers) d.on('message', onDriverMessage);

  const t0 = performance.now() + 20;
  let next = 0;
  let cpu: { stop(): Record<string, number | null> } | null = null;
  let cpuShares: Record<string, number | null> | null = null;
  let framesAtStart = 0;
  let framesAtEnd = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now();
      if (!cpu && now - t0 >= a.warmupMs) {
        cpu = cpuWindow({ load: process.pid, server: a.serverPid });
        framesAtStart = frames;
      }
      if (cpu && !cpuShares && now - t0 >= a.warmupMs + a.measureMs) {
        cpuShares = cpu.stop();
        framesAtEnd = frames;
      }
      while (next < total && t0 + schedAt[next]! <= now) {
        current[slotOf[next]!] = next;
        const text = frameOf(next);
        sentAt[next] = performance.now();
        drivers[driverOf[next]!]!.send(text);
        next++;
      }
      if (next >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  if (!cpuShares) {
    cpuShares = cpu ? (cpu as { stop(): Record<string, number | null> }).stop() : {};
    framesAtEnd = frames;
  }
  const deadline = performance.now() + a.drainMs;
  const lastJ = total - 1;
  while (performance.now() < deadline && (count[lastJ]! < nOps || ackAt[lastJ] === 0)) await sleep(20);
  for (const o of ops) o.onText = null;
  for (const d of drivers) d.off('message', onDriverMessage);

  const lastFromSend = new Samples();
  const lastFromAck = new Samples();
  const firstFromSend = new Samples();
  const spread = new Samples();
  const rtt = new Samples();
  const lag = new Samples();
  let measured = 0;
  let complete = 0;
  for (let j = 0; j < total; j++) {
    if (schedAt[j]! < a.warmupMs || schedAt[j]! >= a.warmupMs + a.measureMs) continue;
    measured++;
    lag.push(sentAt[j]! - (t0 + schedAt[j]!));
    if (ackAt[j]! > 0) rtt.push(ackAt[j]! - sentAt[j]!);
    if (count[j]! < nOps) continue;
    complete++;
    lastFromSend.push(lastAt[j]! - sentAt[j]!);
    if (ackAt[j]! > 0) lastFromAck.push(lastAt[j]! - ackAt[j]!);
    firstFromSend.push(firstAt[j]! - sentAt[j]!);
    spread.push(lastAt[j]! - firstAt[j]!);
  }
  return {
    operators: nOps,
    operatorsOpenAtEnd: ops.filter((o) => !o.closed).length,
    transitionsPerS: Math.round((measured / a.measureMs) * 1000),
    measured,
    complete,
    incomplete: measured - complete,
    lastFromSend: summarize(lastFromSend.values()),
    lastFromAck: summarize(lastFromAck.values()),
    firstFromSend: summarize(firstFromSend.values()),
    spread: summarize(spread.values()),
    driverRoundTrip: summarize(rtt.values()),
    sendLag: summarize(lag.values()),
    framesPerS: Math.round(((framesAtEnd - framesAtStart) / a.measureMs) * 1000),
    driverErrors,
    cpu: cpuShares,
  };
}

serve(
  {
    connectWs,
    connectMini,
    openCount,
    closeGroup: (a: { group: string }) => closeGroup(a.group),
    roundTrip,
    fanout,
  },
  () => {
    for (const name of [...groups.keys()]) closeGroup(name);
  },
);
