import type { Core } from '../../src/core.js';
import type { Router } from '../http/router.js';
import { json, noContent } from '../http/types.js';
import { authed } from './authed.js';
import { jsonBody, queryOf } from './parse.js';
import { accountView, apiKeyView, departmentView, respond, userView } from './views.js';
import * as V from '../../src/schemas/views.js';
import { ApiKeyCreate, DepartmentCreate, SessionCreate, UserCreate, UserListQuery, UserPatch } from '../../src/schemas/rest.js';
import { forbidden } from '../../src/errors.js';

export interface IdentityRoutesOptions {
  /** What GET /me says of the provider: null on real Plivo; on the simulator, whether its handset routes are served. */
  simulator: V.Me['simulator'];
}

// Sessions, the caller's own view, departments, people and API keys.
export function identityRoutes(r: Router, core: Core, base: string, o: IdentityRoutesOptions): void {
  r.post(`${base}/sessions`, async (req) => {
    const { email, password } = jsonBody(req, SessionCreate);
    const { token, user, expiresAt } = await core.auth.login(email, password, req.remoteAddress());
    return json(201, { token, expiresAt, user: userView(user) });
  });

  r.delete(
    `${base}/sessions`,
    authed(core, async (_req, p) => {
      await core.auth.logout(p);
      return noContent;
    }),
  );

  r.get(
    `${base}/me`,
    authed(core, async (_req, p) => {
      if (p.kind !== 'user') throw forbidden('GET /me is for people; an API key has no profile');
      const accounts = await core.groupAccounts.usableBy(p.user);
      return respond(200, V.Me, { user: userView(p.user), accounts: accounts.map((a) => accountView(a)), simulator: o.simulator });
    }),
  );

  r.get(
    `${base}/departments`,
    authed(core, async (_req, p) => json(200, { items: (await core.directory.listDepartments(p)).map(departmentView) })),
  );
  r.post(
    `${base}/departments`,
    authed(core, async (req, p) => json(201, departmentView(await core.directory.createDepartment(p, jsonBody(req, DepartmentCreate))))),
  );

  r.get(
    `${base}/departments/:id/api-keys`,
    authed(core, async (req, p) => json(200, { items: (await core.auth.listApiKeys(p, req.params.id!)).map(apiKeyView) })),
  );
  r.post(
    `${base}/departments/:id/api-keys`,
    authed(core, async (req, p) => {
      const { key, apiKey } = await core.auth.createApiKey(p, req.params.id!, jsonBody(req, ApiKeyCreate).name);
      // The key is shown once; only its hash is stored.
      return json(201, { key, apiKey: apiKeyView(apiKey) });
    }),
  );
  r.delete(
    `${base}/departments/:id/api-keys/:keyId`,
    authed(core, async (req, p) => {
      await core.auth.revokeApiKey(p, req.params.id!, req.params.keyId!);
      return noContent;
    }),
  );

  r.get(
    `${base}/users`,
    authed(core, async (req, p) => {
      return json(200, { items: (await core.directory.listUsers(p, queryOf(req, UserListQuery))).map(userView) });
    }),
  );
  r.post(
    `${base}/users`,
    authed(core, async (req, p) => {
      const { user, personalNumber } = await core.directory.createUser(p, jsonBody(req, UserCreate));
      return json(201, { ...userView(user), personalNumber });
    }),
  );
  r.get(`${base}/users/:id`, authed(core, async (req, p) => json(200, userView(await core.directory.getUser(p, req.params.id!)))));
  r.patch(
    `${base}/users/:id`,
    authed(core, async (req, p) => json(200, userView(await core.directory.updateUser(p, req.params.id!, jsonBody(req, UserPatch))))),
  );
}
