import { STATUS_CODES } from 'node:http';
import zlib from 'node:zlib';
import { Agent, EnvHttpProxyAgent, util, type Dispatcher } from 'undici';

// Switchboard's HTTP client for Plivo's API: undici's connection pools, one exchange at a time
// (`exchange`), and an axios adapter that puts the Plivo SDK's requests on the same pools.
//
// The SDK builds every request (URL, Basic auth, JSON body), hands it to the axios copy it loads,
// and reads the answer back (camelCase, its error classes). Axios's own Node adapter turns each
// request into a node:http ClientRequest with a dozen stream listeners: measured against a local
// server (`test/bench/README.md`, "Where an outbound send's time goes"), an SDK call cost about
// 250 µs of CPU through it and about 150 µs through this adapter; raw undici, without the SDK and
// axios, about 45 µs. Sends, one a text, are therefore made without the SDK (PlivoProvider.send);
// the SDK's other calls (numbers, searches) come through here.
//
// What it carries is what the SDK sends: a string body (or none), headers, a timeout for the whole
// exchange. Anything else (a stream or form body, axios's `proxy`, an agent of the caller's, basic
// auth in `auth`, a cancel signal, a response type other than JSON or text) goes to axios's own
// adapter unchanged, so no SDK feature is lost. It keeps axios's contract where the SDK and
// `mapPlivoError` read it:
// - it follows no redirect (a 3xx is a response, refused by `validateStatus` like any non-2xx);
// - a response outside `validateStatus` rejects with `AxiosError` "Request failed with status
//   code N", carrying the response;
// - a timeout rejects with "timeout of N ms exceeded" (ECONNABORTED, or ETIMEDOUT under
//   `transitional.clarifyTimeoutError`), as axios words it;
// - a connection lost before the request was written rejects as "socket hang up" (ECONNRESET),
//   Node's words for it, and a connection refused keeps the system's code; one lost after it was
//   written rejects as an answer lost (`asAxiosError`), which is not a failure that reached nothing;
// - HTTP_PROXY, HTTPS_PROXY and NO_PROXY in the environment are honoured, as axios honours them.

/** The subset of axios this adapter needs, typed here because the SDK's copy is loaded untyped. */
export interface AxiosLike {
  AxiosError: new (message: string, code: string, config: AxiosRequestConfig, request?: unknown, response?: AxiosResponse) => Error;
  AxiosHeaders: { from(headers: Record<string, string | string[] | undefined>): unknown };
  getAdapter(name: string): Adapter;
}

export interface AxiosRequestConfig {
  url?: string;
  method?: string;
  headers?: { toJSON(): Record<string, unknown> };
  data?: unknown;
  timeout?: number;
  timeoutErrorMessage?: string;
  transitional?: { clarifyTimeoutError?: boolean };
  validateStatus?: ((status: number) => boolean) | null;
  maxContentLength?: number;
  responseType?: string;
  proxy?: unknown;
  auth?: unknown;
  socketPath?: unknown;
  signal?: unknown;
  cancelToken?: unknown;
  httpAgent?: unknown;
  httpsAgent?: unknown;
  onDownloadProgress?: unknown;
  onUploadProgress?: unknown;
}

export interface AxiosResponse {
  data: string;
  status: number;
  statusText: string;
  headers: unknown;
  config: AxiosRequestConfig;
  request: { method: string; path: string; host: string };
}

export type Adapter = (config: AxiosRequestConfig) => Promise<AxiosResponse>;

/** Connections kept open per origin: as many as the SDK's own agents allow (100). */
export const PLIVO_CONNECTIONS = 100;
/** An answer larger than this is refused when axios sets no `maxContentLength` (the SDK sets none). */
export const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

/** The environment's proxies, read as axios reads them (lower case first), or undefined for none. */
function proxiesOf(env: NodeJS.ProcessEnv): { httpProxy?: string; httpsProxy?: string; noProxy?: string } | undefined {
  const pick = (name: string): string | undefined => env[name.toLowerCase()] || env[name.toUpperCase()] || undefined;
  const httpProxy = pick('http_proxy');
  const httpsProxy = pick('https_proxy');
  if (httpProxy === undefined && httpsProxy === undefined) return undefined;
  const noProxy = pick('no_proxy');
  return { ...(httpProxy ? { httpProxy } : {}), ...(httpsProxy ? { httpsProxy } : {}), ...(noProxy ? { noProxy } : {}) };
}

export function plivoDispatcher(env: NodeJS.ProcessEnv = process.env): Dispatcher {
  const proxies = proxiesOf(env);
  return proxies ? new EnvHttpProxyAgent({ ...proxies, connections: PLIVO_CONNECTIONS }) : new Agent({ connections: PLIVO_CONNECTIONS });
}

