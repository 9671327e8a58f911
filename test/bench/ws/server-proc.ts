import { setTimeout as delay } from 'node:timers/promises';
import { readFileSync, rmSync, mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay, performance, PerformanceObserver, type IntervalHistogram } from 'node:perf_hooks';
import { Session } from 'node:inspector/promises';
import uWS from 'uWebSockets.js';
import type { Switchboard } from '../../../gateways/server.js';
import { serve } from './ipc.js';
import { recordHeapFlow, type HeapFlow } from './heap-flow.js';

// The process under test, forked by the WebSocket benchmarks (run with --expose-gc): either a
// whole Switchboard (uWS gateway, core, SQLite with group commit in a temp dir, the in-process
// Plivo simulator) on port 0, or bare uWS WebSocket apps (the baselines), or both side by side in
// this one process so that they share its core and its conditions. Commands come over IPC from
// run-ws.ts; nothing here runs load. The Switchboard modules are imported on demand, so a
// process that only runs the bare baseline does not carry them.

let sb: Switchboard | null = null;
let dataDir: string | null = null;
const bare: Array<{ close(): void }> = [];
const commits = { commits: 0, synced: 0, ops: 0, maxBatch: 0 };
let loop: {
  h: IntervalHistogram;
  elu: ReturnType<typeof performance.eventLoopUtilization>;
  gc: PerformanceObserver;
  gcs: number[];
  heap: { stop(): HeapFlow };
  /** Minor page faults of the process when measuring began (every first touch of a page costs the kernel's work). */
  faults: number;
} | null = null;
let profiler: Session | null = null;

const PASSWORD = 'bench horse battery staple';

