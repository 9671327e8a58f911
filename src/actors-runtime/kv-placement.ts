import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { errors, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, JetStreamApiCodes, JetStreamApiError, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV, type KvEntry } from '@nats-io/kv';
import type { Logger } from '../logger.js';
import { PlacementUnavailable, type Placement, type Unsubscribe } from './placement.js';

// Placement on two replicated JetStream KV buckets (DESIGN.md "Cluster requirements"):
//
// - `<prefix>-nodes`: one key per node, its lease. The bucket's max_age is the lease (per-key TTL
//   does not exist on nats-server 2.9 and is silently ignored there); the node renews by `update`
//   with the revision it last wrote, every third of the lease. A lease that is not renewed is
//   removed by the server once max_age has passed. Each lease names an incarnation (random, new
//   every time the node takes a lease), so a node that lost its lease and took a new one does not
//   own its old claims by accident.
// - `<prefix>-actors`: one key per actor, `<kind>.<actorId>`, naming the node and incarnation
//   that claimed it. An unowned actor, or one whose owner's lease lapsed (gone, or of another
//   incarnation), is claimed by a write conditional on the bucket's whole stream being where it
//   was when the claim was decided (`Nats-Expected-Last-Sequence`), so of two nodes racing for it
//   exactly one wins. Not the per-key revision (KV `create`/`update`): on a replicated stream,
//   nats-server before 2.9.21 checks that one before consensus, against what is already stored,
//   so two concurrent writes on one revision can both be accepted (nats-io/nats-server#4320, seen
//   on 2.9.10 here); the stream-level check counts the writes still in flight. A claim conflicts
//   with every other claim of the same moment, which only makes it retry: claims are rare (a
//   first activation, a failover). Ownership never moves by delete and create.
//
// A node trusts its own lease only on its monotonic clock: the lease is live until the time the
// last successful renewal was sent plus the lease, less a margin. The server starts its max_age
// later than that (when the renewal arrives), so a node that believes it is live is; a node paused
// past its lease (SIGSTOP) sees on waking that its lease ran out before it does anything else.

export interface KvPlacementOptions {
  nc: NatsConnection;
  nodeId: string;
  /** The lease (NODE_LEASE_MS): the nodes bucket's max_age. */
  leaseMs: number;
  /** Replicas of both buckets (NATS_KV_REPLICAS). */
  replicas: number;
  /** Bucket names start with it: `<prefix>-nodes`, `<prefix>-actors`. */
  prefix?: string;
  log: Logger;
  /** How long opening the buckets may take on a cluster that is still starting (default 30 s). */
  setupTimeoutMs?: number;
  /** Monotonic milliseconds (tests may pass another). */
  now?: () => number;
}

interface LeaseValue {
  node: string;
  incarnation: string;
}

interface ClaimValue {
  node: string;
  incarnation: string;
}

const KEY_TOKEN = /^[-_=A-Za-z0-9]{1,200}$/;

export class KvPlacement implements Placement {
  readonly nodeId: string;
  private incarnation = '';
  private leaseRevision = 0;
  /** Monotonic time until which the lease is known to be live; 0: no lease. */
  private liveUntil = 0;
  /** The claims made under the current incarnation, by key. */
  private readonly claims = new Set<string>();
  private readonly lostListeners = new Set<() => void>();
  private readonly lapsedListeners = new Set<(nodeId: string) => void>();
  /** The other nodes' leases as last seen (node → incarnation). */
  private known = new Map<string, string>();
  private renewTimer: NodeJS.Timeout | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly now: () => number;
  private readonly margin: number;

  private constructor(
    private readonly o: KvPlacementOptions,
    private readonly nodes: KV,
    private readonly actors: KV,
    private readonly claimsStream: { name: string; subjectPrefix: string; js: JetStreamClient; jsm: JetStreamManager },
  ) {
    this.nodeId = o.nodeId;
    this.now = o.now ?? (() => performance.now());
    this.margin = Math.max(1, Math.floor(o.leaseMs / 10));
  }