/**
 * The adapter. `agents` are the agents the SDK installs as axios's defaults: a request carrying
 * those is the SDK's own; one carrying any other agent goes to axios's adapter.
 */
export function undiciAdapter(axios: AxiosLike, dispatcher: Dispatcher, agents: { httpAgent?: unknown; httpsAgent?: unknown }): Adapter {
  const fallback = axios.getAdapter('http');

  const carries = (c: AxiosRequestConfig): boolean =>
    (c.data === undefined || typeof c.data === 'string') &&
    (c.responseType === undefined || c.responseType === 'json' || c.responseType === 'text') &&
    c.proxy === undefined &&
    c.auth === undefined &&
    c.socketPath === undefined &&
    c.signal === undefined &&
    c.cancelToken === undefined &&
    c.onDownloadProgress === undefined &&
    c.onUploadProgress === undefined &&
    c.httpAgent === agents.httpAgent &&
    c.httpsAgent === agents.httpsAgent;

  return async function plivoTransport(config) {
    if (!carries(config)) return fallback(config);
    let target: URL;
    try {
      target = new URL(config.url ?? '');
    } catch {
      throw new axios.AxiosError(`Invalid URL ${config.url ?? ''}`, 'ERR_INVALID_URL', config);
    }
    if (target.protocol !== 'http:' && target.protocol !== 'https:') return fallback(config);

    const method = (config.method ?? 'get').toUpperCase();
    const request = { method, path: target.pathname + target.search, host: target.host };
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(config.headers?.toJSON() ?? {})) {
      if (value !== undefined && value !== null && value !== false) headers[name] = String(value);
    }
    const body = typeof config.data === 'string' && config.data !== '' && method !== 'GET' && method !== 'HEAD' ? config.data : undefined;

    const timeoutMs = config.timeout ?? 0;
    const limit = config.maxContentLength !== undefined && config.maxContentLength > -1 ? config.maxContentLength : MAX_ANSWER_BYTES;
    let response: AxiosResponse;
    try {
      const answer = await exchange(dispatcher, { origin: target.origin, path: request.path, method: method as Dispatcher.HttpMethod, headers, body }, limit, timeoutMs);
      response = {
        data: answerText(answer, limit),
        status: answer.status,
        statusText: STATUS_CODES[answer.status] ?? '',
        headers: axios.AxiosHeaders.from(answer.headers),
        config,
        request,
      };
    } catch (e) {
      throw asAxiosError(axios, e, config, request, limit, timeoutMs);
    }
    const valid = config.validateStatus ?? null;
    if (valid === null || valid(response.status)) return response;
    throw new axios.AxiosError(
      `Request failed with status code ${response.status}`,
      response.status >= 500 ? 'ERR_BAD_RESPONSE' : 'ERR_BAD_REQUEST',
      config,
      request,
      response,
    );
  };
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

/** Why an exchange failed, and whether the request had been written to the connection by then. */
export class ExchangeFailed extends Error {
  override name = 'ExchangeFailed';
  constructor(
    readonly reason: 'timeout' | 'too_large' | 'connection',
    readonly afterSent: boolean,
    override readonly cause?: unknown,
  ) {
    super(reason);
  }
}

/**
 * One request and its whole answer (at most `limit` bytes), within `timeoutMs` (0: no limit).
 * Through `dispatch` rather than `request`: the handler hears when the request has been written to
 * the connection, which decides what a lost connection means (`failureOf`).
 */
export function exchange(dispatcher: Dispatcher, options: Dispatcher.DispatchOptions, limit: number, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let sent = false;
    let stop: ((err: Error) => void) | undefined;
    let failure: ExchangeFailed | undefined;
    let status = 0;
    let headers: Record<string, string | string[]> = {};
    const chunks: Buffer[] = [];
    let size = 0;
    const fail = (reason: 'timeout' | 'too_large'): void => {
      failure ??= new ExchangeFailed(reason, sent);
      if (stop) {
        stop(failure); // onError rejects
      } else {
        // Still waiting for a connection: give up now; onConnect aborts it if it ever gets one.
        settle();
        reject(failure);
      }
    };
    const timer = timeoutMs > 0 ? setTimeout(() => fail('timeout'), timeoutMs) : undefined;
    const settle = (): void => {
      if (timer !== undefined) clearTimeout(timer);
    };
    const handler: Dispatcher.DispatchHandler & { onRequestSent(): void } = {
      onConnect(abort) {
        stop = abort;
        if (failure) abort(failure);
      },
      // Called by undici once the request's head and body are written to the socket.
      onRequestSent() {
        sent = true;
      },
      onHeaders(statusCode, rawHeaders) {
        status = statusCode;
        headers = util.parseHeaders(rawHeaders);
        return true;
      },
      onData(chunk) {
        size += chunk.length;
        if (size > limit) {
          fail('too_large');
          return false;
        }
        chunks.push(chunk);
        return true;
      },
      onComplete() {
        settle();
        resolve({ status, headers, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) });
      },
      onError(err) {
        settle();
        reject(failure ?? new ExchangeFailed('connection', sent, err));
      },
    };
    dispatcher.dispatch(options, handler);
  });
}