async function http(method: string, path: string, body?: unknown, token?: string): Promise<any> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(sb!.url + path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  const parsed = text ? JSON.parse(text) : null;
  if (res.status >= 300) throw new Error(`${method} ${path}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return parsed;
}

function vmRss(): number {
  return Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]);
}

async function settle(ms: number): Promise<void> {
  await delay(ms);
}

serve(
  {
    async startSwitchboard(a: { env: Record<string, string> }) {
      const [{ testConfig }, { silentLogger }, { startSwitchboard }, { uwsIsNative }, { createSqliteStore }, { FAST_ENV }] = await Promise.all([
        import('../../../src/config.js'),
        import('../../../src/logger.js'),
        import('../../../gateways/server.js'),
        import('../../../gateways/http/listen.js'),
        import('../../../src/store/sqlite/sqlite-store.js'),
        import('../../helpers/switchboard.js'),
      ]);
      if (!uwsIsNative()) throw new Error('uWebSockets.js runs on its JavaScript fallback: figures would be meaningless');
      dataDir = mkdtempSync(join(tmpdir(), 'switchboard-wsbench-'));
      const store = await createSqliteStore({
        file: join(dataDir, 'switchboard.db'),
        onCommit: (ops, durable) => {
          commits.commits++;
          if (durable) commits.synced++;
          commits.ops += ops;
          if (ops > commits.maxBatch) commits.maxBatch = ops;
        },
      });
      // Investigation only (never in the table): WS_BENCH_EXPERIMENTS=syncNormal,keepIdleActors
      // turns off the fsync of each group commit, or the passivation of idle lock actors, to
      // measure what each costs.
      const experiments = (process.env.WS_BENCH_EXPERIMENTS ?? '').split(',').filter(Boolean);
      if (experiments.includes('syncNormal')) {
        // The batcher keeps the level it found for durable commits: it is told too.
        const inside = store as unknown as { db: { pragma(s: string): unknown }; batcher: { durableLevel: number } };
        inside.db.pragma('synchronous = NORMAL');
        inside.batcher.durableLevel = 1;
      }
      // The benchmarks stand thousands of people in for a few signed-in staff (each sign-in costs a
      // deliberately slow scrypt), so the per-person socket cap is lifted here.
      const env = { ...FAST_ENV, DATA_DIR: dataDir, WS_MAX_SOCKETS_PER_USER: '100000', ...a.env };
      sb = await startSwitchboard(testConfig(env), silentLogger, { store });
      if (experiments.includes('keepIdleActors')) (sb.core.locks as unknown as { passivateIfIdle(): void }).passivateIfIdle = () => undefined;
      // What a lock command's save behind (noSave), its announcements (noPublish) or the machine
      // itself (noMachine: every command answered with the lock as it was at activation) leave for
      // the garbage collector: the heap notes' promoted bytes per command with each turned off.
      const { ConversationLock } = await import('../../../src/locks/conversation-lock-actor.js');
      const lockProto = ConversationLock.prototype as unknown as {
        saveBehind(r: unknown): void;
        publish(...a: unknown[]): void;
        receive(c: unknown): Promise<unknown>;
      };
      type Lock = { emitted: unknown[]; currentView(): unknown };
      if (experiments.includes('noSave')) lockProto.saveBehind = () => undefined;
      if (experiments.includes('noPublish')) {
        lockProto.publish = function (this: Lock) {
          this.emitted.length = 0;
        };
      }
      if (experiments.includes('noMachine')) {
        lockProto.receive = function (this: Lock) {
          return Promise.resolve({ type: 'lock', view: this.currentView(), lockToken: null });
        };
      }
      if (experiments.includes('slimUser') || experiments.includes('shareUser')) {
        // What the sockets' copies of their user cost: without the fields no socket needs
        // (slimUser), or one object per user shared by their sockets (shareUser).
        const auth = sb.core.auth;
        const original = auth.authenticate.bind(auth);
        const shared = new Map<string, unknown>();
        auth.authenticate = async (token) => {
          const p = await original(token);
          if (p.kind !== 'user') return p;
          let user = experiments.includes('slimUser') ? { ...p.user, passwordHash: '', email: '' } : p.user;
          if (experiments.includes('shareUser')) {
            const key = JSON.stringify(user);
            const known = shared.get(key) as typeof user | undefined;
            if (known) user = known;
            else shared.set(key, user);
          }
          return { ...p, user };
        };
      }
      return { port: sb.port, dataDir, experiments };
    },

    /**
     * An organisation: an owner (the operators), a department, a group account of six numbers with
     * one staff member (the clients that take locks), sessions for both (each login is a scrypt
     * check, slow on purpose: a handful, reused across sockets), and `conversations` conversations
     * in the group account, created the way an inbound text creates them.
     */
    async setupOrg(a: { ownerSessions: number; staffSessions: number; conversations: number }) {
      const core = sb!.core;
      const { createOwner } = await import('../../../src/services/bootstrap.js');
      await createOwner(core, { email: 'owner@bench.edu', name: 'Bench Owner', password: PASSWORD, departmentIds: [], areaCode: '617' });
      const login = async (email: string): Promise<string> => (await http('POST', '/api/v1/sessions', { email, password: PASSWORD })).token as string;
      const ownerTokens: string[] = [];
      for (let i = 0; i < a.ownerSessions; i++) ownerTokens.push(await login('owner@bench.edu'));
      const owner = ownerTokens[0]!;
      const dept = await http('POST', '/api/v1/departments', { name: 'Admissions', code: 'adm', timeZone: 'America/New_York' }, owner);
      const staff = await http('POST', '/api/v1/users', { email: 'staff@bench.edu', name: 'Bench Staff', role: 'staff', departmentIds: [dept.id], password: PASSWORD, personalAreaCode: '617' }, owner);
      const staffTokens: string[] = [];
      for (let i = 0; i < a.staffSessions; i++) staffTokens.push(await login('staff@bench.edu'));
      const available = await http('GET', '/api/v1/numbers/available?areaCode=617&limit=6', undefined, owner);
      const numbers = (available.items as Array<{ number: string }>).map((n) => n.number);
      const account = await http('POST', '/api/v1/group-accounts', { name: 'Admissions Outreach', departmentId: dept.id, color: '#2F6FDE', numbers, memberIds: [staff.id] }, owner);
      const conversationIds: string[] = [];
      for (let base = 0; base < a.conversations; base += 250) {
        const batch = Array.from({ length: Math.min(250, a.conversations - base) }, (_, k) => base + k);
        const outcomes = await Promise.all(
          batch.map((i) =>
            core.inbound.receiveSms({ from: `+1617${String(2_000_000 + i).padStart(7, '0')}`, to: numbers[i % numbers.length]!, text: `Question ${i} about my application`, providerId: `bench-${i}` }),
          ),
        );
        for (const o of outcomes) {
          if (o.kind !== 'recorded') throw new Error(`inbound text not recorded: ${o.kind}`);
          conversationIds.push(o.conversation.id);
        }
      }
      return { departmentId: dept.id as string, accountId: account.id as string, apiCode: account.apiCode as string, ownerTokens, staffTokens, staffName: 'Bench Staff', staffId: staff.id as string, conversationIds };
    },

    /**
     * Bare uWS WebSocket apps on one port (the baselines), doing the least each job needs:
     * `/echo` sends every message back; `/pub` subscribes a socket to the `board` topic when its
     * message is a watchLocks frame and otherwise takes the message as a lock change (its
     * `conversationId` read, its `type` and `id` dropped), sends it back to its sender (the ack)
     * and hands it to the same BoardBatcher as Switchboard's, which publishes one `board` frame per
     * `boardTickMs` to the `board` topic; `/sub` subscribes the socket to a topic on its first
     * message and answers with a small ack.
     */
    async startBare(a: { boardTickMs?: number } = {}) {
      const [{ BoardBatcher }, { systemClock }] = await Promise.all([import('../../../gateways/ws/board-batcher.js'), import('../../../src/clock.js')]);
      const app = uWS.App();
      const common = { compression: uWS.DISABLED, maxPayloadLength: 16 * 1024, maxBackpressure: 1024 * 1024, idleTimeout: 60, closeOnBackpressureLimit: 1 } as const;
      app.ws('/echo', { ...common, message: (ws, m, isBinary) => void ws.send(m, isBinary) });
      const WATCH = Buffer.from('{"type":"watchLocks"');
      type View = { conversationId: string };
      const board = new BoardBatcher<View>(systemClock, a.boardTickMs ?? 20, (departmentId, locks) => {
        app.publish('board', JSON.stringify({ type: 'board', departmentId, locks }));
      });
      bare.push({ close: () => board.close() });
      app.ws('/pub', {
        ...common,
        message: (ws, m, isBinary) => {
          const head = Buffer.from(m, 0, Math.min(WATCH.length, m.byteLength));
          if (head.equals(WATCH)) {
            ws.subscribe('board');
            ws.send(m, isBinary);
            return;
          }
          const { type: _type, id: _id, ...view } = JSON.parse(Buffer.from(m).toString('utf8')) as View & { type: string; id: string };
          ws.send(m, isBinary);
          board.add('bench', view);
        },
      });
      app.ws('/sub', {
        ...common,
        message: (ws) => {
          ws.subscribe('a/bench');
          ws.send('{"type":"ack","re":"s"}');
        },
      });
      const port = await new Promise<number>((resolve, reject) =>
        app.listen('127.0.0.1', 0, (s) => {
          if (!s) return reject(new Error('bare uWS could not listen'));
          bare.push({ close: () => uWS.us_listen_socket_close(s) });
          resolve(uWS.us_socket_local_port(s));
        }),
      );
      return { port };
    },

    /** Full GCs until the heap stops shrinking, then this process's memory (KiB). */
    async memory() {
      const gc = (globalThis as { gc?: () => void }).gc;
      if (!gc) throw new Error('run with --expose-gc');
      let last = Infinity;
      for (let i = 0; i < 6; i++) {
        gc();
        await settle(100);
        const used = process.memoryUsage().heapUsed;
        if (used >= last * 0.999) break;
        last = used;
      }
      await settle(300);
      const m = process.memoryUsage();
      const k = (b: number): number => Math.round(b / 1024);
      return { vmRssKiB: vmRss(), heapUsedKiB: k(m.heapUsed), heapTotalKiB: k(m.heapTotal), externalKiB: k(m.external), arrayBuffersKiB: k(m.arrayBuffers), connections: sb?.ws.connectionCount() ?? null };
    },

    loopStart() {
      const h = monitorEventLoopDelay({ resolution: 1 });
      h.enable();
      const gcs: number[] = [];
      const gc = new PerformanceObserver((list) => {
        for (const e of list.getEntries()) gcs.push(e.duration);
      });
      gc.observe({ entryTypes: ['gc'] });
      loop = { h, elu: performance.eventLoopUtilization(), gc, gcs, heap: recordHeapFlow(() => process.memoryUsage().heapUsed), faults: process.resourceUsage().minorPageFault };
      commits.commits = 0;
      commits.synced = 0;
      commits.ops = 0;
      commits.maxBatch = 0;
    },

    /** Event-loop delay (ms), utilisation, GC (pauses, bytes allocated and promoted), page faults and SQLite group commits since loopStart. */
    loopStop() {
      if (!loop) return null;
      const { h, elu, gc, gcs } = loop;
      const pageFaults = process.resourceUsage().minorPageFault - loop.faults;
      const heap = loop.heap.stop();
      h.disable();
      gc.disconnect();
      loop = null;
      gcs.sort((x, y) => x - y);
      const ms = (ns: number): number => Math.round(ns / 1e4) / 100;
      return {
        delayP50: ms(h.percentile(50)),
        delayP99: ms(h.percentile(99)),
        delayMax: ms(h.max),
        utilization: Math.round(performance.eventLoopUtilization(elu).utilization * 100) / 100,
        gcPauses: gcs.length,
        gcTotalMs: Math.round(gcs.reduce((a, b) => a + b, 0)),
        gcP99Ms: gcs.length ? Math.round(gcs[Math.min(gcs.length - 1, Math.ceil(gcs.length * 0.99) - 1)]! * 100) / 100 : 0,
        gcMaxMs: gcs.length ? Math.round(gcs[gcs.length - 1]! * 100) / 100 : 0,
        scavenges: heap.scavenges,
        markCompacts: heap.markCompacts,
        allocatedBytes: heap.allocatedBytes,
        promotedBytes: heap.promotedBytes,
        pageFaults,
        commits: commits.commits,
        syncedCommits: commits.synced,
        committedOps: commits.ops,
        maxBatch: commits.maxBatch,
        activeActors: sb?.core.locks.activeCount() ?? null,
        connections: sb?.ws.connectionCount() ?? null,
      };
    },

    async profileStart() {
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.setSamplingInterval', { interval: 250 });
      await profiler.post('Profiler.start');
      // BENCH_ALLOCATIONS=survivors: where what outlives a scavenge was allocated (objects a
      // scavenge collects are left out; what dies later, promoted, stays in): the garbage that
      // makes scavenges slow. BENCH_ALLOCATIONS=true: everything allocated.
      const what = process.env.BENCH_ALLOCATIONS;
      if (what === 'true' || what === 'survivors') {
        await profiler.post('HeapProfiler.enable');
        await profiler.post('HeapProfiler.startSampling', { samplingInterval: 16_384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: what === 'true' });
      }
    },

    async profileStop(a: { file: string }) {
      if (!profiler) return null;
      const { profile } = await profiler.post('Profiler.stop');
      const what = process.env.BENCH_ALLOCATIONS;
      if (what === 'true' || what === 'survivors') {
        const heap = await profiler.post('HeapProfiler.stopSampling');
        mkdirSync(dirname(a.file), { recursive: true });
        writeFileSync(a.file.replace(/\.cpuprofile$/, '.heapprofile'), JSON.stringify(heap.profile));
      }
      profiler.disconnect();
      profiler = null;
      mkdirSync(dirname(a.file), { recursive: true });
      writeFileSync(a.file, JSON.stringify(profile));
      return a.file;
    },
  },
  async () => {
    for (const b of bare.splice(0)) b.close();
    try {
      await sb?.close();
    } finally {
      sb = null;
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    }
  },
);
