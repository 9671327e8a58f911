import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import { parse as parseQuery } from 'node:querystring';

// Plivo webhook signatures (plivo.md §4). Signing mirrors the SDK's own algorithm step by step, so
// the simulator's webhooks pass the SDK's validators; verification builds the same strings and
// accepts exactly what the SDK's validators accept (test/unit/plivo-signature.test.ts holds the
// two to the same answers), at a cost bounded before any hashing starts.

/** Form fields (POST) or extra query parameters; repeated keys as arrays. */
export type SignatureParams = Readonly<Record<string, string | readonly string[]>>;

export type SignatureScheme = 'V3' | 'Ma-V3' | 'V2' | 'Ma-V2';

export const SIGNATURE_HEADERS = {
  V3: 'X-Plivo-Signature-V3',
  'Ma-V3': 'X-Plivo-Signature-Ma-V3',
  V3Nonce: 'X-Plivo-Signature-V3-Nonce',
  V2: 'X-Plivo-Signature-V2',
  'Ma-V2': 'X-Plivo-Signature-Ma-V2',
  V2Nonce: 'X-Plivo-Signature-V2-Nonce',
} as const;

interface SplitUrl {
  /** scheme://host[:port], the port kept exactly as written. */
  origin: string;
  /** Raw path: no decoding, no trailing-slash changes. */
  path: string;
  /** Raw query without '?', '' when absent. */
  query: string;
}

function splitUrl(url: string): SplitUrl {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?/.exec(url.trim());
  if (!m) throw new TypeError('not an absolute URL');
  // The SDK rebuilds the origin from host and port only, so user info never takes part.
  const authority = (m[2] ?? '').replace(/^[^@]*@/, '');
  return { origin: `${m[1]}://${authority}`, path: (m[3] ?? '').trim(), query: m[4] ?? '' };
}

type MultiMap = Map<string, string[]>;

function toMultiMap(...sources: Array<Readonly<Record<string, unknown>>>): MultiMap {
  const map: MultiMap = new Map();
  for (const source of sources) {
    for (const [key, value] of Object.entries(source)) {
      const values = (Array.isArray(value) ? value : [value]).map((v) => String(v));
      map.set(key, [...(map.get(key) ?? []), ...values]);
    }
  }
  return map;
}

// JS default sort (UTF-16 code units, uppercase first) for keys and for each key's values, exactly
// as the SDK sorts them; pairs are not URL-encoded.
function sortedQueryString(map: MultiMap): string {
  const pairs: string[] = [];
  for (const key of [...map.keys()].sort()) {
    for (const value of [...(map.get(key) ?? [])].sort()) pairs.push(`${key}=${value}`);
  }
  return pairs.join('&');
}

// The same order as sortedQueryString's, without building a multimap: this runs for every form
// field of every webhook signed or checked.
function sortedParamsString(params: SignatureParams): string {
  let out = '';
  for (const key of Object.keys(params).sort()) {
    const value = params[key]!;
    if (typeof value === 'string') out += key + value;
    else for (const v of [...value].sort()) out += key + v;
  }
  return out;
}

/** The string V3 signs (before `.nonce`). GET: `params` are merged into the URL's query. */
export function v3BaseString(method: 'GET' | 'POST', url: string, params: SignatureParams = {}): string {
  const { origin, path, query } = splitUrl(url);
  const base = origin + path;
  if (method === 'GET') {
    const qs = sortedQueryString(toMultiMap(parseQuery(query), params));
    return qs.length > 0 ? `${base}?${qs}` : base;
  }
  const qs = query === '' ? '' : sortedQueryString(toMultiMap(parseQuery(query)));
  const hasParams = Object.keys(params).length > 0;
  let out = base;
  if (qs.length > 0 || hasParams) out += `?${qs}`;
  if (qs.length > 0 && hasParams) out += '.';
  return out + sortedParamsString(params);
}

/** The string V2 signs (before the nonce): the URL without its query. */
export function v2BaseString(url: string): string {
  const { origin, path } = splitUrl(url);
  return origin + path;
}

function hmacBase64(key: string, message: string): string {
  return createHmac('sha256', key).update(message, 'utf8').digest('base64');
}

export function signV3(input: {
  method: 'GET' | 'POST';
  url: string;
  params?: SignatureParams;
  nonce: string;
  authToken: string;
}): string {
  return hmacBase64(input.authToken, `${v3BaseString(input.method, input.url, input.params ?? {})}.${input.nonce}`);
}

export function signV2(input: { url: string; nonce: string; authToken: string }): string {
  return hmacBase64(input.authToken, v2BaseString(input.url) + input.nonce);
}

/** A nonce shaped like Plivo's: 20 decimal digits. */
export function newSignatureNonce(): string {
  let out = '';
  for (let i = 0; i < 20; i++) out += String(randomInt(10));
  return out;
}

