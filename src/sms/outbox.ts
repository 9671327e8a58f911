import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { Message } from '../domain/types.js';
import type { Store } from '../store/store.js';
import type { SmsProvider } from './sms-provider.js';
import type { EventSink } from '../events.js';
import type { Metrics } from '../metrics.js';
import { isAppError } from '../errors.js';
import { NumberQueue } from './number-queue.js';

// The outbound pipeline after the commit point. A message is durable as `queued` before it gets
// here; the outbox walks it through sending → submitted one pool number at a time:
// - `sending` is written before the provider call, so a crash in between leaves a trace; on start
//   every `sending` message without a provider id becomes `unknown` for a person to decide. It is
//   never re-sent blindly (a student must not get the same text twice).
// - a throttled (429) or unreachable provider puts the message back at the head of its number's
//   queue and backs off; a timeout is ambiguous (the provider may have accepted it), so `unknown`.
// - a refusal is final: `rejected` with the provider's reason.
// - anything else that throws (a store write that fails) is logged, counted and ends as `unknown`.

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
}

const BACKOFF_BASE_MS = 1_000;
const BACKOFF_MAX_MS = 60_000;

export class Outbox {
  private readonly queues = new Map<string, NumberQueue<Message>>();
  private readonly retries = new Map<string, number>();
  private readonly settledListeners = new Set<(number: string) => void>();
  private stopped = false;

  constructor(private readonly o: OutboxOptions) {}

  /** Crash recovery, then re-queues every `queued` message in creation order. */
  async start(): Promise<{ recoveredUnknown: number; requeued: number }> {
    const unknown = await this.o.store.messages.markInterruptedSendsUnknown(this.o.clock.now());
    if (unknown.length > 0) {
      this.o.log.warn({ count: unknown.length }, 'messages interrupted mid-send marked unknown; they are not re-sent');
    }
    const queued = await this.o.store.messages.listByStatus('queued');
    for (const m of queued) this.queueFor(m.fromNumber).push(m);
    return { recoveredUnknown: unknown.length, requeued: queued.length };
  }

  /** Hands committed `queued` messages to their numbers' queues, in order. */
  enqueue(messages: Message[]): void {
    for (const m of messages) this.queueFor(m.fromNumber).push(m);
  }

  /** Messages waiting or in flight on this number (the "busy" measure of sender selection). */
  depth(number: string): number {
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
    for (const q of this.queues.values()) q.stop();
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
    if (this.stopped) return;
    const { store, clock } = this.o;
    const sending = await store.messages.transition(m.id, { status: 'sending', at: clock.now() }, ['queued']);
    if (!sending) return; // cancelled or already handled elsewhere
    let result: { providerId: string };
    try {
      result = await this.o.provider.send({
        from: m.fromNumber,
        to: m.toNumber,
        text: m.text,
        statusCallbackUrl: this.o.statusCallbackUrl(),
      });
    } catch (e) {
      await this.onSendError(m, queue, e);
      return;
    }
    this.retries.delete(m.id);
    const submitted = await store.messages.transition(
      m.id,
      { status: 'submitted', providerId: result.providerId, at: clock.now() },
      ['sending'],
    );
    if (submitted) this.o.events.emit({ type: 'message', accountId: submitted.accountId, message: submitted });
  }

  private async onSendError(m: Message, queue: NumberQueue<Message>, e: unknown): Promise<void> {
    const { store, clock, log } = this.o;
    const code = isAppError(e) ? e.code : 'internal';
    if (code === 'provider_rate_limited' || code === 'provider_unavailable') {
      // Nothing reached the provider (or it refused to take it yet): retry in place, keeping FIFO.
      const attempt = (this.retries.get(m.id) ?? 0) + 1;
      this.retries.set(m.id, attempt);
      const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
      log.warn({ messageId: m.id, from: m.fromNumber, code, attempt, delay }, 'send deferred');
      const back = await store.messages.transition(m.id, { status: 'queued', at: clock.now() }, ['sending']);
      if (back && !this.stopped) queue.retryFirst(back, delay);
      return;
    }
    this.retries.delete(m.id);
    const status = code === 'provider_timeout' || code === 'internal' ? 'unknown' : 'rejected';
    log.warn({ messageId: m.id, from: m.fromNumber, code, status, err: isAppError(e) ? undefined : e }, 'send failed');
    const failed = await store.messages.transition(m.id, { status, errorCode: code, at: clock.now() }, ['sending']);
    // Counted once recorded: a failing write goes on to onUnexpectedFailure, which counts it.
    this.o.metrics.sendFailures.inc({ reason: code });
    if (failed) this.o.events.emit({ type: 'message', accountId: failed.accountId, message: failed });
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
