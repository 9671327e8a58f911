import { createHash } from 'node:crypto';
import type { Conversation, Message } from '../domain/types.js';
import type { Principal } from '../auth/principal.js';
import type { NewIdempotencyRecord } from '../store/store.js';
import type { TimerHandle } from '../clock.js';
import type { CoreContext } from './context.js';
import type { Config } from '../config.js';
import { AppError, isAppError } from '../errors.js';

// The Idempotency-Key of a request that sends texts (IETF httpapi draft "The Idempotency-Key HTTP
// Header Field"). A client that got no answer retries with the same key and gets the first answer,
// and nothing is sent again, across restarts:
// - the record of the answer commits in the same store write as the queued messages, so a crash
//   leaves both (the retry gets the answer) or neither (the retry sends, once);
// - keys belong to the caller (a user, or an API key): one caller can neither read nor block
//   another's outcome;
// - the same key with another request (other body, other conversation, other route) is refused
//   (422 idempotency_key_reused) rather than answered with an outcome that is not its own;
// - while the first request is still being processed on this node, a second gets 409
//   (idempotency_key_in_flight) at once instead of waiting: a large compose can take seconds, and
//   the retry after it gets the answer. On another node the duplicate runs until its write, which the
//   store refuses (the key is taken): it then answers the first outcome too;
// - only a request that queued texts is remembered: one refused (4xx) or failed records nothing, so
//   its retry is judged afresh (e.g. after quiet hours end);
// - a replay answers from the record alone; access is not checked again, since it returns only what
//   this same caller was answered before;
// - records are kept IDEMPOTENCY_KEY_TTL_MS (24 h), then pruned: an older key is new again.

export const IDEMPOTENCY_HEADER = 'idempotency-key';
const MAX_KEY_LENGTH = 255;
const PRUNE_EVERY_MS = 3_600_000;
const PRUNE_BATCH = 1_000;

/** Hands the core's write what it needs to record the answer in the same transaction. */
export interface IdempotencyClaim<T> {
  record(answer: (recorded: ReadonlyArray<{ message: Message; conversation: Conversation }>) => T): NewIdempotencyRecord;
}

const invalidKey = (): AppError =>
  new AppError(
    'idempotency_key_invalid',
    'Idempotency-Key must be 1 to 255 printable ASCII characters, bare or as a quoted string, e.g. "8e03978e-40d5-43e8-bc93-6894a57f9324"',
  );

/**
 * The key of an Idempotency-Key header value: the draft's quoted string (`"…"`, with `\"` and `\\`
 * escapes), or a bare value of visible ASCII as many clients send it; both name the same key.
 * Undefined when the header is absent.
 */
export function parseIdempotencyKey(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const value = raw.trim();
  let key: string;
  if (value.startsWith('"')) {
    const m = /^"((?:[\x20\x21\x23-\x5B\x5D-\x7E]|\\["\\])*)"$/.exec(value);
    if (!m) throw invalidKey();
    key = m[1]!.replace(/\\(["\\])/g, '$1');
  } else {
    if (!/^[\x21-\x7E]+$/.test(value)) throw invalidKey();
    key = value;
  }
  if (key.length === 0 || key.length > MAX_KEY_LENGTH) throw invalidKey();
  return key;
}

/** JSON with object keys sorted, so that equal requests hash alike whatever order fields came in. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const scopeOf = (p: Principal): string => (p.kind === 'user' ? `user:${p.user.id}` : `apiKey:${p.apiKey.id}`);

/** What idempotency reads from the configuration. */
export type IdempotencySettings = Pick<Config, 'idempotencyKeyTtlMs'>;

export class Idempotency {
  /** (scope, key) → fingerprint of the request being processed with it on this node. */
  private readonly inFlight = new Map<string, string>();
  private pruneTimer: TimerHandle | null = null;
  private stopped = false;

  constructor(
    private readonly c: CoreContext,
    private readonly settings: IdempotencySettings,
  ) {}

  /**
   * Runs `perform` once per (caller, key): with no key, simply runs it. `request` is what the
   * caller asked for (the validated body and the route's parameters, under an operation name);
   * `perform` passes the claim's record to the store write that queues its messages and returns the
   * same `answer` of what was recorded. A replay returns the stored answer instead.
   */
  async once<T>(
    p: Principal,
    rawKey: string | undefined,
    request: { operation: string } & Record<string, unknown>,
    status: number,
    perform: (claim: IdempotencyClaim<T> | undefined) => Promise<T>,
  ): Promise<T> {
    const key = parseIdempotencyKey(rawKey);
    if (key === undefined) return perform(undefined);
    const scope = scopeOf(p);
    const fingerprint = createHash('sha256').update(canonicalJson(request)).digest('base64url');
    const slot = JSON.stringify([scope, key]);
    const running = this.inFlight.get(slot);
    if (running !== undefined) {
      if (running !== fingerprint) throw reused();
      throw new AppError('idempotency_key_in_flight', 'A request with this Idempotency-Key is still being processed; retry it to get its outcome');
    }
    // Marked before the first await, so that a duplicate arriving meanwhile is turned away.
    this.inFlight.set(slot, fingerprint);
    try {
      const stored = await this.replay<T>(scope, key, fingerprint);
      if (stored !== null) return stored.answer;
      const createdAt = this.c.clock.now();
      return await perform({
        record: (answer) => ({
          scope,
          key,
          fingerprint,
          createdAt,
          expiresAt: createdAt + this.settings.idempotencyKeyTtlMs,
          response: (recorded) => ({ status, body: JSON.stringify(answer(recorded)) }),
        }),
      });
    } catch (e) {
      // Another node (or a request this node no longer tracks) committed with the key first.
      if (isAppError(e) && e.code === 'idempotency_key_in_flight') {
        const first = await this.replay<T>(scope, key, fingerprint);
        if (first !== null) return first.answer;
      }
      throw e;
    } finally {
      this.inFlight.delete(slot);
    }
  }

  /** Prunes expired records now and then every hour. */
  start(): void {
    this.stopped = false;
    void this.prune();
  }

  stop(): void {
    this.stopped = true;
    if (this.pruneTimer) this.c.clock.clearTimeout(this.pruneTimer);
    this.pruneTimer = null;
  }

  /** Deletes expired records in bounded batches (each its own short write), then re-arms. */
  async prune(): Promise<number> {
    let total = 0;
    try {
      for (;;) {
        const n = await this.c.store.idempotency.prune(this.c.clock.now(), PRUNE_BATCH);
        total += n;
        if (n < PRUNE_BATCH || this.stopped) break;
      }
      if (total > 0) this.c.log.info({ count: total }, 'expired idempotency records pruned');
    } catch (err) {
      this.c.log.error({ err }, 'pruning idempotency records failed; retried at the next round');
    }
    if (!this.stopped) {
      if (this.pruneTimer) this.c.clock.clearTimeout(this.pruneTimer);
      this.pruneTimer = this.c.clock.setTimeout(() => void this.prune(), PRUNE_EVERY_MS);
    }
    return total;
  }

  private async replay<T>(scope: string, key: string, fingerprint: string): Promise<{ answer: T } | null> {
    const stored = await this.c.store.idempotency.get(scope, key, this.c.clock.now());
    if (!stored) return null;
    if (stored.fingerprint !== fingerprint) throw reused();
    return { answer: JSON.parse(stored.body) as T };
  }
}

const reused = (): AppError =>
  new AppError('idempotency_key_reused', 'This Idempotency-Key was already used for a different request; use a new key for a new request');
