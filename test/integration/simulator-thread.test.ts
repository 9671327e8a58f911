import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isMainThread, threadId, type Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../../src/domain/types.js';
import { silentLogger } from '../../src/logger.js';
import { PlivoProvider } from '../../src/sms/plivo-provider.js';
import { SimulatorThread } from '../../gateways/simulator/simulator-thread.js';
import { startTestSwitchboard, type TestSwitchboard } from '../helpers/switchboard.js';
import { buildOrg, type Org } from '../helpers/org.js';
import { tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/wait.js';

// The in-process simulator on a worker thread (SIMULATOR_THREAD=true): Plivo's side of a send (its
// API, database and signed webhooks) off the node's event loop, its HTTP surface unchanged on the
// node's port.

describe('a node with the simulator on a worker thread', () => {
  let t: TestSwitchboard;
  let org: Org;

  beforeAll(async () => {
    t = await startTestSwitchboard({ SIMULATOR_THREAD: 'true' });
    org = await buildOrg(t);
  });
  afterAll(async () => t?.close());

  it('runs the simulator on another thread, not on the main one', () => {
    expect(t.sb.simulatorThreadId).toEqual(expect.any(Number));
    expect(t.sb.simulatorThreadId).not.toBe(threadId);
    expect(t.sb.simulator).toBeNull();
  });

  it("texts a student through the thread's own Plivo API, and hears back delivered through its signed webhooks", async () => {
    const student = org.students[0]!;
    const r = await t.http.post('/api/v1/messages', { groupAccountCode: org.account.apiCode, to: [student.phone], text: 'Your file is complete.' }, org.member.token);
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const id: string = r.body.messages[0].id;
    const delivered = await until(
      t.sb.core.events,
      async () => {
        const m = await t.sb.store.messages.get(id);
        return m?.status === 'delivered' ? m : null;
      },
      'the text delivered',
    );
    expect(delivered).toMatchObject<Partial<Message>>({ status: 'delivered', providerId: expect.any(String) });
    const phone = await t.http.get(`/simulator/messages?number=${encodeURIComponent(student.phone)}`);
    expect(phone.status).toBe(200);
    expect(phone.body.messages).toEqual([expect.objectContaining({ messageUuid: delivered.providerId, text: 'Your file is complete.' })]);
  });

  it('brings a student text in through the handset route and the node stores it', async () => {
    const student = org.students[1]!;
    const sent = await t.http.post('/simulator/messages', { from: student.phone, to: org.account.numbers[0], text: 'Is the deadline Friday?' });
    expect(sent.status, JSON.stringify(sent.body)).toBe(200);
    expect(sent.body.delivery).toMatchObject({ state: 'delivered', attempts: 1, status: 200 });
    expect(await t.sb.store.messages.getByProviderId(sent.body.messageUuid)).toMatchObject({ direction: 'inbound', fromNumber: student.phone });
  });

  it("tells the web client it runs on the simulator, so the student's phone is shown as on the main thread", async () => {
    const me = await t.http.get('/api/v1/me', org.member.token);
    expect(me.status).toBe(200);
    expect(me.body.simulator).toEqual({ handsetRoutes: true });
  });

  it('answers its Plivo API and its refusals on the node port as before', async () => {
    const denied = await t.http.get('/simulator/plivo/v1/Account/MAXXXXXXXXXXXXXXXXXX/Number/');
    expect(denied.status).toBe(401);
    expect(denied.body).toEqual({ api_id: expect.any(String), error: expect.stringContaining('Authentication failed') });
    const bad = await t.http.post('/simulator/messages', { from: 'not a number', to: org.account.numbers[0], text: 'hi' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'validation_failed', details: [{ path: 'from', message: expect.any(String) }] });
  });
});

describe('SimulatorThread', () => {
  it('carries refusals across the thread as the errors they were, and refuses calls once closed', async () => {
    expect(isMainThread).toBe(true);
    const dir = tempDir();
    const sim = await SimulatorThread.start(
      { file: join(dir.path, 'simulator.db'), deliveryDelayMs: 0, retryScale: 0, logLevel: 'silent', logBase: {} },
      silentLogger,
    );
    try {
      expect(sim.authId).toMatch(/^MA[A-Z0-9]{18}$/);
      await expect(sim.textIn({ from: '+16175550123', to: '+16175550100', text: 'hi' })).rejects.toMatchObject({
        name: 'AppError',
        code: 'not_found',
        status: 404,
      });
      await expect(sim.inbox('12')).rejects.toMatchObject({ code: 'validation_failed', details: [{ path: 'number' }] });
      expect(await sim.inbox('+16175550123')).toEqual([]);
    } finally {
      await sim.close();
      dir.remove();
    }
    await expect(sim.inbox('+16175550123')).rejects.toThrow('the simulator is closed');
  });

  it('serves its Plivo API on a loopback port of its own, and closes it with every connection still open to it', async () => {
    const dir = tempDir();
    const sim = await SimulatorThread.start(
      { file: join(dir.path, 'simulator.db'), deliveryDelayMs: 0, retryScale: 0, logLevel: 'silent', logBase: {} },
      silentLogger,
    );
    try {
      expect(sim.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const provider = new PlivoProvider({ authId: sim.authId, authToken: sim.authToken, apiUrl: sim.apiUrl, timeoutMs: 5000 });
      const appId = await provider.ensureApplication({ name: 'thread', messageUrl: 'http://127.0.0.1:9/m', answerUrl: 'http://127.0.0.1:9/v' });
      const [number] = await provider.searchNumbers({ areaCode: '617', limit: 1 });
      await provider.buyNumber(number!.number, appId);
      const { providerId } = await provider.send({ from: number!.number, to: '+16175550123', text: 'On its own port', statusCallbackUrl: 'http://127.0.0.1:9/s' });
      expect(providerId).toMatch(/^[0-9a-f-]{36}$/);
      const stranger = new PlivoProvider({ authId: sim.authId, authToken: `${sim.authToken}x`, apiUrl: sim.apiUrl, timeoutMs: 5000 });
      await expect(stranger.listOwnedNumbers()).rejects.toMatchObject({ code: 'provider_auth' });
    } finally {
      // The provider's pool keeps its connections to the worker open: closing must not wait for them.
      await sim.close();
      dir.remove();
    }
  });

  it('when its worker dies: a call in flight fails, and its Plivo API answers as an unreachable Plivo (503, retried later)', async () => {
    const dir = tempDir();
    // A message_url that never answers keeps the worker's textIn waiting for its first attempt.
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const sim = await SimulatorThread.start(
      { file: join(dir.path, 'simulator.db'), deliveryDelayMs: 0, retryScale: 0, logLevel: 'silent', logBase: {} },
      silentLogger,
    );
    try {
      const auth = `Basic ${Buffer.from(`${sim.authId}:${sim.authToken}`).toString('base64')}`;
      const api = (op: Parameters<typeof sim.api.handle>[0], id: string | undefined, body: Record<string, unknown>) =>
        sim.api.handle(op, { method: 'POST', authId: sim.authId, id, authorization: auth, contentType: 'application/json', rawQuery: '', body: Buffer.from(JSON.stringify(body)) });
      const app = await api('application.create', undefined, { app_name: 'waits', message_url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}/m` });
      expect(app.status).toBe(201);
      const bought = await api('phoneNumber.buy', '16175550100', { app_id: app.body!['app_id'] });
      expect(bought.status, JSON.stringify(bought.body)).toBe(201);

      const inFlight = sim.textIn({ from: '+16175550123', to: '+16175550100', text: 'hello?' });
      const settled = inFlight.then(
        () => 'answered',
        (e: unknown) => (e as Error).message,
      );
      // Killed as a crash would kill it (a private field: nothing else may end the worker).
      await (sim as unknown as { worker: Worker }).worker.terminate();
      expect(await settled).toBe('the simulator thread has stopped');
      const after = await api('application.create', undefined, { app_name: 'later' });
      expect(after).toEqual({ status: 503, body: { api_id: expect.any(String), error: 'the simulator thread has stopped' } });
    } finally {
      await sim.close();
      silent.closeAllConnections();
      silent.close();
      dir.remove();
    }
  });
});
