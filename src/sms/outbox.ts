import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../logger.js';
import type { Message } from '../domain/types.js';
import type { Store } from '../store/store.js';
import type { SmsProvider } from './sms-provider.js';
import type { EventSink } from '../events.js';
import type { Metrics } from '../metrics.js';
import type { Bus, Unsubscribe } from '../bus/bus.js';
import type { Placement } from '../actors-runtime/placement.js';
import { isAppError } from '../errors.js';
import { NumberQueue } from './number-queue.js';
import { QueueDepths } from './queue-depths.js';
import { toPlivoDigits } from '../domain/phone.js';
import { E164 } from '../schemas/views.js';

// The outbound pipeline after the commit point. A message is durable as `queued` before it gets
// here; the outbox walks it through sending → submitted one pool number at a time:
// - `sending` is written before the provider call, so a crash in between leaves a trace; on start
//   every `sending` message without a provider id becomes `unknown` for a person to decide. It is
//   never re-sent blindly (a student must not get the same text twice).
// - a throttled (429) or unreachable provider puts the message back at the head of its number's
//   queue and backs off; a timeout is ambiguous (the provider may have accepted it), so `unknown`.
// - a refusal is final: `rejected` with the provider's reason.
// - anything else that throws (a store write that fails) is logged, counted and ends as `unknown`.
//
// In a cluster each number's queue runs on one node, the number's owner (placement kind `number`),
// so the number's pacing holds cluster-wide and recovery never touches another node's in-flight
// sends. The durable `queued` rows are the hand-over: a node that commits a message for a number it
// does not own nudges the owner over the bus, and the owner reads its number's `queued` rows. A node
// that takes a number over (unowned, or its owner's lease lapsed) first marks that number's
// `sending` messages without a provider id `unknown`, then sends its `queued` ones. A lost nudge
// delays a message at most until the owner's next rescan (every QUEUE_RESCAN_MS it re-reads the
// `queued` rows of the numbers it runs), or the number's next nudge or take-over; it never sends it
// twice (a rescan queues only rows not already in the queue or in flight, and every send starts
// with a conditional queued → sending write). On a single node there is no placement: this node
// runs every queue, exactly as without a cluster, and nothing is nudged or rescanned.

export interface OutboxOptions {
  store: Store;
  provider: SmsProvider;
  clock: Clock;
  log: Logger;
  events: EventSink;
  metrics: Metrics;
  intervalMs: number;
  maxInFlight: number;
  /** The status-callback URL the provider posts to; read at send time (the port may be bound late). */
  statusCallbackUrl: () => string;
  /** Time to hold a message until (quiet hours), or null. */
  holdUntil?: (message: Message, now: number) => number | null;
  /**
   * A cluster: each number's queue runs on its owner only (absent, this node runs them all), which
   * re-reads its numbers' `queued` rows every `rescanMs` (QUEUE_RESCAN_MS).
   */
  cluster?: { placement: Placement; bus: Bus; prefix: string; rescanMs: number };
}

/** Placement kind of a pool number's send queue. */
export const NUMBER_ACTOR = 'number';

/** A number's placement id: its digits, as Plivo writes them (placement keys allow no `+`). */
export function numberActorId(number: string): string {
  return toPlivoDigits(number);
}

/** Cluster: longest a change of a queue's depth waits before the other nodes hear it. */
const DEPTH_REPORT_MS = 100;
const BACKOFF_BASE_MS = 1_000;
const BACKOFF_MAX_MS = 60_000;

export class Outbox {
  private readonly queues = new Map<string, NumberQueue<Message>>();
  private readonly retries = new Map<string, number>();
  private readonly settledListeners = new Set<(number: string) => void>();
  private stopped = false;
  /** Cluster: the numbers whose queues this node runs, under its current lease. */
  private readonly owned = new Set<string>();
  /** Cluster: ids of the messages in this node's queues, so that re-reading a number's rows adds only new ones. */
  private readonly inQueue = new Set<string>();
  private readonly draining = new Map<string, { again: boolean; done: Promise<number> }>();
  /** Cluster: numbers whose recovery runs now; their rows are read once it is done. */
  private readonly taking = new Set<string>();
  private adopting: Promise<{ recoveredUnknown: number; requeued: number }> | null = null;
  private adoptAgain = false;
  private readonly unsubscribe: Unsubscribe[] = [];
  /** Cluster: the depths of the queues other nodes run, for sender selection. */
  private depths: QueueDepths | null = null;
  private rescanTimer: TimerHandle | null = null;