export interface SignWebhookInput {
  method: 'GET' | 'POST';
  /** The full URL being called, query included. */
  url: string;
  /** POST form fields; `{}` for GET (the query is part of `url`). */
  params: SignatureParams;
  /** Token of the account that owns the resource (signs V3 and V2). */
  authToken: string;
  /** Main-account token (signs Ma-V3 and Ma-V2); the same as authToken for a main account. */
  mainAuthToken?: string;
  v3Nonce?: string;
  v2Nonce?: string;
}

/** All six signature headers Plivo may send (both families: see plivo.md §4 "which headers appear where"). */
export function plivoSignatureHeaders(input: SignWebhookInput): Record<string, string> {
  const main = input.mainAuthToken ?? input.authToken;
  const v3Nonce = input.v3Nonce ?? newSignatureNonce();
  const v2Nonce = input.v2Nonce ?? newSignatureNonce();
  // One string to sign for both tokens, and one HMAC when they are the same token (a main account).
  const v3Signed = `${v3BaseString(input.method, input.url, input.params)}.${v3Nonce}`;
  const v3 = hmacBase64(input.authToken, v3Signed);
  const v2Signed = v2BaseString(input.url) + v2Nonce;
  const v2 = hmacBase64(input.authToken, v2Signed);
  return {
    [SIGNATURE_HEADERS.V3]: v3,
    [SIGNATURE_HEADERS['Ma-V3']]: main === input.authToken ? v3 : hmacBase64(main, v3Signed),
    [SIGNATURE_HEADERS.V3Nonce]: v3Nonce,
    [SIGNATURE_HEADERS.V2]: v2,
    [SIGNATURE_HEADERS['Ma-V2']]: main === input.authToken ? v2 : hmacBase64(main, v2Signed),
    [SIGNATURE_HEADERS.V2Nonce]: v2Nonce,
  };
}

export type VerifyFailure =
  | 'missing_signature'
  | 'missing_nonce'
  | 'unsupported_method'
  | 'too_many_fields'
  | 'too_many_signatures'
  | 'mismatch';

/**
 * `hmacs`: how many HMACs the check computed. Bounded by design (one per token and scheme family,
 * never one per candidate signature, none for a request refused on its shape), which is what
 * keeps a forged request cheap to refuse.
 * `v2Nonce`: the nonce of a valid V2 signature the request carries, whether V2 admitted it or V3
 * did with V2 alongside (Plivo may send both): a V2 signature can be replayed with another body,
 * so its nonce must be claimed either way. Null when there is none (or V2 is not allowed).
 */
export type VerifyResult =
  | { ok: true; scheme: SignatureScheme; nonce: string; v2Nonce: string | null; hmacs: number }
  | { ok: false; reason: VerifyFailure; detail: string; hmacs: number };

/**
 * What a webhook may look like before any hashing is done. Plivo posts a few dozen fields (an MMS
 * with ten media about 40) and one or two signatures per header (two while a token is rotated).
 * A request past these is not from Plivo, and is refused for the price of counting.
 */
export const WEBHOOK_LIMITS = { maxFields: 200, maxSignaturesPerHeader: 4 } as const;

export interface VerifyRequest {
  /** GET or POST; anything else is refused (the SDK would throw a misleading error). */
  method: string;
  /**
   * The URL exactly as configured at Plivo (PUBLIC_URL + path + query), never rebuilt from the
   * Host header: behind a proxy the two differ and every signature would fail.
   */
  url: string;
  /** POST: every form field as received, empty ones included. Ignored for GET (the query is in `url`). */
  params: SignatureParams;
  /** Request headers; names are matched case-insensitively. */
  headers: Readonly<Record<string, string | undefined>>;
  authToken: string;
  /** Main-account token for the Ma- variants; defaults to authToken. */
  mainAuthToken?: string;
  /** Also accept V2 (the documented scheme for messaging webhooks), when no V3 header is present. */
  allowV2?: boolean;
}

function header(headers: VerifyRequest['headers'], name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() === wanted && v !== undefined && v.trim() !== '') return v;
  }
  return undefined;
}

