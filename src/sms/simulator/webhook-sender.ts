import { EventEmitter, setMaxListeners } from 'node:events';
import type { Clock, TimerHandle } from '../../clock.js';
import type { Logger } from '../../logger.js';
import type { SimulatorDb, WebhookKind, WebhookRow } from './simulator-db.js';
import { sendSignedRequest, type SigningTokens } from './signed-request.js';

// Delivers webhooks the way Plivo does (plivo.md §2): form POST, signed, 8 s to answer; on a
// non-2xx answer or a timeout up to three retries at +60, +120 and +240 s after the previous
// attempt (times `retryScale`, so tests can shrink them). Every delivery is a row in SQLite before
// its first attempt, so a restart resumes exactly where it stopped. Time comes from the injected
// clock: one timer, armed for the earliest future attempt.

export const RETRY_DELAYS_MS = [60_000, 120_000, 240_000] as const;
export const WEBHOOK_TIMEOUT_MS = 8_000;
/** Deliveries in flight at once: enough to keep a receiver busy, bounded so a backlog cannot flood it. */
export const MAX_CONCURRENT_DELIVERIES = 64;

export interface NewDelivery {
  kind: WebhookKind;
  ref: string;
  groupKey: string;
  url: string;
  method: 'GET' | 'POST';
  params: Record<string, string>;
  /** Epoch ms; defaults to now. */
  dueAt?: number;
}

export interface AttemptOutcome {
  webhookId: number;
  kind: WebhookKind;
  ref: string;
  url: string;
  /** 1 for the first attempt. */
  attempt: number;
  ok: boolean;
  status: number | null;
  error: string | null;
  /** No further attempt will be made (delivered, or retries exhausted). */
  settled: boolean;
  nextAttemptAt: number | null;
  /** The answer (for inbound messages: an optional <Response><Message> document). */
  responseBody: string;
  responseType: string;
}

export interface WebhookSenderOptions {
  db: SimulatorDb;
  clock: Clock;
  log: Logger;
  signing: SigningTokens;
  retryScale: number;
  timeoutMs?: number;
  /** The form an attempt sends, from the row's stored params (default: those params as they are). */
  formOf?: (row: WebhookRow, stored: Record<string, string>) => Record<string, string>;
}

export class WebhookSender {
  private readonly events = new EventEmitter();
  private readonly inFlight = new Map<number, Promise<void>>();
  private readonly shutdown = new AbortController();
  private timer: TimerHandle | null = null;
  private timerAt = Infinity;
  private closed = false;
  private pumpScheduled = false;

  constructor(private readonly o: WebhookSenderOptions) {
    // Every handset text waits for its first attempt: one listener each, legitimately many. Every
    // delivery in flight listens for the shutdown: as many as MAX_CONCURRENT_DELIVERIES.
    this.events.setMaxListeners(0);
    setMaxListeners(MAX_CONCURRENT_DELIVERIES + 1, this.shutdown.signal);
  }

  /** Starts delivering, resuming whatever a previous run left pending. */
  start(): void {
    this.pump();
  }

  enqueue(d: NewDelivery): number {
    const now = this.o.clock.now();
    const id = this.o.db.insertWebhook({
      kind: d.kind,
      ref: d.ref,
      group_key: d.groupKey,
      url: d.url,
      method: d.method,
      params: d.params,
      next_attempt_at: d.dueAt ?? now,
      created_at: now,
    });
    this.pump();
    return id;
  }

  /** Listens to every attempt's outcome; returns the unsubscribe function. */
  onAttempt(listener: (o: AttemptOutcome) => void): () => void {
    this.events.on('attempt', listener);
    return () => this.events.off('attempt', listener);
  }