  /** Opens (or creates) the buckets and takes this node's lease; waits out a lease of an earlier run under the same id. */
  static async start(o: KvPlacementOptions): Promise<KvPlacement> {
    if (!KEY_TOKEN.test(o.nodeId)) throw new Error(`node id not usable as a KV key: ${JSON.stringify(o.nodeId)}`);
    const prefix = o.prefix ?? 'sb';
    // A cluster that just started answers JetStream only once it elected its leaders, and a request
    // made before that is lost: ask again, a few seconds each time, up to a deadline. After that,
    // JetStream calls answer within a third of the lease or fail: a renewal must not outlive it.
    const setup = new Kvm(jetstream(o.nc, { timeout: 3_000 }));
    const kvm = new Kvm(jetstream(o.nc, { timeout: Math.max(500, Math.floor(o.leaseMs / 3)) }));
    const deadline = Date.now() + (o.setupTimeoutMs ?? 30_000);
    let nodes: KV;
    let actors: KV;
    for (;;) {
      try {
        // allow_direct off: every read goes to the stream's leader. A direct get may be answered by
        // a lagging replica, which may have let a live lease expire by max_age before it received
        // the renewal: another node would then take over actors their owner still runs.
        await setup.create(`${prefix}-nodes`, { ttl: o.leaseMs, history: 1, replicas: o.replicas, allow_direct: false });
        await setup.create(`${prefix}-actors`, { history: 1, replicas: o.replicas, allow_direct: false });
        nodes = await kvm.open(`${prefix}-nodes`);
        actors = await kvm.open(`${prefix}-actors`);
        break;
      } catch (err) {
        // A cluster still forming answers "no suitable peers" (or not at all) until its servers
        // know each other: ask again until the deadline, then say what was last refused.
        const disabled = err instanceof JetStreamApiError && err.code === JetStreamApiCodes.JetStreamNotEnabledForAccount;
        if (!disabled && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 250));
          continue;
        }
        throw new PlacementUnavailable(
          `cannot open the placement buckets on JetStream (is JetStream enabled on every server, with ${o.replicas} replica(s) possible?): ${String(err)}`,
          { cause: err },
        );
      }
    }
    const timeout = Math.max(500, Math.floor(o.leaseMs / 3));
    const claimsStream = {
      name: `KV_${prefix}-actors`,
      subjectPrefix: `$KV.${prefix}-actors.`,
      js: jetstream(o.nc, { timeout }),
      jsm: await jetstreamManager(o.nc, { timeout }),
    };
    // The server skips the stream-level check when the expected sequence is 0: a claims stream is
    // never empty (a marker key, written by whichever node comes first; writing it twice is harmless).
    if ((await claimsStream.jsm.streams.info(claimsStream.name)).state.last_seq === 0) await actors.put('_placement', '{}');
    const p = new KvPlacement(o, nodes, actors, claimsStream);
    await p.takeLease(Date.now() + 3 * o.leaseMs);
    // The nodes live now: the first poll tells which of them lapsed since.
    p.known = await p.readLeases();
    p.schedulePoll();
    return p;
  }

  get live(): boolean {
    if (this.liveUntil === 0) return false;
    if (this.now() < this.liveUntil) return true;
    this.lose('the lease ran out before it was renewed');
    return false;
  }

  owns(kind: string, actorId: string): boolean {
    return this.live && this.claims.has(claimKey(kind, actorId));
  }

  async resolve(kind: string, actorId: string): Promise<string> {
    const key = claimKey(kind, actorId);
    if (this.owns(kind, actorId)) return this.nodeId;
    for (let attempt = 0; attempt < 5; attempt++) {
      // Where the stream is, read before the key: a claim decided on this reading is written only
      // if nothing was written (or is on its way) since.
      const streamAt = await this.claimsStreamSequence();
      const entry = await this.read(this.actors, key);
      const claim = entry && entry.operation === 'PUT' ? parse<ClaimValue>(entry) : null;
      if (claim) {
        if (claim.node === this.nodeId && claim.incarnation === this.incarnation && this.live) {
          this.claims.add(key);
          return this.nodeId;
        }
        if (claim.node !== this.nodeId && (await this.leaseOf(claim.node)) === claim.incarnation) return claim.node;
      }
      // Unowned, or its owner's lease lapsed: this node claims it, if it has a lease to claim with.
      if (!this.live) throw new PlacementUnavailable(`node ${this.nodeId} has no lease: it cannot take ${key}`);
      const value = JSON.stringify({ node: this.nodeId, incarnation: this.incarnation } satisfies ClaimValue);
      const incarnation = this.incarnation;
      try {
        await this.claimsStream.js.publish(this.claimsStream.subjectPrefix + key, value, { expect: { lastSequence: streamAt } });
      } catch (err) {
        // Another claim came first (maybe of this actor), or no answer came in time, so this claim
        // may yet be stored (a slow replication): read again once the stream has moved on. A
        // claim stored after all names this node and incarnation, and the read takes it up.
        if (!isRaceLost(err) && !(err instanceof errors.TimeoutError)) throw unavailable(`claiming ${key}`, err);
        await this.landedPast(streamAt);
        continue;
      }
      // The lease may have been lost while the claim was on its way: a claim of an old incarnation is worthless.
      if (incarnation !== this.incarnation || !this.live) throw new PlacementUnavailable(`node ${this.nodeId} lost its lease while claiming ${key}`);
      this.claims.add(key);
      return this.nodeId;
    }
    throw new PlacementUnavailable(`${key} kept changing owner while being resolved`);
  }

  async liveNodes(): Promise<Set<string>> {
    return new Set((await this.readLeases()).keys());
  }

  onLeaseLost(listener: () => void): Unsubscribe {
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  onNodeLapsed(listener: (nodeId: string) => void): Unsubscribe {
    this.lapsedListeners.add(listener);
    return () => this.lapsedListeners.delete(listener);
  }

  /**
   * Stops renewing and gives the lease back: called once this node's actors have stopped, so the
   * other nodes take them over at once instead of waiting for the lease to lapse.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    const held = this.live;
    this.stopped = true;
    for (const t of [this.renewTimer, this.watchdog, this.pollTimer]) if (t) clearTimeout(t);
    this.claims.clear();
    this.liveUntil = 0;
    if (!held) return;
    try {
      // Only the lease this node still holds (a delete on its revision, so it never removes a
      // newer one). A failure leaves it to lapse.
      await this.nodes.delete(this.nodeId, { previousSeq: this.leaseRevision });
    } catch (err) {
      this.o.log.warn({ err }, 'could not give the node lease back; it lapses within the lease');
    }
  }

  /** Takes a lease under a new incarnation; retries until `deadline` (wall clock) while a lease of this node id still exists. */
  private async takeLease(deadline: number): Promise<void> {
    const incarnation = randomBytes(6).toString('hex');
    const value = JSON.stringify({ node: this.nodeId, incarnation } satisfies LeaseValue);
    for (;;) {
      const sentAt = this.now();
      try {
        this.leaseRevision = await this.nodes.create(this.nodeId, value);
        this.incarnation = incarnation;
        this.leased(sentAt);
        this.o.log.info({ incarnation, leaseMs: this.o.leaseMs }, 'node lease taken');
        return;
      } catch (err) {
        if (!isRaceLost(err)) throw unavailable('taking the node lease', err);
        // A lease under this node id exists: an earlier run's, which lapses within the lease.
        if (Date.now() > deadline) throw new PlacementUnavailable(`a lease for node id ${this.nodeId} is held by another process (two nodes with one NODE_ID?)`);
        await new Promise((r) => setTimeout(r, Math.max(50, Math.floor(this.o.leaseMs / 3))));
      }
    }
  }

  private leased(sentAt: number): void {
    this.liveUntil = sentAt + this.o.leaseMs - this.margin;
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => void this.live, Math.max(0, this.liveUntil - this.now()) + 1);
    this.watchdog.unref();
    if (this.renewTimer) clearTimeout(this.renewTimer);
    this.renewTimer = setTimeout(() => void this.renew(), Math.floor(this.o.leaseMs / 3));
    this.renewTimer.unref();
  }

  private async renew(): Promise<void> {
    if (this.stopped) return;
    if (!this.live) return; // lost: the re-lease loop runs instead
    const sentAt = this.now();
    const incarnation = this.incarnation;
    try {
      const value = JSON.stringify({ node: this.nodeId, incarnation } satisfies LeaseValue);
      const revision = await this.nodes.update(this.nodeId, value, this.leaseRevision);
      if (this.stopped || incarnation !== this.incarnation || this.liveUntil === 0) return;
      this.leaseRevision = revision;
      this.leased(sentAt);
    } catch (err) {
      if (this.stopped) return;
      if (isRaceLost(err)) {
        this.lose('the lease was gone when it was renewed');
        return;
      }
      // NATS did not answer in time: try again at once; the watchdog ends the lease if it runs out.
      this.o.log.warn({ err }, 'renewing the node lease failed; trying again');
      this.renewTimer = setTimeout(() => void this.renew(), Math.max(50, Math.floor(this.o.leaseMs / 10)));
      this.renewTimer.unref();
    }
  }

  private lose(why: string): void {
    if (this.liveUntil === 0 || this.stopped) return;
    this.liveUntil = 0;
    this.claims.clear();
    if (this.renewTimer) clearTimeout(this.renewTimer);
    if (this.watchdog) clearTimeout(this.watchdog);
    this.o.log.warn({ why }, 'node lease lost: stopping every actor of this node');
    for (const listener of [...this.lostListeners]) {
      try {
        listener();
      } catch (err) {
        this.o.log.error({ err }, 'a lease-lost listener failed');
      }
    }
    void this.relet();
  }

  /** After a lost lease: a new one, under a new incarnation, once the old one has lapsed. */
  private async relet(): Promise<void> {
    while (!this.stopped && this.liveUntil === 0) {
      try {
        await this.takeLease(Number.POSITIVE_INFINITY);
      } catch (err) {
        this.o.log.warn({ err }, 'taking a new node lease failed; trying again');
        await new Promise((r) => setTimeout(r, Math.max(50, Math.floor(this.o.leaseMs / 3))));
      }
    }
  }

  /** Every third of a lease: which nodes' leases went away since the last look. */
  private schedulePoll(): void {
    this.pollTimer = setTimeout(() => {
      void this.poll().finally(() => {
        if (!this.stopped) this.schedulePoll();
      });
    }, Math.floor(this.o.leaseMs / 3));
    this.pollTimer.unref();
  }

  private async poll(): Promise<void> {
    let now: Map<string, string>;
    try {
      now = await this.readLeases();
    } catch (err) {
      this.o.log.warn({ err }, 'reading the node leases failed');
      return;
    }
    const before = this.known;
    this.known = now;
    for (const [node, incarnation] of before) {
      if (node === this.nodeId || now.get(node) === incarnation) continue;
      for (const listener of [...this.lapsedListeners]) {
        try {
          listener(node);
        } catch (err) {
          this.o.log.error({ err, node }, 'a node-lapsed listener failed');
        }
      }
    }
  }

  private async readLeases(): Promise<Map<string, string>> {
    const leases = new Map<string, string>();
    let keys: string[];
    try {
      keys = [];
      for await (const k of await this.nodes.keys()) keys.push(k);
    } catch (err) {
      throw unavailable('listing node leases', err);
    }
    await Promise.all(
      keys.map(async (k) => {
        const incarnation = await this.leaseOf(k);
        if (incarnation !== null) leases.set(k, incarnation);
      }),
    );
    return leases;
  }

  /** The incarnation of `node`'s live lease, or null when it has none. */
  private async leaseOf(node: string): Promise<string | null> {
    if (node === this.nodeId) return this.live ? this.incarnation : null;
    const entry = await this.read(this.nodes, node);
    return entry && entry.operation === 'PUT' ? (parse<LeaseValue>(entry)?.incarnation ?? null) : null;
  }

  /**
   * After a refused or unanswered claim: resolves once the claims' stream has moved past
   * `streamAt`, or after a third of a lease. A refusal counts a write still in flight (being
   * replicated), and an unanswered claim may be one: the stream's last sequence and the key's value
   * show it only once it is stored. Read again before that and the old value is still there, the
   * next claim is refused again, and a few such rounds under load would use up every attempt while
   * the first claim is merely on its way.
   */
  private async landedPast(streamAt: number): Promise<void> {
    const until = this.now() + Math.max(500, Math.floor(this.o.leaseMs / 3));
    // A read that fails counts as "not yet": the next attempt's own reads say whether NATS answers.
    const moved = () => this.claimsStreamSequence().then((at) => at > streamAt, () => false);
    for (let delay = 1; !(await moved()) && this.now() < until; delay = Math.min(2 * delay, 50)) {
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  /** The last sequence of the claims' stream, as its leader has it. */
  private async claimsStreamSequence(): Promise<number> {
    try {
      return (await this.claimsStream.jsm.streams.info(this.claimsStream.name)).state.last_seq;
    } catch (err) {
      throw unavailable('reading where the claims stand', err);
    }
  }

  private async read(kv: KV, key: string): Promise<KvEntry | null> {
    try {
      return await kv.get(key);
    } catch (err) {
      throw unavailable(`reading ${key}`, err);
    }
  }
}

function claimKey(kind: string, actorId: string): string {
  if (!KEY_TOKEN.test(kind) || !KEY_TOKEN.test(actorId)) throw new PlacementUnavailable(`not usable as a placement key: ${JSON.stringify(`${kind}.${actorId}`)}`);
  return `${kind}.${actorId}`;
}

function parse<T>(entry: KvEntry): T | null {
  try {
    return entry.json<T>();
  } catch {
    return null;
  }
}

/** `create` on an existing key, `update` on a revision that is no longer the key's. */
function isRaceLost(err: unknown): boolean {
  return err instanceof JetStreamApiError && (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);
}

function unavailable(what: string, err: unknown): PlacementUnavailable {
  return new PlacementUnavailable(`${what} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}
