// The Bus port: how the nodes of a cluster tell each other things. Two shapes of traffic:
// - events: fire-and-forget `publish` to a subject, delivered to every current subscriber whose
//   pattern matches (NATS subject syntax: tokens separated by `.`, `*` matches one token, `>` the
//   rest); at most once, in publication order per publisher and subject;
// - requests: `request` to a subject, answered by one `respond`er (the actor-reference port uses it
//   to reach the node that owns an actor).
// Payloads are plain JSON values: what one node sends another receives as `JSON.parse(JSON.stringify(x))`.
// One implementation per deployment: MemoryBus (one process) and NatsBus (a cluster). Both pass
// test/contract/bus.contract.ts.

/** The first token of every subject the nodes of one Switchboard talk on (`sb.…`): they hear each other only if all use it. */
export const SUBJECT_PREFIX = 'sb';

export type BusHandler = (payload: unknown, subject: string) => void;
export type Responder = (payload: unknown, subject: string) => Promise<unknown> | unknown;
export type Unsubscribe = () => void;

export interface RequestOptions {
  timeoutMs: number;
}

export interface Bus {
  /** Delivers to the subscribers of `subject` (a concrete subject, no wildcards). Throws BusError('payload_too_large') past maxPayloadBytes. */
  publish(subject: string, payload: unknown): void;
  /** Subscribes to a subject or pattern; a handler that throws is isolated (reported, the others still run). */
  subscribe(pattern: string, handler: BusHandler): Unsubscribe;
  /** Answers requests to `subject`; with `queue`, each request goes to one responder of the group. What the responder throws reaches the requester as BusError('remote'). */
  respond(subject: string, responder: Responder, opts?: { queue?: string }): Unsubscribe;
  /** The first answer; BusError('no_responders') when nobody answers the subject, ('timeout') past the deadline. */
  request(subject: string, payload: unknown, opts: RequestOptions): Promise<unknown>;
  /** Resolves once what this bus published and subscribed so far has reached its server. */
  flush(): Promise<void>;
  /** Stops taking new work, delivers what is in flight, then closes. Further use throws BusError('closed'). */
  close(): Promise<void>;
  /** The largest payload (bytes of its JSON) this bus carries. */
  readonly maxPayloadBytes: number;
}

export type BusErrorCode = 'timeout' | 'no_responders' | 'payload_too_large' | 'bad_subject' | 'closed' | 'remote' | 'unavailable';

