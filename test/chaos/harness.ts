import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { spawnSwitchboard, type ChildSwitchboard } from '../helpers/child-switchboard.js';
import { startNats, type NatsCluster } from '../helpers/nats-server.js';
import { tempDir } from '../helpers/temp-dir.js';
import { startStandaloneSimulator, type StandaloneSimulator } from '../bench/standalone-simulator.js';

// A three-node Switchboard cluster on one machine, for the chaos test and benchmarks: a
// three-server NATS cluster with JetStream, one SQLite file that every node opens (WAL serialises
// the writers across processes), the Plivo simulator in its own process, and three Switchboards
// as child processes that can be killed (SIGKILL), paused (SIGSTOP / SIGCONT) and restarted. The
// simulator's webhooks go to a small forwarder in this process that tries the nodes in turn, as
// a load balancer would, so an inbound text reaches whichever node is alive; the simulator
// retries (as Plivo does) when no node answered 2xx.

export const OWNER = { email: 'owner@chaos.test', password: 'chaos owner password' };

/** Short lock timings and leases, so that idle holders, closed sockets and paused nodes play out within a run. */
export const CHAOS_TIMINGS = {
  LOCK_IDLE_WARNING_MS: '1500',
  LOCK_RELEASE_AFTER_WARNING_MS: '500',
  LOCK_DISCONNECT_GRACE_MS: '1000',
  NODE_LEASE_MS: '1000',
  // Placement survives the loss of one NATS server only on replicated buckets.
  NATS_KV_REPLICAS: '3',
} as const;

/** How long the forwarder waits for one node before trying the next (a paused node never answers). */
const FORWARD_TIMEOUT_MS = 2_500;

export type NodeState = 'up' | 'paused' | 'down';

export interface ChaosNode {
  readonly id: string;
  state: NodeState;
  /** The running process (null while down). */
  child: ChildSwitchboard | null;
}

export interface Fault {
  at: number;
  what: string;
}

/** Inbound webhooks passed on to the nodes, and which texts got a 2xx back to the simulator. */
class Forwarder {
  readonly acknowledged = new Set<string>();
  private readonly waiters: Array<() => void> = [];
  private server: Server | null = null;
  private next = 0;
  url = '';

  constructor(private readonly targets: () => string[]) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.forward(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }

  /** Resolves once `done()` holds, re-checked after every acknowledged text, or fails at the deadline. */
  until(done: () => boolean, what: string, timeoutMs: number): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(check), 1);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const check = (): void => {
        if (!done()) return;
        clearTimeout(timer);
        this.waiters.splice(this.waiters.indexOf(check), 1);
        resolve();
      };
      this.waiters.push(check);
    });
  }

  private async forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === 'string' && name !== 'host' && name !== 'connection' && name !== 'content-length') headers[name] = value;
    }
    const targets = this.targets();
    const start = this.next++;
    for (let i = 0; i < targets.length; i++) {
      const target = targets[(start + i) % targets.length]!;
      try {
        const answer = await fetch(target + (req.url ?? '/'), {
          method: req.method ?? 'POST',
          headers,
          ...(body.length > 0 ? { body } : {}),
          signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
        });
        const text = await answer.text();
        if (answer.status >= 200 && answer.status < 300) {
          res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'text/plain' }).end(text);
          this.noteAcknowledged(req.url ?? '', body);
          return;
        }
      } catch {
        // Refused, reset or timed out: the next node.
      }
    }
    res.writeHead(502).end();
  }

  private noteAcknowledged(url: string, body: Buffer): void {
    if (!url.startsWith('/webhooks/plivo/message')) return;
    const uuid = new URLSearchParams(body.toString('utf8')).get('MessageUUID');
    if (!uuid) return;
    this.acknowledged.add(uuid);
    for (const w of [...this.waiters]) w();
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export class ChaosCluster implements AsyncDisposable {
  readonly faults: Fault[] = [];
  private readonly stateWaiters: Array<() => void> = [];
  /** The placement's node leases, read as the nodes read them (opened on first use). */
  private leases: { nc: NatsConnection; kv: KV } | null = null;

  private constructor(
    readonly nats: NatsCluster,
    readonly simulator: StandaloneSimulator,
    readonly forwarder: Forwarder,
    readonly nodes: ChaosNode[],
    private readonly env: Record<string, string>,
    private readonly data: { path: string; remove(): void },
  ) {}

  static async start(o: { nodes?: number; log?: (line: string) => void } = {}): Promise<ChaosCluster> {
    const log = o.log ?? (() => undefined);
    const data = tempDir('switchboard-chaos-');
    let nats: NatsCluster | null = null;
    let simulator: StandaloneSimulator | null = null;
    const nodes: ChaosNode[] = Array.from({ length: o.nodes ?? 3 }, (_, i) => ({ id: `n${i + 1}`, state: 'down', child: null }));
    const forwarder = new Forwarder(() => nodes.filter((n) => n.child !== null).map((n) => n.child!.url));
    try {
      nats = await startNats(3);
      // Plivo's retries at +60/+120/+240 s, scaled to 3/6/12 s: a text outlasts any single fault.
      simulator = await startStandaloneSimulator({ deliveryDelayMs: 50, retryScale: 0.05 });
      await forwarder.start();
      const env: Record<string, string> = {
        DATA_DIR: data.path,
        NATS_URL: nats.urls,
        PUBLIC_URL: forwarder.url,
        PLIVO_AUTH_ID: simulator.authId,
        PLIVO_AUTH_TOKEN: simulator.authToken,
        PLIVO_API_URL: simulator.url,
        OWNER_EMAIL: OWNER.email,
        OWNER_PASSWORD: OWNER.password,
        NUMBER_SEND_INTERVAL_MS: '0',
        // Kept by spawnSwitchboard and shown when a node fails to start.
        LOG_LEVEL: 'warn',
        // Every client signs in from 127.0.0.1.
        LOGIN_MAX_FAILURES_PER_ADDRESS: '0',
        ...CHAOS_TIMINGS,
      };
      const cluster = new ChaosCluster(nats, simulator, forwarder, nodes, env, data);
      // One at a time: the first start of the empty store migrates it and creates the owner.
      for (let i = 0; i < nodes.length; i++) {
        await cluster.startNode(i);
        log(`node ${nodes[i]!.id} up at ${nodes[i]!.child!.url}`);
      }
      return cluster;
    } catch (e) {
      for (const n of nodes) await n.child?.kill();
      await forwarder.close();
      await simulator?.close();
      await nats?.close();
      data.remove();
      throw e;
    }
  }

  /** The store file every node shares (read it once the nodes are gone). */
  get dbFile(): string {
    return join(this.data.path, 'switchboard.db');
  }

  /** Base URLs of the nodes that are running and not paused. */
  liveUrls(): string[] {
    return this.nodes.filter((n) => n.state === 'up').map((n) => n.child!.url);
  }

  /** Resolves at the next change of any node's state (for clients waiting for a node to come back), or at the deadline if one is given. */
  nextStateChange(deadlineMs?: number): Promise<void> {
    return new Promise((resolve) => {
      if (deadlineMs === undefined) {
        this.stateWaiters.push(resolve);
        return;
      }
      const done = (): void => {
        clearTimeout(timer);
        const i = this.stateWaiters.indexOf(done);
        if (i >= 0) this.stateWaiters.splice(i, 1);
        resolve();
      };
      const timer = setTimeout(done, deadlineMs);
      this.stateWaiters.push(done);
    });
  }

  private setState(node: ChaosNode, state: NodeState): void {
    node.state = state;
    for (const w of this.stateWaiters.splice(0)) w();
  }

  private note(what: string): void {
    this.faults.push({ at: performance.now(), what });
  }

  private async startNode(i: number): Promise<void> {
    const node = this.nodes[i]!;
    node.child = await spawnSwitchboard({ ...this.env, NODE_ID: node.id }, { startTimeoutMs: 120_000 });
    this.setState(node, 'up');
  }

  async killNode(i: number): Promise<void> {
    const node = this.nodes[i]!;
    this.note(`SIGKILL ${node.id}`);
    const child = node.child;
    node.child = null;
    this.setState(node, 'down');
    await child?.kill();
  }

  async restartNode(i: number): Promise<void> {
    const node = this.nodes[i]!;
    this.note(`restart ${node.id}`);
    await this.startNode(i);
  }

  pauseNode(i: number): void {
    const node = this.nodes[i]!;
    this.note(`SIGSTOP ${node.id}`);
    process.kill(node.child!.pid, 'SIGSTOP');
    this.setState(node, 'paused');
  }

  resumeNode(i: number): void {
    const node = this.nodes[i]!;
    this.note(`SIGCONT ${node.id}`);
    process.kill(node.child!.pid, 'SIGCONT');
    this.setState(node, 'up');
  }

  /**
   * Whether node `i`'s lease is gone from the placement's bucket. A paused node's lease lapses by
   * the bucket's max_age, which NATS tells no one, so a waiter reads it again as things happen. A
   * read that fails counts as not yet.
   */
  async leaseLapsed(i: number): Promise<boolean> {
    try {
      this.leases ??= await this.openLeases();
      const entry = await this.leases.kv.get(this.nodes[i]!.id);
      return entry === null || entry.operation !== 'PUT';
    } catch {
      return false;
    }
  }

  private async openLeases(): Promise<{ nc: NatsConnection; kv: KV }> {
    const nc = await connect({ servers: this.nats.urls.split(','), name: 'chaos-harness', maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    try {
      // The bucket src/actors-runtime/kv-placement.ts keeps the leases in (prefix `sb`).
      return { nc, kv: await new Kvm(jetstream(nc, { timeout: 2_000 })).open('sb-nodes') };
    } catch (err) {
      await nc.close();
      throw err;
    }
  }

  async killNats(i: number): Promise<void> {
    this.note(`SIGKILL nats ${this.nats.servers[i]!.name}`);
    await this.nats.servers[i]!.kill();
  }

  async restartNats(i: number): Promise<void> {
    this.note(`restart nats ${this.nats.servers[i]!.name}`);
    await this.nats.servers[i]!.restart();
  }

  /** Paused nodes go on, every node is killed (the store file stays until `close`). */
  async stopNodes(): Promise<void> {
    for (const node of this.nodes) {
      if (node.state === 'paused') process.kill(node.child!.pid, 'SIGCONT');
      const child = node.child;
      node.child = null;
      this.setState(node, 'down');
      await child?.kill();
    }
  }

  async close(): Promise<void> {
    await this.stopNodes();
    await this.leases?.nc.close();
    this.leases = null;
    await this.forwarder.close();
    await this.simulator.close();
    await this.nats.close();
    this.data.remove();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
