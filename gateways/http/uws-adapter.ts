import type { HttpRequest as UwsRequest, HttpResponse as UwsResponse } from 'uWebSockets.js';
import type { HttpRequest, HttpResult } from './types.js';
import { statusLine } from './status-line.js';

// The only place that touches uWS request/response objects for HTTP. Rules (colyseus' uWS
// transport records the same): copy everything out of `req` synchronously; register onAborted
// before any async work; copy onData chunks (their ArrayBuffer is reused); write inside cork().

export class BodyTooLarge extends Error {
  override name = 'BodyTooLarge';
}

export interface PendingRequest {
  request: Omit<HttpRequest, 'body' | 'params'>;
  /** Resolves with the full body; rejects with BodyTooLarge or when the client went away. */
  body: Promise<Buffer>;
  isAborted(): boolean;
  /** Called as the answer is written: from then on the uWS response is gone. */
  answering(): void;
}

const EMPTY = Buffer.alloc(0);

/** `bodyLimit` says how many body bytes the request's route reads at most (known before any arrive). */
export function captureRequest(res: UwsResponse, req: UwsRequest, bodyLimit: (method: string, path: string) => number): PendingRequest {
  const headers: Record<string, string> = {};
  req.forEach((k, v) => {
    headers[k] = v;
  });
  const rawQuery = req.getQuery() ?? '';
  const request = {
    method: req.getCaseSensitiveMethod().toUpperCase(),
    path: req.getUrl(),
    rawQuery,
    query: new URLSearchParams(rawQuery),
    headers,
    remoteAddress: (): string => {
      // The response object must not be touched once aborted or answered.
      remote ??= aborted || answered ? '' : Buffer.from(res.getRemoteAddressAsText()).toString();
      return remote;
    },
  };

  let aborted = false;
  let answered = false;
  let remote: string | undefined;
  let rejectBody: ((e: Error) => void) | undefined;
  res.onAborted(() => {
    aborted = true;
    rejectBody?.(new Error('request aborted'));
  });

  const maxBodyBytes = bodyLimit(request.method, request.path);
  const declared = headers['content-length'];
  const hasBody = (declared !== undefined && declared !== '0') || headers['transfer-encoding'] !== undefined;
  let body: Promise<Buffer>;
  if (!hasBody) {
    body = Promise.resolve(EMPTY);
  } else if (declared !== undefined && Number(declared) > maxBodyBytes) {
    body = Promise.reject(new BodyTooLarge(`body over ${maxBodyBytes} bytes`));
    body.catch(() => undefined);
  } else {
    body = new Promise<Buffer>((resolve, reject) => {
      rejectBody = reject;
      const chunks: Buffer[] = [];
      let size = 0;
      res.onData((chunk, isLast) => {
        if (size < 0) return;
        size += chunk.byteLength;
        if (size > maxBodyBytes) {
          size = -1;
          reject(new BodyTooLarge(`body over ${maxBodyBytes} bytes`));
          return;
        }
        // The ArrayBuffer is only valid during this callback: copy it (once: a slice and a Buffer.from
        // would copy twice).
        chunks.push(Buffer.copyBytesFrom(new Uint8Array(chunk)));
        if (isLast) resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
      });
    });
    body.catch(() => undefined);
  }
  return {
    request,
    body,
    isAborted: () => aborted,
    answering: () => {
      answered = true;
    },
  };
}

/**
 * Headers on every answer. nosniff: a browser must not guess a type from the body (a JSON error
 * echoing input must never be run as HTML). no-store: API answers carry sessions, keys, student
 * data and messages, which no browser or proxy cache should keep; a route may say otherwise.
 */
const ALWAYS_HEADERS: Readonly<Record<string, string>> = { 'x-content-type-options': 'nosniff' };
const DEFAULT_HEADERS: Readonly<Record<string, string>> = { 'cache-control': 'no-store' };

/** The headers an answer goes out with, whatever serves it. */
export function answerHeaders(result: HttpResult): Record<string, string> {
  return { ...DEFAULT_HEADERS, ...result.headers, ...ALWAYS_HEADERS };
}

export function writeResult(res: UwsResponse, result: HttpResult, isAborted: () => boolean, method: string): void {
  if (isAborted()) return;
  const headers = answerHeaders(result);
  const body = result.body ?? '';
  res.cork(() => {
    try {
      res.writeStatus(statusLine(result.status));
      for (const [k, v] of Object.entries(headers)) res.writeHeader(k, v);
      if (method === 'HEAD') {
        // A HEAD answer has the GET answer's headers and no body; a body here would be read by a
        // keep-alive client as the start of its next response. uWS writes no Content-Length for
        // endWithoutBody() (and this build does not finish the response when given one), so say
        // what GET would have sent ourselves.
        if (result.status !== 204 && result.status !== 304) res.writeHeader('content-length', String(Buffer.byteLength(body)));
        res.endWithoutBody();
      } else {
        res.end(body);
      }
    } catch {
      // The socket closed between our check and the write; nothing left to answer.
    }
  });
}