export class BusError extends Error {
  override name = 'BusError';
  constructor(
    readonly code: BusErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isBusError(e: unknown, code?: BusErrorCode): e is BusError {
  return e instanceof BusError && (code === undefined || e.code === code);
}

const TOKEN = /^[^\s.*>]+$/;

/** A subject token made from an id: refuses what would change the subject's shape (dots, wildcards, spaces). */
export function subjectToken(id: string): string {
  if (!TOKEN.test(id)) throw new BusError('bad_subject', `not usable in a subject: ${JSON.stringify(id)}`);
  return id;
}

/** Checks a concrete subject (publish, request) or a pattern (subscribe). */
const SUBJECT = /^[^\s.*>]+(?:\.[^\s.*>]+)*$/;
const PATTERN = /^(?:[^\s.*>]+|\*)(?:\.(?:[^\s.*>]+|\*))*(?:\.>)?$|^>$/;

export function checkSubject(subject: string, pattern: boolean): void {
  // One regular expression per call: every event published goes through here.
  const ok = (pattern ? PATTERN : SUBJECT).test(subject);
  if (!ok) throw new BusError('bad_subject', `not a ${pattern ? 'subject pattern' : 'subject'}: ${JSON.stringify(subject)}`);
}

/** Whether `subject` matches `pattern` (NATS rules). */
export function subjectMatches(pattern: string, subject: string): boolean {
  return tokensMatch(pattern.split('.'), subject.split('.'));
}

/** The same on tokens split beforehand (a pattern's once, when it subscribes). */
export function tokensMatch(p: readonly string[], s: readonly string[]): boolean {
  for (let i = 0; i < p.length; i++) {
    const t = p[i]!;
    if (t === '>') return s.length > i;
    if (i >= s.length) return false;
    if (t !== '*' && t !== s[i]) return false;
  }
  return p.length === s.length;
}

/** NATS's default max_payload; the memory bus keeps the same limit so a single node refuses what a cluster would. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;

/**
 * Refuses a payload whose JSON would pass `max` bytes, as encodePayload does, without encoding it
 * when a cheap upper bound already shows that it fits (a bus that hands over the object itself
 * need not build a string only to measure it). Near the limit, or for what the bound cannot judge
 * (toJSON, bigint, deep or cyclic values), it encodes: the exact answer, and JSON's own refusals.
 */
export function checkPayload(subject: string, payload: unknown, max: number): void {
  if (jsonBytesBound(payload, max, 0) <= max) return;
  encodePayload(subject, payload, max);
}

const UNKNOWN = Number.POSITIVE_INFINITY;
/** Deeper than this is left to JSON.stringify (which also refuses cycles). */
const MAX_DEPTH = 32;

/**
 * At least the UTF-8 length of `value`'s JSON, and more than `budget` as soon as it may exceed it.
 * A UTF-16 unit takes at most 6 bytes in JSON (a control character escaped as \u00XX; otherwise at
 * most 3 bytes of UTF-8, or 2 for an escaped quote or backslash); a number at most 24 characters.
 */
function jsonBytesBound(value: unknown, budget: number, depth: number): number {
  switch (typeof value) {
    case 'string':
      return 2 + 6 * value.length;
    case 'number':
      return 24;
    case 'boolean':
      return 5;
    case 'undefined':
    case 'function':
    case 'symbol':
      return 4; // dropped from objects, null in arrays and at the top
    case 'bigint':
      return UNKNOWN;
    case 'object': {
      if (value === null) return 4;
      if (depth >= MAX_DEPTH || typeof (value as { toJSON?: unknown }).toJSON === 'function') return UNKNOWN;
      let total = 2;
      if (Array.isArray(value)) {
        for (const item of value) {
          total += 1 + jsonBytesBound(item, budget - total, depth + 1);
          if (total > budget) return total;
        }
        return total;
      }
      for (const key in value) {
        if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
        total += 4 + 6 * key.length + jsonBytesBound((value as Record<string, unknown>)[key], budget - total, depth + 1);
        if (total > budget) return total;
      }
      return total;
    }
  }
}

/** The JSON a payload travels as, refused past `max` bytes. */
export function encodePayload(subject: string, payload: unknown, max: number): string {
  const json = JSON.stringify(payload) ?? 'null';
  // Length in UTF-16 units is at most the UTF-8 length only for ASCII: measure bytes when it could matter.
  if (json.length * 3 > max && Buffer.byteLength(json) > max) {
    throw new BusError('payload_too_large', `payload for ${subject} is ${Buffer.byteLength(json)} bytes; the bus carries at most ${max}`);
  }
  return json;
}

/** What a responder sends back: its value, or what it threw (code and message). */
export type ReplyEnvelope = { ok: true; value: unknown } | { ok: false; error: { code: string; message: string } };

export function errorEnvelope(err: unknown): ReplyEnvelope {
  const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : 'internal';
  return { ok: false, error: { code, message: err instanceof Error ? err.message : String(err) } };
}

/** The error a requester sees for a responder that threw; `remoteCode` is the responder's own code. */
export class RemoteError extends BusError {
  override name = 'RemoteError';
  constructor(
    readonly remoteCode: string,
    message: string,
  ) {
    super('remote', message);
  }
}

export function openEnvelope(env: unknown): unknown {
  const e = env as ReplyEnvelope;
  if (e && e.ok === true) return e.value;
  if (e && e.ok === false && e.error) throw new RemoteError(e.error.code, e.error.message);
  throw new BusError('remote', 'malformed reply');
}