// A header may carry several comma-separated signatures; one match is enough.
function candidates(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function fieldCount(method: string, url: string, params: SignatureParams): number {
  if (method === 'GET') {
    const query = url.indexOf('?') < 0 ? '' : url.slice(url.indexOf('?') + 1);
    return query === '' ? 0 : query.split('&').length;
  }
  let n = 0;
  for (const v of Object.values(params)) n += typeof v === 'string' ? 1 : v.length;
  return n;
}

// Constant time: how much of a guess matched must not show in how long the refusal took.
function sameSignature(candidate: string, expected: Buffer): boolean {
  const given = Buffer.from(candidate, 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * Checks a webhook's Plivo signature the way the SDK's validators do (`validateV3Signature`,
 * `validateSignature`; the unit tests hold the two to the same answers), but at a bounded cost:
 * the request's shape is checked first (fields, signatures per header), each string to sign is
 * built once, and each HMAC is computed once per token and compared with every candidate, where
 * the SDK rebuilds and rehashes for each one. A valid V2 signature says nothing about replays:
 * its nonce is returned (`v2Nonce`) for the caller to claim once (src/services/webhook-service.ts).
 */
export function verifyPlivoSignature(req: VerifyRequest): VerifyResult {
  let hmacs = 0;
  const refuse = (reason: VerifyFailure, detail: string): VerifyResult => ({ ok: false, reason, detail, hmacs });
  const method = req.method.toUpperCase();
  if (method !== 'GET' && method !== 'POST') {
    return refuse('unsupported_method', `Plivo signs GET and POST webhooks only, not ${method}`);
  }
  // Before anything is sorted or hashed: Plivo never sends a form this large.
  const fields = fieldCount(method, req.url, req.params);
  if (fields > WEBHOOK_LIMITS.maxFields) {
    return refuse('too_many_fields', `${fields} fields; Plivo sends at most ${WEBHOOK_LIMITS.maxFields}`);
  }
  const main = req.mainAuthToken ?? req.authToken;
  const v3Nonce = header(req.headers, SIGNATURE_HEADERS.V3Nonce);
  const v2Nonce = header(req.headers, SIGNATURE_HEADERS.V2Nonce);
  const offered = (scheme: SignatureScheme, nonce: string | undefined, token: string): Attempt[] => {
    const value = header(req.headers, SIGNATURE_HEADERS[scheme]);
    return value === undefined ? [] : [{ scheme, nonce, token, signatures: candidates(value) }];
  };
  const v3 = [...offered('V3', v3Nonce, req.authToken), ...offered('Ma-V3', v3Nonce, main)];
  const v2 = req.allowV2 ? [...offered('V2', v2Nonce, req.authToken), ...offered('Ma-V2', v2Nonce, main)] : [];
  // V2 covers neither the body nor the query, so it judges only requests that carry no V3
  // signature at all: a V3 mismatch is never rescued by a V2 match (that would accept a body
  // changed after signing).
  const judged = v3.length > 0 ? v3 : v2;
  if (judged.length === 0) {
    const names = req.allowV2 ? 'X-Plivo-Signature-V3 or -V2' : 'X-Plivo-Signature-V3';
    return refuse('missing_signature', `No ${names} header`);
  }
  if (judged.every((a) => a.nonce === undefined)) {
    return refuse('missing_nonce', 'The signature nonce header is missing');
  }
  const crowded = [...v3, ...v2].find((a) => a.signatures.length > WEBHOOK_LIMITS.maxSignaturesPerHeader);
  if (crowded) {
    return refuse('too_many_signatures', `${crowded.signatures.length} ${crowded.scheme} signatures; Plivo sends at most ${WEBHOOK_LIMITS.maxSignaturesPerHeader}`);
  }

  // The strings to sign, each built at most once (for GET the parameters are in the URL only).
  let v3Base: string | undefined;
  let v2Base: string | undefined;
  const digests = new Map<string, Buffer>();
  const matching = (attempts: Attempt[]): Attempt | null | 'unsignable' => {
    for (const a of attempts) {
      if (a.nonce === undefined) continue;
      const family = a.scheme === 'V3' || a.scheme === 'Ma-V3' ? 3 : 2;
      let message: string;
      try {
        message =
          family === 3
            ? `${(v3Base ??= v3BaseString(method, req.url, method === 'GET' ? {} : req.params))}.${a.nonce}`
            : (v2Base ??= v2BaseString(req.url)) + a.nonce;
      } catch {
        return 'unsignable';
      }
      // V3 and Ma-V3 share a nonce (so do V2 and Ma-V2): with one token for both, one HMAC serves both.
      const key = `${family}\n${a.token}`;
      let expected = digests.get(key);
      if (expected === undefined) {
        expected = Buffer.from(hmacBase64(a.token, message), 'utf8');
        hmacs++;
        digests.set(key, expected);
      }
      const digest = expected;
      if (a.signatures.some((sig) => sameSignature(sig, digest))) return a;
    }
    return null;
  };
  const match = matching(judged);
  if (match === 'unsignable') return refuse('mismatch', 'The URL cannot be signed');
  if (match === null || match.nonce === undefined) {
    return refuse('mismatch', `No ${judged.map((a) => a.scheme).join('/')} signature matches this URL, body and token`);
  }
  // A valid V2 signature next to the V3 one that admitted the request: its nonce is reported too.
  const withV2 = judged === v2 ? match : matching(v2);
  const v2Match = withV2 === 'unsignable' ? null : withV2;
  return { ok: true, scheme: match.scheme, nonce: match.nonce, v2Nonce: v2Match?.nonce ?? null, hmacs };
}

interface Attempt {
  scheme: SignatureScheme;
  nonce: string | undefined;
  token: string;
  signatures: string[];
}
