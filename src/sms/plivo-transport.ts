import { STATUS_CODES } from 'node:http';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { Agent, EnvHttpProxyAgent, type Dispatcher } from 'undici';

// The HTTP transport under the Plivo SDK: an axios adapter on undici's connection pools.
//
// The SDK builds every request (URL, Basic auth, JSON body), hands it to the axios copy it loads,
// and reads the answer back (camelCase, its error classes). Axios's own Node adapter turns each
// request into a node:http ClientRequest with a dozen stream listeners: measured against a local
// server (`test/bench/README.md`, "Where an outbound send's time goes"), a send cost about 250 µs
// of CPU through it and about 150 µs through this adapter, while the SDK and axios above the
// adapter are unchanged. A campaign makes one such call per text on the event loop.
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
// - a connection lost before the answer rejects as "socket hang up" (ECONNRESET), Node's words for
//   it, and a connection refused keeps the system's code;
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

class AnswerTooLarge extends Error {
  override name = 'AnswerTooLarge';
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
    const abort = new AbortController();
    let timedOut = false;
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            abort.abort();
          }, timeoutMs)
        : undefined;
    const limit = config.maxContentLength !== undefined && config.maxContentLength > -1 ? config.maxContentLength : MAX_ANSWER_BYTES;

    let response: AxiosResponse;
    try {
      const answer = await dispatcher.request({
        origin: target.origin,
        path: request.path,
        method: method as Dispatcher.HttpMethod,
        headers,
        body,
        signal: abort.signal,
      });
      const raw = await readAll(answer.body, limit);
      response = {
        data: decode(raw, answer.headers['content-encoding'], limit),
        status: answer.statusCode,
        statusText: STATUS_CODES[answer.statusCode] ?? '',
        headers: axios.AxiosHeaders.from(answer.headers),
        config,
        request,
      };
    } catch (e) {
      if (timedOut) {
        const message = config.timeoutErrorMessage ?? (timeoutMs > 0 ? `timeout of ${timeoutMs}ms exceeded` : 'timeout exceeded');
        throw new axios.AxiosError(message, config.transitional?.clarifyTimeoutError ? 'ETIMEDOUT' : 'ECONNABORTED', config, request);
      }
      if (e instanceof AnswerTooLarge || (e as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') throw new axios.AxiosError(`maxContentLength size of ${limit} exceeded`, 'ERR_BAD_RESPONSE', config, request);
      const code = (e as { code?: unknown }).code;
      if (typeof code === 'string' && code.startsWith('UND_ERR_SOCKET')) {
        throw new axios.AxiosError('socket hang up', 'ECONNRESET', config, request);
      }
      const message = e instanceof Error ? e.message : String(e);
      throw new axios.AxiosError(message, typeof code === 'string' ? code : 'ERR_NETWORK', config, request);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
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

function readAll(body: Readable, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        body.destroy();
        reject(new AnswerTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    body.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    body.once('error', reject);
  });
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
