import http from 'node:http';
import type { Socket } from 'node:net';
import { plivoSignatureHeaders } from '../../src/sms/plivo-signature.js';
import { hostileForm } from './hostile-form.js';
import {
  wallNow,
  type Command,
  type LatencySummary,
  type PreparedRequest,
  type Reply,
  type RequestSetSpec,
  type RunResult,
  type RunSpec,
  type WalkResult,
  type WalkSpec,
} from './protocol.js';

// The load generator: a child process (forked by load-client.ts) that makes HTTP requests to the
// server under test over loopback, with node:http keep-alive agents and a fixed number of
// connections. Requests are built (and signed) when a set is prepared, before any clock starts,
// so a run only sends bytes and reads answers. Commands arrive over IPC; it exits with its parent.

interface Ready {
  method: string;
  path: string;
  headers: Record<string, string | number>;
  body: Buffer | null;
}

const sets = new Map<string, Ready[]>();

function ready(r: PreparedRequest): Ready {
  const body = r.body === undefined ? null : Buffer.from(r.body, 'utf8');
  const headers: Record<string, string | number> = { ...r.headers };
  if (body) headers['content-length'] = body.byteLength;
  return { method: r.method, path: r.path, headers, body };
}

function webhookSet(spec: Extract<RequestSetSpec, { kind: 'webhooks' }>): Ready[] {
  const out: Ready[] = [];
  for (let i = 0; i < spec.count; i++) {
    const params: Record<string, string> = {
      From: spec.from[(i * 7919) % spec.from.length]!,
      To: spec.to[i % spec.to.length]!,
      Text: `Hi, this is about my application, question number ${i}. When is the deadline?`,
      Type: 'sms',
      MessageUUID: `${spec.uuidPrefix}-${String(i).padStart(8, '0')}`,
      Units: '1',
      TotalRate: '0.00000',
      TotalAmount: '0.00000',
      MessageIntent: '',
      PowerpackUUID: '',
    };
    const headers = {
      'content-type': 'application/x-www-form-urlencoded',
      ...plivoSignatureHeaders({ method: 'POST', url: spec.signedUrl, params, authToken: spec.authToken }),
    };
    out.push(ready({ method: 'POST', path: spec.path, headers, body: new URLSearchParams(params).toString() }));
  }
  return out;
}

function hostileSet(spec: Extract<RequestSetSpec, { kind: 'hostileWebhooks' }>): Ready[] {
  // One buffer shared by every request of the set: 1.8 MB a request would not fit many times over.
  const body = Buffer.from(hostileForm(spec.fields, spec.maxBytes).body, 'utf8');
  const bogus = Array.from({ length: spec.signatures }, (_, i) => Buffer.alloc(32, i + 1).toString('base64'));
  const headers = {
    'content-type': 'application/x-www-form-urlencoded',
    'content-length': body.byteLength,
    'x-plivo-signature-v3': bogus.join(','),
    'x-plivo-signature-v3-nonce': '12345678901234567890',
  };
  return Array.from({ length: spec.count }, () => ({ method: 'POST', path: spec.path, headers, body }));
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function summarise(latencies: Float64Array): LatencySummary {
  const sorted = latencies.slice().sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p99: percentile(sorted, 0.99),
    p999: percentile(sorted, 0.999),
    max: sorted.length ? sorted[sorted.length - 1]! : 0,
    mean: sorted.length ? sum / sorted.length : 0,
  };
}

function send(client: Client, r: Ready, keepBody: boolean): Promise<{ status: number; bytes: number; body: string | null }> {
  return new Promise((resolve, reject) => {
    const options = { agent: client.agent, host: '127.0.0.1', port: client.port, method: r.method, path: r.path, headers: r.headers };
    const req = http.request(options, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.byteLength;
        if (keepBody) chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, body: keepBody ? Buffer.concat(chunks).toString('utf8') : null }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.on('socket', client.track);
    if (r.body) req.end(r.body);
    else req.end();
  });
}

interface Client {
  agent: http.Agent;
  port: number;
  /** Distinct TCP connections used so far. */
  sockets(): number;
  track(socket: Socket): void;
}

