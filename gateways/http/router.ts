import type { TemplatedApp } from 'uWebSockets.js';
import type { Logger } from '../../src/logger.js';
import { AppError, isAppError } from '../../src/errors.js';
import { BodyTooLarge, captureRequest, writeResult, type PendingRequest } from './uws-adapter.js';
import { json, type Handler, type HttpResult } from './types.js';

// A small method + path router on one uWS catch-all, so that unknown paths and wrong methods get
// our JSON errors (404 / 405) instead of uWS's empty answers. Patterns: literal segments, `:name`
// parameters, and a trailing `*` that captures the rest of the path as params['*'].

interface Route {
  method: string;
  segments: string[];
  wildcard: boolean;
  handler: Handler;
  maxBodyBytes: number | undefined;
}

export interface RouteOptions {
  /**
   * The largest body this route reads, instead of the router's `maxBodyBytes`: checked against
   * Content-Length before any byte is read, and again while the body streams in.
   */
  maxBodyBytes?: number;
}

export function errorResult(e: AppError): HttpResult {
  const body: { error: { code: string; message: string; details?: unknown } } = { error: { code: e.code, message: e.message } };
  if (e.details) body.error.details = e.details;
  return json(e.status, body, e.retryAfterSeconds === undefined ? {} : { 'retry-after': String(e.retryAfterSeconds) });
}

export class Router {
  private routes: Route[] = [];

  add(method: string, pattern: string, handler: Handler, options: RouteOptions = {}): this {
    const segments = pattern.split('/').filter(Boolean);
    const wildcard = segments.at(-1) === '*';
    if (wildcard) segments.pop();
    this.routes.push({ method: method.toUpperCase(), segments, wildcard, handler, maxBodyBytes: options.maxBodyBytes });
    return this;
  }

  get(p: string, h: Handler, o?: RouteOptions): this {
    return this.add('GET', p, h, o);
  }
  post(p: string, h: Handler, o?: RouteOptions): this {
    return this.add('POST', p, h, o);
  }
  put(p: string, h: Handler, o?: RouteOptions): this {
    return this.add('PUT', p, h, o);
  }
  patch(p: string, h: Handler, o?: RouteOptions): this {
    return this.add('PATCH', p, h, o);
  }
  delete(p: string, h: Handler, o?: RouteOptions): this {
    return this.add('DELETE', p, h, o);
  }

  /** Finds the handler for a request; `allowed` lists the methods of a path that matched otherwise. */
  match(
    method: string,
    path: string,
  ): { handler: Handler; params: Record<string, string>; maxBodyBytes: number | undefined } | { allowed: string[] } {
    const parts = path.split('/').filter(Boolean);
    const allowed: string[] = [];
    for (const r of this.routes) {
      const params = matchSegments(r, parts);
      if (!params) continue;
      if (r.method === method || (method === 'HEAD' && r.method === 'GET')) return { handler: r.handler, params, maxBodyBytes: r.maxBodyBytes };
      allowed.push(r.method);
    }
    return { allowed };
  }

  /** `admit` may refuse a request before it is routed (e.g. while the node is starting). */
  mount(app: TemplatedApp, options: { maxBodyBytes: number; log: Logger; admit?: (path: string) => AppError | null }): void {
    // The route decides how much body to read, so it is found before the first byte arrives.
    const bodyLimit = (method: string, path: string): number => this.bodyLimit(method, path, options.maxBodyBytes);
    app.any('/*', (res, req) => {
      const pending = captureRequest(res, req, bodyLimit);
      const refused = options.admit?.(pending.request.path) ?? null;
      const answer = refused ? Promise.resolve(errorResult(refused)) : this.dispatch(pending.request.method, pending.request.path, pending, options.log);
      void answer.then((result) => {
        pending.answering();
        writeResult(res, result, pending.isAborted, pending.request.method);
      });
    });
  }

  /** The largest body a request to this method and path may carry (the route's, else `fallback`). */
  bodyLimit(method: string, path: string, fallback: number): number {
    const found = this.match(method, path);
    return ('handler' in found ? found.maxBodyBytes : undefined) ?? fallback;
  }

  /** Answers a request captured by a transport other than `mount`'s (node-server.ts). */
  answer(pending: PendingRequest, log: Logger): Promise<HttpResult> {
    return this.dispatch(pending.request.method, pending.request.path, pending, log);
  }

  private async dispatch(method: string, path: string, pending: PendingRequest, log: Logger): Promise<HttpResult> {
    try {
      const found = this.match(method, path);
      if (!('handler' in found)) {
        // Drain nothing: uWS discards an unread body when we answer.
        throw found.allowed.length > 0
          ? new AppError('method_not_allowed', `${method} is not allowed here; use ${found.allowed.join(', ')}`)
          : new AppError('not_found', `No route for ${method} ${path}`);
      }
      let body: Buffer;
      try {
        body = await pending.body;
      } catch (e) {
        if (e instanceof BodyTooLarge) throw new AppError('payload_too_large', 'The request body is too large');
        throw e;
      }
      return await found.handler({ ...pending.request, params: found.params, body });
    } catch (e) {
      if (isAppError(e)) {
        if (!e.expected) log.error({ err: e, method, path }, 'request failed');
        return errorResult(e);
      }
      if (pending.isAborted()) return { status: 499 };
      log.error({ err: e, method, path }, 'unhandled error in request');
      return errorResult(new AppError('internal', 'Something went wrong on our side'));
    }
  }
}

function matchSegments(r: Route, parts: string[]): Record<string, string> | null {
  if (r.wildcard ? parts.length < r.segments.length : parts.length !== r.segments.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < r.segments.length; i++) {
    const seg = r.segments[i]!;
    const part = parts[i]!;
    if (seg.startsWith(':')) {
      let decoded: string;
      try {
        decoded = decodeURIComponent(part);
      } catch {
        return null;
      }
      params[seg.slice(1)] = decoded;
    } else if (seg !== part) {
      return null;
    }
  }
  if (r.wildcard) params['*'] = parts.slice(r.segments.length).join('/');
  return params;
}
