import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/store.js';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { Http } from '../helpers/http.js';
import { startTestSwitchboard } from '../helpers/switchboard.js';
import { tempDir } from '../helpers/temp-dir.js';
import { refusedUpgrade } from '../helpers/ws-client.js';

// Ready means ready: until the first start has created its first owner (and the core has
// recovered its locks and set up Plivo), a correct password must not be refused as a wrong one.

const OWNER = { email: 'owner@college.edu', password: 'a-long-owner-password' };

/** The store, with its emptiness check (the first step of first-start seeding) held until released. */
function holdSeeding(store: Store): { store: Store; reached: Promise<void>; release(): void } {
  let release!: () => void;
  let reachedSeeding!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const reached = new Promise<void>((r) => (reachedSeeding = r));
  const held = new Proxy(store, {
    get(target, key) {
      if (key === 'isEmpty') {
        return async () => {
          reachedSeeding();
          await released;
          return target.isEmpty();
        };
      }
      return Reflect.get(target, key, target) as unknown;
    },
  });
  return { store: held, reached, release };
}

describe('readiness', () => {
  it('holds the API, webhooks and WebSockets with 503 not_ready until first-start seeding is done', async () => {
    const dir = tempDir();
    try {
      const hold = holdSeeding(await createSqliteStore({ file: join(dir.path, 'switchboard.db') }));
      let resolveUrl!: (url: string) => void;
      const listening = new Promise<string>((r) => (resolveUrl = r));
      const starting = startTestSwitchboard(
        { OWNER_EMAIL: OWNER.email, OWNER_PASSWORD: OWNER.password },
        { dataDir: dir.path, store: hold.store, onListening: resolveUrl },
      );
      const url = await listening;
      await hold.reached;
      const http = new Http(url);

      const ready = await http.get('/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body).toEqual({ status: 'starting' });
      expect((await http.get('/healthz')).status).toBe(200);
      expect((await http.get('/api/v1/openapi.json')).status).toBe(200);

      const login = await http.post('/api/v1/sessions', OWNER);
      expect(login.status).toBe(503);
      expect(login.body.error.code).toBe('not_ready');
      expect(login.headers.get('retry-after')).toBe('1');
      const webhook = await http.request('POST', '/webhooks/plivo/message', { body: 'From=1&To=2', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      expect(webhook.status).toBe(503);
      expect(webhook.body.error.code).toBe('not_ready');
      expect(webhook.headers.get('retry-after')).toBe('1');
      const upgrade = await refusedUpgrade(`${url.replace(/^http/, 'ws')}/ws?token=whatever`);
      expect([upgrade.status, upgrade.headers['retry-after']]).toEqual([503, '1']);

      hold.release();
      const t = await starting;
      try {
        expect(await t.http.get('/readyz')).toMatchObject({ status: 200, body: { status: 'ready' } });
        expect((await t.http.post('/api/v1/sessions', OWNER)).status).toBe(201);
        // Past the hold, an unsigned webhook is judged on its signature again.
        const forged = await t.http.request('POST', '/webhooks/plivo/message', { body: 'From=1&To=2', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
        expect(forged.body.error.code).toBe('invalid_signature');
      } finally {
        await t.close();
      }
    } finally {
      dir.remove();
    }
  });
});
