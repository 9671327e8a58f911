import http from 'node:http';
import https from 'node:https';
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

export async function sendSignedRequest(req: SignedRequest): Promise<SignedResponse> {
  const url = req.method === 'GET' ? withQuery(req.url, req.params) : req.url;
  const signParams = req.method === 'GET' ? {} : req.params;
  const headers: Record<string, string> = {
    'user-agent': 'PlivoSimulator/1.0',
    ...plivoSignatureHeaders({ method: req.method, url, params: signParams, ...req.signing }),
  };
  let body: string | undefined;
  if (req.method === 'POST') {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(req.params).toString();
    headers['content-length'] = String(Buffer.byteLength(body));
  }
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return { ok: false, status: null, error: 'network', detail: `invalid URL ${url}` };
  }
  const transport = target.protocol === 'https:' ? https : http;
  const agent = target.protocol === 'https:' ? httpsAgent : httpAgent;
  const max = req.maxBodyBytes ?? 100 * 1024;

  return new Promise<SignedResponse>((resolve) => {
    let settled = false;
    const finish = (r: SignedResponse): void => {
      if (settled) return;
      settled = true;
      req.clock.clearTimeout(timer);
      req.signal?.removeEventListener('abort', onOuterAbort);
      resolve(r);
    };
    const outgoing = transport.request(target, { method: req.method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= max) chunks.push(chunk);
      });
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        const text = Buffer.concat(chunks).toString('utf8');
        if (status >= 200 && status < 300) finish({ ok: true, status, contentType: String(res.headers['content-type'] ?? ''), body: text });
        else finish({ ok: false, status, error: 'http', detail: `HTTP ${status}`, body: text });
      });
      res.on('error', (e) => finish({ ok: false, status: null, error: 'network', detail: e.message }));
    });
    const timer = req.clock.setTimeout(() => {
      finish({ ok: false, status: null, error: 'timeout', detail: `no answer within ${req.timeoutMs} ms` });
      outgoing.destroy();
    }, req.timeoutMs);
    const onOuterAbort = (): void => {
      finish({ ok: false, status: null, error: 'aborted', detail: 'simulator shutting down' });
      outgoing.destroy();
    };
    if (req.signal?.aborted) return onOuterAbort();
    req.signal?.addEventListener('abort', onOuterAbort, { once: true });
    outgoing.on('error', (e: NodeJS.ErrnoException) => finish({ ok: false, status: null, error: 'network', detail: e.code ?? e.message }));
    outgoing.end(body);
  });
}

// Plivo keeps connections to a customer's server open between webhooks; so do we. (Node's fetch
// costs several times more CPU per request than node:http, and the simulator often runs inside
// the node it calls.)
const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 128 });
const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 128 });
