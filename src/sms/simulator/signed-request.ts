import type { Clock } from '../../clock.js';
import { plivoSignatureHeaders } from '../plivo-signature.js';

// One request the way Plivo makes it to a customer URL: POST as a form (GET as a query string),
// signed with all four signature headers, answered within a timeout measured on the injected clock
// (so tests can make a hung receiver time out by advancing a ManualClock).

export interface SigningTokens {
  authToken: string;
  mainAuthToken: string;
}

export interface SignedRequest {
  url: string;
  method: 'GET' | 'POST';
  params: Record<string, string>;
  signing: SigningTokens;
  timeoutMs: number;
  clock: Clock;
  /** Aborts the request from outside (shutdown). */
  signal?: AbortSignal;
  /** Read at most this much of the answer (XML documents are at most 100 KB at Plivo). */
  maxBodyBytes?: number;
}

export type SignedResponse =
  | { ok: true; status: number; contentType: string; body: string }
  | { ok: false; status: number | null; error: 'timeout' | 'aborted' | 'network' | 'http'; detail: string; body?: string };

export function withQuery(url: string, params: Record<string, string>): string {
  const qs = new URLSearchParams(params).toString();
  if (qs.length === 0) return url;
  return url + (url.includes('?') ? '&' : '?') + qs;
}

async function readLimited(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      break;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function sendSignedRequest(req: SignedRequest): Promise<SignedResponse> {
  const url = req.method === 'GET' ? withQuery(req.url, req.params) : req.url;
  const signParams = req.method === 'GET' ? {} : req.params;
  const headers: Record<string, string> = {
    'user-agent': 'PlivoSimulator/1.0',
    ...plivoSignatureHeaders({ method: req.method, url, params: signParams, ...req.signing }),
  };
  const init: RequestInit = { method: req.method, headers, redirect: 'manual' };
  if (req.method === 'POST') {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    init.body = new URLSearchParams(req.params).toString();
  }
  const controller = new AbortController();
  let timedOut = false;
  const timer = req.clock.setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, req.timeoutMs);
  const onOuterAbort = (): void => controller.abort();
  req.signal?.addEventListener('abort', onOuterAbort, { once: true });
  init.signal = controller.signal;
  try {
    const res = await fetch(url, init);
    const body = await readLimited(res, req.maxBodyBytes ?? 100 * 1024);
    if (res.status >= 200 && res.status < 300) {
      return { ok: true, status: res.status, contentType: res.headers.get('content-type') ?? '', body };
    }
    return { ok: false, status: res.status, error: 'http', detail: `HTTP ${res.status}`, body };
  } catch (e) {
    if (timedOut) return { ok: false, status: null, error: 'timeout', detail: `no answer within ${req.timeoutMs} ms` };
    if (req.signal?.aborted) return { ok: false, status: null, error: 'aborted', detail: 'simulator shutting down' };
    const cause = (e as { cause?: { code?: string } }).cause;
    return { ok: false, status: null, error: 'network', detail: cause?.code ?? (e instanceof Error ? e.message : String(e)) };
  } finally {
    req.clock.clearTimeout(timer);
    req.signal?.removeEventListener('abort', onOuterAbort);
  }
}
