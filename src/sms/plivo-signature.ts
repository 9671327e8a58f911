import { createHmac, randomInt } from 'node:crypto';
import { parse as parseQuery } from 'node:querystring';
import * as plivo from 'plivo';

// Plivo webhook signatures (plivo.md §4). Signing mirrors the SDK's own algorithm step by step, so
// the simulator's webhooks pass the SDK's validators; verification calls those validators
// (`validateV3Signature`, `validateSignature`), so the app accepts exactly what Plivo's SDK accepts.

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

function sortedParamsString(map: MultiMap): string {
  let out = '';
  for (const key of [...map.keys()].sort()) {
    for (const value of [...(map.get(key) ?? [])].sort()) out += key + value;
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
  const qs = sortedQueryString(toMultiMap(parseQuery(query)));
  const hasParams = Object.keys(params).length > 0;
  let out = base;
  if (qs.length > 0 || hasParams) out += `?${qs}`;
  if (qs.length > 0 && hasParams) out += '.';
  return out + sortedParamsString(toMultiMap(params));
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
  const v3 = { method: input.method, url: input.url, params: input.params, nonce: v3Nonce };
  return {
    [SIGNATURE_HEADERS.V3]: signV3({ ...v3, authToken: input.authToken }),
    [SIGNATURE_HEADERS['Ma-V3']]: signV3({ ...v3, authToken: main }),
    [SIGNATURE_HEADERS.V3Nonce]: v3Nonce,
    [SIGNATURE_HEADERS.V2]: signV2({ url: input.url, nonce: v2Nonce, authToken: input.authToken }),
    [SIGNATURE_HEADERS['Ma-V2']]: signV2({ url: input.url, nonce: v2Nonce, authToken: main }),
    [SIGNATURE_HEADERS.V2Nonce]: v2Nonce,
  };
}

export type VerifyFailure = 'missing_signature' | 'missing_nonce' | 'unsupported_method' | 'mismatch';

export type VerifyResult = { ok: true; scheme: SignatureScheme } | { ok: false; reason: VerifyFailure; detail: string };

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

function sdkParams(params: SignatureParams): Record<string, string | string[]> {
  // Copies: the SDK sorts array values in place.
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(params)) out[k] = typeof v === 'string' ? v : [...v];
  return out;
}

function safely(check: () => unknown): boolean {
  try {
    return check() === true;
  } catch {
    return false;
  }
}

export function verifyPlivoSignature(req: VerifyRequest): VerifyResult {
  const method = req.method.toUpperCase();
  if (method !== 'GET' && method !== 'POST') {
    return { ok: false, reason: 'unsupported_method', detail: `Plivo signs GET and POST webhooks only, not ${method}` };
  }
  const main = req.mainAuthToken ?? req.authToken;
  const v3Nonce = header(req.headers, SIGNATURE_HEADERS.V3Nonce);
  const v2Nonce = header(req.headers, SIGNATURE_HEADERS.V2Nonce);
  const attempts: Array<{ scheme: SignatureScheme; value: string | undefined; nonce: string | undefined; token: string }> = [
    { scheme: 'V3', value: header(req.headers, SIGNATURE_HEADERS.V3), nonce: v3Nonce, token: req.authToken },
    { scheme: 'Ma-V3', value: header(req.headers, SIGNATURE_HEADERS['Ma-V3']), nonce: v3Nonce, token: main },
  ];
  // V2 covers neither the body nor the query, so it is a fallback for requests that carry no V3
  // signature at all: a V3 mismatch is never rescued by a V2 match (that would accept a body
  // changed after signing).
  const hasV3 = attempts.some((a) => a.value !== undefined);
  if (req.allowV2 && !hasV3) {
    attempts.push(
      { scheme: 'V2', value: header(req.headers, SIGNATURE_HEADERS.V2), nonce: v2Nonce, token: req.authToken },
      { scheme: 'Ma-V2', value: header(req.headers, SIGNATURE_HEADERS['Ma-V2']), nonce: v2Nonce, token: main },
    );
  }
  const present = attempts.filter((a) => a.value !== undefined);
  if (present.length === 0) {
    const names = req.allowV2 ? 'X-Plivo-Signature-V3 or -V2' : 'X-Plivo-Signature-V3';
    return { ok: false, reason: 'missing_signature', detail: `No ${names} header` };
  }
  if (present.every((a) => a.nonce === undefined)) {
    return { ok: false, reason: 'missing_nonce', detail: 'The signature nonce header is missing' };
  }
  // For GET the SDK reads the parameters from the URL; passing them again would duplicate every value.
  const params = method === 'GET' ? {} : sdkParams(req.params);
  for (const a of present) {
    if (a.nonce === undefined || a.value === undefined) continue;
    const { nonce, token } = a;
    for (const sig of candidates(a.value)) {
      const matched =
        a.scheme === 'V3' || a.scheme === 'Ma-V3'
          ? safely(() => plivo.validateV3Signature(method, req.url, nonce, token, sig, params))
          : safely(() => plivo.validateSignature(req.url, nonce, sig, token));
      if (matched) return { ok: true, scheme: a.scheme };
    }
  }
  return {
    ok: false,
    reason: 'mismatch',
    detail: `No ${present.map((a) => a.scheme).join('/')} signature matches this URL, body and token`,
  };
}