  constructor(private readonly o: OutboxOptions) {}

  /**
   * Crash recovery, then re-queues every `queued` message in creation order. In a cluster: only
   * for the numbers this node owns or takes over now; later, the numbers of every node whose
   * lease lapses, and those it is nudged about.
   */
  async start(): Promise<{ recoveredUnknown: number; requeued: number }> {
    const cluster = this.o.cluster;
    if (cluster) {
      const { placement, bus, prefix } = cluster;
      const depths = new QueueDepths({
        bus,
        prefix,
        nodeId: placement.nodeId,
        clock: this.o.clock,
        log: this.o.log,
        intervalMs: DEPTH_REPORT_MS,
        local: () => [...this.owned].map((n) => [n, this.queues.get(n)?.depth ?? 0]),
      });
      this.depths = depths;
      this.unsubscribe.push(
        () => depths.stop(),
        bus.subscribe(`${prefix}.numq.${placement.nodeId}`, (payload) => {
          const number = E164.safeParse((payload as { number?: unknown } | null)?.number);
          if (number.success) void this.route(number.data, false);
          else this.o.log.warn({ issues: number.error.issues.slice(0, 3) }, 'ignored a malformed send queue nudge');
        }),
        // Without a lease this node may send from no number: another node takes them over.
        placement.onLeaseLost(() => this.dropAll()),
        placement.onNodeLapsed((node) => {
          depths.forget(node);
          this.adopt().catch((err: unknown) => this.o.log.error({ err, node }, "taking over a lapsed node's numbers failed"));
        }),
      );
      this.scheduleRescan();
      return this.adopt();
    }
    const unknown = await this.o.store.messages.markInterruptedSendsUnknown(this.o.clock.now());
    if (unknown.length > 0) {
      this.o.log.warn({ count: unknown.length }, 'messages interrupted mid-send marked unknown; they are not re-sent');
    }
    const queued = await this.o.store.messages.listByStatus('queued');
    for (const m of queued) this.queueFor(m.fromNumber).push(m);
    return { recoveredUnknown: unknown.length, requeued: queued.length };
  }

  /** Hands committed `queued` messages to their numbers' queues, in order (in a cluster, to their owners'). */
  enqueue(messages: Message[]): void {
    if (!this.o.cluster) {
      for (const m of messages) this.queueFor(m.fromNumber).push(m);
      return;
    }
    const route = new Set<string>();
    for (const m of messages) {
      const number = m.fromNumber;
      // While the number's rows are being read, a message pushed now could overtake older ones:
      // the read (asked to read again) queues it in order.
      if (this.runs(number) && !this.reading(number)) this.push(m);
      else route.add(number);
    }
    for (const number of route) void this.route(number, true);
  }

  /**
   * Messages waiting or in flight on this number (the "busy" measure of sender selection). In a
   * cluster, for a number another node runs: what that node last reported (at most
   * DEPTH_REPORT_MS old, plus the bus's delay).
   */
  depth(number: string): number {
    if (this.depths && !this.runs(number)) return this.depths.depth(number);
    return this.queues.get(number)?.depth ?? 0;
  }

  /** When this number may start its next send (its pacing); 0 when it has sent nothing yet. */
  readyAt(number: string): number {
    return this.queues.get(number)?.readyAt ?? 0;
  }

  /**
   * Told whenever a send from a number has finished (whatever its outcome), so a source of queued
   * messages (a campaign) can hand that number its next ones. Returns the function that stops it.
   */
  onSendSettled(listener: (number: string) => void): () => void {
    this.settledListeners.add(listener);
    return () => this.settledListeners.delete(listener);
  }

