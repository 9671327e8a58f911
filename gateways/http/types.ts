// The gateway's own request/response shapes: plain data copied out of uWS before any await (uWS
// request objects die with their callback), so handlers are ordinary async functions.

export interface HttpRequest {
  method: string;
  /** Path without the query string, undecoded. */
  path: string;
  /** The raw query string (without '?'). */
  rawQuery: string;
  query: URLSearchParams;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  /** Path parameters captured by the router (decoded). */
  params: Record<string, string>;
  body: Buffer;
  /**
   * The client's address, read from the socket when first asked: uWS asks the kernel each time
   * (getpeername), a system call most routes have no use for. '' once the client went away.
   */
  remoteAddress(): string;
}

export interface HttpResult {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export type Handler = (req: HttpRequest) => Promise<HttpResult> | HttpResult;

export function json(status: number, value: unknown, headers: Record<string, string> = {}): HttpResult {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers }, body: JSON.stringify(value) };
}

export function text(status: number, body: string, contentType = 'text/plain; charset=utf-8'): HttpResult {
  return { status, headers: { 'content-type': contentType }, body };
}

export const noContent: HttpResult = { status: 204 };