function newClient(port: number, connections: number): Client {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections, scheduling: 'fifo' });
  // Counted to prove the connection count stayed fixed (no reconnect per request).
  const seen = new WeakSet<Socket>();
  let count = 0;
  return {
    agent,
    port,
    sockets: () => count,
    track: (socket) => {
      if (seen.has(socket)) return;
      seen.add(socket);
      count++;
    },
  };
}

async function run(spec: RunSpec): Promise<RunResult> {
  const set = sets.get(spec.set);
  if (!set) throw new Error(`no request set ${spec.set}`);
  const to = Math.min(spec.to, set.length);
  const total = Math.max(0, to - spec.from);
  const latencies = new Float64Array(total);
  const statuses: Record<string, number> = {};
  const errors: string[] = [];
  const bodies: string[] = [];
  const keep = spec.keepBodies ?? 0;
  const client = newClient(spec.port, spec.connections);
  let next = spec.from;
  let answered = 0;
  let networkErrors = 0;
  let bodyBytes = 0;
  const startedAtMs = wallNow();
  const deadline = performance.now() + spec.deadlineMs;
  const worker = async (): Promise<void> => {
    while (next < to && performance.now() < deadline) {
      const i = next++;
      const t0 = performance.now();
      try {
        const r = await send(client, set[i]!, i - spec.from < keep);
        latencies[answered++] = performance.now() - t0;
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        bodyBytes += r.bytes;
        if (r.body !== null) bodies[i - spec.from] = r.body;
      } catch (e) {
        networkErrors++;
        if (errors.length < 5) errors.push(e instanceof Error ? e.message : String(e));
      }
    }
  };
  await Promise.all(Array.from({ length: spec.connections }, worker));
  const finishedAtMs = wallNow();
  client.agent.destroy();
  const elapsedMs = finishedAtMs - startedAtMs;
  return {
    started: next - spec.from,
    answered,
    networkErrors,
    statuses,
    startedAtMs,
    finishedAtMs,
    elapsedMs,
    rate: elapsedMs > 0 ? (answered * 1000) / elapsedMs : 0,
    latencyMs: summarise(latencies.subarray(0, answered)),
    sockets: client.sockets(),
    bodyBytes,
    bodies: bodies.filter((b) => b !== undefined),
    errors,
  };
}

async function walk(spec: WalkSpec): Promise<WalkResult> {
  const client = newClient(spec.port, 1);
  const cursors: string[] = [];
  let firstBody = '';
  let path = spec.path;
  let pages = 0;
  try {
    while (pages < spec.maxPages) {
      const r = await send(client, ready({ method: 'GET', path, headers: spec.headers }), true);
      if (r.status !== 200) throw new Error(`GET ${path} answered ${r.status}: ${(r.body ?? '').slice(0, 200)}`);
      pages++;
      if (pages === 1) firstBody = r.body ?? '';
      const next = (JSON.parse(r.body ?? '{}') as { nextBefore?: string | null }).nextBefore;
      if (!next) break;
      cursors.push(next);
      path = `${spec.path}${spec.path.includes('?') ? '&' : '?'}before=${encodeURIComponent(next)}`;
    }
  } finally {
    client.agent.destroy();
  }
  return { pages, cursors, firstBody };
}

async function handle(c: Command): Promise<unknown> {
  switch (c.cmd) {
    case 'prepare': {
      const built =
        c.spec.kind === 'static' ? c.spec.requests.map(ready) : c.spec.kind === 'webhooks' ? webhookSet(c.spec) : hostileSet(c.spec);
      sets.set(c.set, built);
      return { count: built.length };
    }
    case 'run':
      return run(c.spec);
    case 'walk':
      return walk(c.spec);
  }
}

process.on('message', (c: Command) => {
  handle(c).then(
    (result) => process.send?.({ id: c.id, ok: true, result } satisfies Reply),
    (e: unknown) => process.send?.({ id: c.id, ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) } satisfies Reply),
  );
});
// Never outlive the runner, whatever happened to it.
process.on('disconnect', () => process.exit(0));