  totalDepth(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.depth;
    return n;
  }

  async idle(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.idle()));
  }

  stop(): void {
    this.stopped = true;
    if (this.rescanTimer) this.o.clock.clearTimeout(this.rescanTimer);
    this.rescanTimer = null;
    this.unsubscribe.splice(0).forEach((off) => off());
    for (const q of this.queues.values()) q.stop();
  }

  /** Cluster: whether a take-over or a read of the number's `queued` rows is under way. */
  private reading(number: string): boolean {
    return this.taking.has(number) || this.draining.has(number);
  }

  /** Cluster: whether this node runs the number's queue now. */
  private runs(number: string): boolean {
    return this.owned.has(number) && this.o.cluster!.placement.owns(NUMBER_ACTOR, numberActorId(number));
  }

  private push(m: Message): void {
    if (this.inQueue.has(m.id)) return;
    this.inQueue.add(m.id);
    this.queueFor(m.fromNumber).push(m);
    this.depths?.changed();
  }

  /**
   * Cluster: the number's `queued` rows reach its owner. This node sends them when it owns the
   * number or takes it over now; otherwise, when `nudge`, it tells the owner (a node that was
   * itself nudged does not pass it on: the owner it would name is the one that nudged it).
   */
  private async route(number: string, nudge: boolean): Promise<void> {
    if (this.stopped) return;
    const { placement, bus, prefix } = this.o.cluster!;
    // A take-over under way reads the number's rows once its recovery is done: reading them now
    // could start a send that the recovery would then take for interrupted.
    if (this.taking.has(number)) return;
    try {
      if (this.runs(number)) {
        await this.drain(number);
        return;
      }
      const owner = await placement.resolve(NUMBER_ACTOR, numberActorId(number));
      if (owner === placement.nodeId) await this.takeOver(number);
      else if (nudge) bus.publish(`${prefix}.numq.${owner}`, { number });
    } catch (err) {
      // The messages stay `queued`: the number's next nudge or take-over sends them.
      this.o.log.warn({ err, number }, 'could not hand queued messages to the owner of their number');
    }
  }

  /** Cluster: claims every number with sends to recover or make that no live node runs. */
  private adopt(): Promise<{ recoveredUnknown: number; requeued: number }> {
    if (this.adopting) {
      this.adoptAgain = true;
      return this.adopting;
    }
    const run = async () => {
      const totals = { recoveredUnknown: 0, requeued: 0 };
      do {
        this.adoptAgain = false;
        const { placement } = this.o.cluster!;
        const rows = [...(await this.o.store.messages.listByStatus('sending')), ...(await this.o.store.messages.listByStatus('queued'))];
        for (const number of new Set(rows.map((m) => m.fromNumber))) {
          if (this.stopped) break;
          if (this.runs(number)) continue;
          try {
            if ((await placement.resolve(NUMBER_ACTOR, numberActorId(number))) !== placement.nodeId) continue;
            const taken = await this.takeOver(number);
            totals.recoveredUnknown += taken.recoveredUnknown;
            totals.requeued += taken.requeued;
          } catch (err) {
            // One number that cannot be taken now must not keep the others waiting.
            this.o.log.warn({ err, number }, 'could not take over a number');
          }
        }
      } while (this.adoptAgain);
      return totals;
    };
    this.adopting = run().finally(() => (this.adopting = null));
    return this.adopting;
  }

  /**
   * Cluster: this node just claimed the number. Its sends left `sending` without a provider id were
   * interrupted on a node that is gone (or on this node's earlier run): `unknown`, never re-sent.
   */
  private async takeOver(number: string): Promise<{ recoveredUnknown: number; requeued: number }> {
    // Two callers that both resolved the number to this node: the first one recovers it.
    if (this.taking.has(number)) return { recoveredUnknown: 0, requeued: 0 };
    if (this.runs(number)) return { recoveredUnknown: 0, requeued: await this.drain(number) };
    this.owned.add(number);
    this.taking.add(number);
    let unknown: string[];
    try {
      unknown = await this.o.store.messages.markInterruptedSendsUnknown(this.o.clock.now(), { fromNumber: number });
    } catch (err) {
      // Not recovered: not run either; the next nudge or take-over tries again.
      this.owned.delete(number);
      throw err;
    } finally {
      this.taking.delete(number);
    }
    // Reading at once (in this turn) keeps a message enqueued meanwhile behind the older rows.
    const drained = this.drain(number);
    drained.catch(() => undefined); // awaited below; handled here too in case telling the watchers throws first
    if (unknown.length > 0) {
      this.o.log.warn({ count: unknown.length, number }, 'messages interrupted mid-send marked unknown; they are not re-sent');
    }
    // Unlike at a single node's start, people may be watching: they see the status change.
    for (const id of unknown) {
      const m = await this.o.store.messages.get(id);
      if (m) this.o.events.emit({ type: 'message', accountId: m.accountId, message: m });
    }
    return { recoveredUnknown: unknown.length, requeued: await drained };
  }

  /** Cluster: queues the number's `queued` rows not in its queue yet; concurrent calls coalesce. */
  private drain(number: string): Promise<number> {
    const running = this.draining.get(number);
    if (running) {
      running.again = true;
      return running.done;
    }
    const state = { again: false, done: Promise.resolve(0) };
    state.done = (async () => {
      let added = 0;
      do {
        state.again = false;
        for (const m of await this.o.store.messages.listByStatus('queued', { fromNumber: number })) {
          if (!this.runs(number)) return added;
          if (this.inQueue.has(m.id)) continue;
          this.push(m);
          added++;
        }
      } while (state.again);
      return added;
    })().finally(() => this.draining.delete(number));
    this.draining.set(number, state);
    return state.done;
  }

  /**
   * Cluster: re-reads the `queued` rows of every number this node runs and queues those it has
   * neither queued nor in flight (the messages of a nudge that was lost); resolves how many. One
   * indexed read per number, which finds nothing when nothing waits.
   */
  async rescan(): Promise<number> {
    let added = 0;
    for (const number of [...this.owned]) {
      // A take-over under way reads the rows itself once its recovery is done.
      if (this.stopped) break;
      if (!this.runs(number) || this.taking.has(number)) continue;
      try {
        added += await this.drain(number);
      } catch (err) {
        this.o.log.warn({ err, number }, "re-reading a number's queued messages failed; the next rescan tries again");
      }
    }
    if (added > 0) this.o.log.warn({ count: added }, 'queued messages found by the rescan (their nudge was lost); sending them');
    return added;
  }

  private scheduleRescan(): void {
    if (this.stopped) return;
    this.rescanTimer = this.o.clock.setTimeout(() => {
      this.rescanTimer = null;
      void this.rescan().finally(() => this.scheduleRescan());
    }, this.o.cluster!.rescanMs);
  }

  /** Cluster: this node lost its lease; it sends nothing more (sends already with the provider finish). */
  private dropAll(): void {
    for (const q of this.queues.values()) q.stop();
    this.queues.clear();
    this.owned.clear();
    this.inQueue.clear();
    this.depths?.changed();
  }

  private queueFor(number: string): NumberQueue<Message> {
    let q = this.queues.get(number);
    if (!q) {
      const queue: NumberQueue<Message> = new NumberQueue<Message>({
        clock: this.o.clock,
        intervalMs: this.o.intervalMs,
        maxInFlight: this.o.maxInFlight,
        run: (m) => this.send(m, queue),
        settled: (m) => this.settled(m.fromNumber),
        onFailure: (m, e) => void this.onUnexpectedFailure(m, e),
        ...(this.o.holdUntil ? { holdUntil: this.o.holdUntil } : {}),
      });
      q = queue;
      this.queues.set(number, q);
    }
    return q;
  }

  private settled(number: string): void {
    for (const listener of this.settledListeners) listener(number);
  }

  private async send(m: Message, queue: NumberQueue<Message>): Promise<void> {
    let requeued = false;
    try {
      requeued = await this.sendOnce(m, queue);
    } finally {
      if (!requeued) this.inQueue.delete(m.id);
      this.depths?.changed();
    }
  }

  /** Resolves true when the message went back into the queue to be retried. */
  private async sendOnce(m: Message, queue: NumberQueue<Message>): Promise<boolean> {
    if (this.stopped) return false;
    const { store, clock } = this.o;
    const sending = await store.messages.transition(m.id, { status: 'sending', at: clock.now() }, ['queued']);
    if (!sending) return false; // cancelled or already handled elsewhere
    let result: { providerId: string };
    try {
      result = await this.o.provider.send({
        from: m.fromNumber,
        to: m.toNumber,
        text: m.text,
        statusCallbackUrl: this.o.statusCallbackUrl(),
      });
    } catch (e) {
      return await this.onSendError(m, queue, e);
    }
    this.retries.delete(m.id);
    const submitted = await store.messages.transition(
      m.id,
      { status: 'submitted', providerId: result.providerId, at: clock.now() },
      ['sending'],
    );
    if (submitted) this.o.events.emit({ type: 'message', accountId: submitted.accountId, message: submitted });
    return false;
  }

  /** Resolves true when the message went back into the queue to be retried. */
  private async onSendError(m: Message, queue: NumberQueue<Message>, e: unknown): Promise<boolean> {
    const { store, clock, log } = this.o;
    const code = isAppError(e) ? e.code : 'internal';
    if (code === 'provider_rate_limited' || code === 'provider_unavailable') {
      // Nothing reached the provider (or it refused to take it yet): retry in place, keeping FIFO.
      const attempt = (this.retries.get(m.id) ?? 0) + 1;
      this.retries.set(m.id, attempt);
      const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
      log.warn({ messageId: m.id, from: m.fromNumber, code, attempt, delay }, 'send deferred');
      const back = await store.messages.transition(m.id, { status: 'queued', at: clock.now() }, ['sending']);
      if (back && !this.stopped) {
        queue.retryFirst(back, delay);
        return true;
      }
      return false;
    }
    this.retries.delete(m.id);
    const status = code === 'provider_timeout' || code === 'internal' ? 'unknown' : 'rejected';
    log.warn({ messageId: m.id, from: m.fromNumber, code, status, err: isAppError(e) ? undefined : e }, 'send failed');
    const failed = await store.messages.transition(m.id, { status, errorCode: code, at: clock.now() }, ['sending']);
    // Counted once recorded: a failing write goes on to onUnexpectedFailure, which counts it.
    this.o.metrics.sendFailures.inc({ reason: code });
    if (failed) this.o.events.emit({ type: 'message', accountId: failed.accountId, message: failed });
    return false;
  }

  /**
   * A send that threw instead of ending in a status: a store write failed (before the provider
   * call, or after the provider accepted the text), or something unforeseen. Whether the student got
   * the text can no longer be told, which is what `unknown` means: a person decides, and it is never
   * re-sent on its own (the same rule as a crash mid-send). If that write fails too, the next start
   * settles it: a message left `sending` becomes `unknown`, one still `queued` was never handed to
   * the provider and is sent.
   */
  private async onUnexpectedFailure(m: Message, e: unknown): Promise<void> {
    const { store, clock, log } = this.o;
    const code = isAppError(e) ? e.code : 'internal';
    this.retries.delete(m.id);
    this.o.metrics.sendFailures.inc({ reason: code });
    if (this.stopped) {
      // Shutting down: the store is closing under the call. Its state is settled at the next start.
      log.warn({ messageId: m.id, from: m.fromNumber, code }, 'send interrupted by shutdown; the next start settles it');
      return;
    }
    log.error({ messageId: m.id, from: m.fromNumber, code, err: e }, 'send failed unexpectedly; marking the message unknown');
    try {
      const marked = await store.messages.transition(m.id, { status: 'unknown', errorCode: code, at: clock.now() }, ['queued', 'sending']);
      if (marked) this.o.events.emit({ type: 'message', accountId: marked.accountId, message: marked });
    } catch (err) {
      log.error({ messageId: m.id, err }, 'could not mark the message unknown; the next start settles it');
    }
  }
}
