import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './api-schema.js';
import { FrameError } from './live.js';

// The REST client, typed from docs/openapi.json (api-schema.d.ts is generated from it by
// `npm run docs`): a route, parameter or field the description does not publish does not compile.

export type Schemas = components['schemas'];
export type Me = Schemas['Me'];
export type Account = Schemas['Account'];
export type Conversation = Schemas['Conversation'];
export type Message = Schemas['Message'];
export type Lock = Schemas['Lock'];

const TOKEN_KEY = 'switchboard.token';

/** The session token lives for this tab only (a reload keeps it; another tab signs in itself). */
export const session = {
  get token(): string | null {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set token(value: string | null) {
    if (value === null) sessionStorage.removeItem(TOKEN_KEY);
    else sessionStorage.setItem(TOKEN_KEY, value);
  },
};

const auth: Middleware = {
  onRequest({ request }) {
    const token = session.token;
    if (token) request.headers.set('authorization', `Bearer ${token}`);
    return request;
  },
};

export const api = createClient<paths>({ baseUrl: location.origin });
api.use(auth);

/** An error answer of the API, as docs/errors.md lists its codes. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly code: string,
    message: string,
    readonly details: Array<{ path: string; message: string }> = [],
  ) {
    super(message);
  }
}

/** Unwraps an openapi-fetch answer: the data, or an ApiError with the server's code. */
export function ok<T>(answer: { data?: T; error?: unknown; response: Response }): T {
  if (answer.data !== undefined) return answer.data;
  const body = answer.error as { error?: { code?: string; message?: string; details?: Array<{ path: string; message: string }> } } | undefined;
  if (body?.error?.code) throw new ApiError(body.error.code, body.error.message ?? body.error.code, body.error.details ?? []);
  if (answer.response.ok) return undefined as T;
  throw new ApiError('http_' + answer.response.status, `The server answered ${answer.response.status}`);
}

/** A refusal as people read it: the server's message, the fields it names, and its code. */
export function describe(e: unknown): string {
  if (e instanceof ApiError) return `${e.message}${e.details.length ? ': ' + e.details.map((d) => `${d.path} ${d.message}`).join('; ') : ''} (${e.code})`;
  if (e instanceof FrameError) return `${e.message} (${e.code})`;
  return e instanceof Error ? e.message : String(e);
}