/** The words of an answer lost after the request was written (mapPlivoError looks for them). */
export const ANSWER_LOST = 'answer lost: the connection closed after the request was sent';

/** How an exchange failed, in the terms that decide what a caller may do next. */
export type FailureKind =
  /** No complete answer within the time allowed: the request may have been acted on. */
  | 'timeout'
  /** The answer was larger than allowed: the request was acted on, its result cannot be read. */
  | 'too_large'
  /** The connection closed after the request was written to it: it may have been acted on. */
  | 'answer_lost'
  /** The connection closed before the request was written: nothing reached the server. */
  | 'hang_up'
  /** No connection (refused, no route, no name): nothing reached the server. */
  | 'network';

export interface Failure {
  kind: FailureKind;
  /** The system's or undici's code where there is one. */
  code: string;
  message: string;
}

export function failureOf(e: unknown): Failure {
  if (e instanceof ExchangeFailed && e.reason !== 'connection') return { kind: e.reason, code: e.reason, message: e.message };
  if ((e as { code?: unknown } | null)?.code === 'ERR_BUFFER_TOO_LARGE') return { kind: 'too_large', code: 'too_large', message: 'answer too large' };
  const cause = e instanceof ExchangeFailed ? e.cause : e;
  const raw = (cause as { code?: unknown } | null | undefined)?.code;
  const code = typeof raw === 'string' ? raw : 'ERR_NETWORK';
  const message = cause instanceof Error ? cause.message : String(cause);
  const lost = code.startsWith('UND_ERR_SOCKET') || code === 'ECONNRESET' || code === 'EPIPE';
  if (!lost) return { kind: 'network', code, message };
  return { kind: e instanceof ExchangeFailed && e.afterSent ? 'answer_lost' : 'hang_up', code, message };
}

/**
 * What axios would have thrown. An answer lost (see FailureKind) is not a network failure that
 * reached nothing, so it has words of its own, which mapPlivoError turns into provider_timeout
 * (the outbox records `unknown` and never sends again); a hang-up is Node's "socket hang up".
 */
function asAxiosError(axios: AxiosLike, e: unknown, config: AxiosRequestConfig, request: AxiosResponse['request'], limit: number, timeoutMs: number): Error {
  const failure = failureOf(e);
  switch (failure.kind) {
    case 'timeout': {
      const message = config.timeoutErrorMessage ?? (timeoutMs > 0 ? `timeout of ${timeoutMs}ms exceeded` : 'timeout exceeded');
      return new axios.AxiosError(message, config.transitional?.clarifyTimeoutError ? 'ETIMEDOUT' : 'ECONNABORTED', config, request);
    }
    case 'too_large':
      return new axios.AxiosError(`maxContentLength size of ${limit} exceeded`, 'ERR_BAD_RESPONSE', config, request);
    case 'answer_lost':
      return new axios.AxiosError(ANSWER_LOST, 'ERR_ANSWER_LOST', config, request);
    case 'hang_up':
      return new axios.AxiosError('socket hang up', 'ECONNRESET', config, request);
    case 'network':
      return new axios.AxiosError(failure.message, failure.code, config, request);
  }
}

/** An answer's body as text. */
export function answerText(answer: Answer, limit: number = MAX_ANSWER_BYTES): string {
  return decode(answer.body, answer.headers['content-encoding'], limit);
}

/** No Accept-Encoding is sent, so answers come as they are; one compressed anyway is still read. */
function decode(raw: Buffer, encoding: string | string[] | undefined, limit: number): string {
  const bound = { maxOutputLength: limit };
  const how = (Array.isArray(encoding) ? encoding.join(',') : (encoding ?? '')).trim().toLowerCase();
  const bytes =
    how === 'gzip' || how === 'x-gzip'
      ? zlib.gunzipSync(raw, bound)
      : how === 'deflate'
        ? zlib.inflateSync(raw, bound)
        : how === 'br'
          ? zlib.brotliDecompressSync(raw, bound)
          : raw;
  const text = bytes.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