  /** Resolves with the outcome of the next attempt of webhook `id`, or null if the sender closes first. */
  nextAttempt(id: number): Promise<AttemptOutcome | null> {
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      const onClose = (): void => {
        off();
        resolve(null);
      };
      const off = this.onAttempt((o) => {
        if (o.webhookId !== id) return;
        off();
        this.events.off('closed', onClose);
        resolve(o);
      });
      this.events.once('closed', onClose);
    });
  }

  pending(): WebhookRow[] {
    return this.o.db.pendingWebhooks();
  }

  /** Stops timers, aborts requests in flight (they stay pending and are retried after a restart). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
    this.shutdown.abort();
    await Promise.allSettled([...this.inFlight.values()]);
    this.events.emit('closed');
    this.events.removeAllListeners();
  }

  /**
   * Starts due deliveries. Many enqueues and completions in one tick make one pass (a pass reads
   * at most as many rows as there are free slots), so a backlog of thousands costs linear time.
   */
  private pump(): void {
    if (this.closed || this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pumpNow();
    });
  }

  private pumpNow(): void {
    if (this.closed) return;
    const now = this.o.clock.now();
    const free = MAX_CONCURRENT_DELIVERIES - this.inFlight.size;
    // Never one in flight, nor one whose group has an earlier webhook still pending (in flight
    // included): one delivery per group at a time, in order (SimulatorDb.dueWebhooks).
    const due = free > 0 ? this.o.db.dueWebhooks(now, free, this.inFlight.keys()) : [];
    for (const row of due) {
      const run = this.attempt(row)
        .catch((e: unknown) => this.o.log.error({ err: e, webhookId: row.id }, 'simulator webhook attempt crashed'))
        .finally(() => {
        this.inFlight.delete(row.id);
        this.pump();
      });
      this.inFlight.set(row.id, run);
    }
    this.arm(now);
  }

  private arm(now: number): void {
    const next = this.o.db.nextWebhookAt(now);
    if (next === null || next >= this.timerAt) {
      if (next === null && this.timer) {
        this.o.clock.clearTimeout(this.timer);
        this.timer = null;
        this.timerAt = Infinity;
      }
      return;
    }
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    this.timerAt = next;
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      this.pump();
    }, next - now);
  }

  private async attempt(row: WebhookRow): Promise<void> {
    const stored = JSON.parse(row.params) as Record<string, string>;
    const params = this.o.formOf ? this.o.formOf(row, stored) : stored;
    const result = await sendSignedRequest({
      url: row.url,
      method: row.method,
      params,
      signing: this.o.signing,
      timeoutMs: this.o.timeoutMs ?? WEBHOOK_TIMEOUT_MS,
      clock: this.o.clock,
      signal: this.shutdown.signal,
    });
    // An attempt cut short by our own shutdown did not happen: the row stays as it was. One that
    // completed while closing is still recorded (the database closes only after close() resolves).
    if (!result.ok && result.error === 'aborted') return;

    const now = this.o.clock.now();
    const attempts = row.attempts + 1;
    const retryDelay = RETRY_DELAYS_MS[attempts - 1];
    const settled = result.ok || retryDelay === undefined;
    const nextAttemptAt = settled ? null : now + Math.round(retryDelay * this.o.retryScale);
    // Outcomes of one turn share a commit; nobody hears of this one before it is recorded.
    await this.o.db.batch(() =>
      this.o.db.recordAttempt({
        id: row.id,
        attempts,
        state: result.ok ? 'delivered' : settled ? 'failed' : 'pending',
        last_status: result.status,
        last_error: result.ok ? null : result.detail,
        next_attempt_at: nextAttemptAt ?? row.next_attempt_at,
        settled_at: settled ? now : null,
      }),
    );
    // Arm the retry before anyone hears of this attempt, so the schedule is in place when they act.
    if (nextAttemptAt !== null) this.arm(now);
    if (!result.ok) {
      this.o.log.debug(
        { webhookId: row.id, kind: row.kind, attempt: attempts, status: result.status, error: result.detail, retryAt: nextAttemptAt },
        'simulator webhook attempt failed',
      );
    }
    const outcome: AttemptOutcome = {
      webhookId: row.id,
      kind: row.kind,
      ref: row.ref,
      url: row.url,
      attempt: attempts,
      ok: result.ok,
      status: result.status,
      error: result.ok ? null : result.detail,
      settled,
      nextAttemptAt,
      responseBody: result.ok ? result.body : '',
      responseType: result.ok ? result.contentType : '',
    };
    try {
      this.events.emit('attempt', outcome);
    } catch (e) {
      this.o.log.error({ err: e, webhookId: row.id }, 'simulator webhook listener failed');
    }
  }
}
