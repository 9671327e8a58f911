import { describe, expect, it } from 'vitest';
import { startTestSwitchboard } from '../helpers/switchboard.js';
import { tempDir } from '../helpers/temp-dir.js';
import { uwsIsNative } from '../../gateways/http/listen.js';

describe('starting Switchboard', () => {
  it.runIf(process.platform === 'linux' && process.arch === 'x64')('runs on the native uWebSockets.js build, not its slow fallback', () => {
    expect(uwsIsNative()).toBe(true);
  });

  it('seeds the demo organisation once, and keeps everything across a restart', async () => {
    const dir = tempDir();
    try {
      const env = { DEMO_SEED: 'true', DEMO_PASSWORD: 'demo-password-1' };
      const first = await startTestSwitchboard(env, { dataDir: dir.path });
      expect(first.sb.demo).toMatchObject({ adminEmail: 'admin@example.edu', passwordGenerated: false });
      expect(first.sb.demo!.poolNumbers).toHaveLength(6);
      const login = await first.http.post('/api/v1/sessions', { email: 'admin@example.edu', password: 'demo-password-1' });
      expect(login.status).toBe(201);
      const me = await first.http.get('/api/v1/me', login.body.token);
      expect(me.body.accounts.map((a: { kind: string }) => a.kind)).toEqual(['personal', 'group']);
      const students = await first.http.get('/api/v1/contacts', login.body.token);
      expect(students.body.items).toHaveLength(5);
      const code = first.sb.demo!.groupAccountCode;
      await first.close();

      const second = await startTestSwitchboard(env, { dataDir: dir.path });
      expect(second.sb.demo).toBeNull();
      const again = await second.http.post('/api/v1/sessions', { email: 'admin@example.edu', password: 'demo-password-1' });
      const depts = await second.http.get('/api/v1/departments', again.body.token);
      expect(depts.body.items).toHaveLength(1);
      // The simulator kept its numbers: a student can still text the pool.
      const pool = (await second.http.get(`/api/v1/group-accounts/${code}`, again.body.token)).body.numbers as string[];
      const texted = await second.http.post('/simulator/messages', { from: '+16175550101', to: pool[0], text: 'still there?' });
      expect(texted.body.delivery.state).toBe('delivered');
      await second.close();
    } finally {
      dir.remove();
    }
  });

  it('creates the first owner from OWNER_EMAIL instead of the demo', async () => {
    const t = await startTestSwitchboard({ DEMO_SEED: 'true', OWNER_EMAIL: 'Registrar@College.edu', OWNER_PASSWORD: 'a-long-owner-password' });
    try {
      expect(t.sb.demo).toBeNull();
      const login = await t.http.post('/api/v1/sessions', { email: 'registrar@college.edu', password: 'a-long-owner-password' });
      expect(login.status).toBe(201);
      expect(login.body.user.role).toBe('owner');
      expect((await t.http.get('/api/v1/departments', login.body.token)).body.items).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it('answers health, readiness, metrics and its OpenAPI document', async () => {
    const t = await startTestSwitchboard();
    try {
      expect((await t.http.get('/healthz')).body).toEqual({ status: 'ok' });
      expect((await t.http.get('/readyz')).status).toBe(200);
      const metrics = await t.http.get('/metrics');
      expect(metrics.body).toContain('switchboard_outbox_depth');
      const doc = await t.http.get('/api/v1/openapi.json');
      expect(doc.body.paths['/api/v1/group-accounts'].post.requestBody).toBeDefined();
      const missing = await t.http.get('/api/v1/nope');
      expect(missing.status).toBe(404);
      expect(missing.body.error.code).toBe('not_found');
    } finally {
      await t.close();
    }
  });
});
