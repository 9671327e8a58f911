import type { Principal } from '../../src/auth/principal.js';
import type { Core } from '../../src/core.js';
import type { Handler, HttpRequest, HttpResult } from '../http/types.js';
import { bearerToken } from './parse.js';

/** Wraps a handler so it runs only for an authenticated principal (401 otherwise). */
export function authed(core: Core, handler: (req: HttpRequest, p: Principal) => Promise<HttpResult> | HttpResult): Handler {
  return async (req) => handler(req, await core.auth.authenticate(bearerToken(req)));
}
