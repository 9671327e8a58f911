import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as plivo from 'plivo';
import uWS from 'uWebSockets.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listen, type Listening } from '../../gateways/http/listen.js';
import { Router } from '../../gateways/http/router.js';
import type { HttpResult } from '../../gateways/http/types.js';
import { registerSimulatorRoutes } from '../../gateways/simulator/simulator-routes.js';
import { ManualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/logger.js';
import { verifyPlivoSignature } from '../../src/sms/plivo-signature.js';
import { isLocalUsNumber, normalisePattern, searchInventory } from '../../src/sms/simulator/number-inventory.js';
import type { AttemptOutcome } from '../../src/sms/simulator/webhook-sender.js';
import { PlivoSimulator, type PlivoSimulatorOptions } from '../../src/sms/simulator/plivo-simulator.js';

// The simulator end to end: real HTTP receivers on port 0 for the webhooks, a ManualClock for
// every delay (delivery, retries, timeouts), SQLite files in a temp dir.

const HANDSET = '+16175550123';
const HANDSET_DIGITS = '16175550123';

interface Received {
  method: string;
  path: string;
  url: string;
  headers: Record<string, string>;
  params: Record<string, string>;
  /** The simulated time at which it arrived. */
  at: number;
}

/** An HTTP server standing in for Switchboard's webhook endpoints; records and answers. */
class Receiver {
  readonly received: Received[] = [];
  respond: (r: Received) => HttpResult | Promise<HttpResult> = () => ({ status: 200 });
  private listening!: Listening;
  private waiters: Array<() => void> = [];
  base = '';

  constructor(private readonly clock: ManualClock) {}

  async start(): Promise<this> {
    const app = uWS.App();
    const router = new Router();
    const handle = async (req: Parameters<Parameters<Router['post']>[1]>[0]): Promise<HttpResult> => {
      const params = req.method === 'GET' ? Object.fromEntries(req.query) : Object.fromEntries(new URLSearchParams(req.body.toString('utf8')));
      const r: Received = {
        method: req.method,
        path: req.path,
        url: this.base + req.path + (req.rawQuery ? `?${req.rawQuery}` : ''),
        headers: req.headers,
        params,
        at: this.clock.now(),
      };
      this.received.push(r);
      for (const w of this.waiters.splice(0)) w();
      return this.respond(r);
    };
    router.add('POST', '/*', handle).add('GET', '/*', handle);
    router.mount(app, { maxBodyBytes: 1024 * 1024, log: silentLogger });
    this.listening = await listen(app, '127.0.0.1', 0);
    this.base = `http://127.0.0.1:${this.listening.port}`;
    return this;
  }

  on(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  /** Resolves once `path` has received `count` requests; fails at the deadline. */
  async waitFor(path: string, count: number, timeoutMs = 5000): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.on(path).length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${path}: ${this.on(path).length} of ${count} requests before the deadline`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.on(path);
  }

  close(): void {
    this.listening.close();
  }
}

/** Resolves with the next webhook attempt matching `match`; fails at the deadline. */
function nextAttempt(sim: PlivoSimulator, match: (o: AttemptOutcome) => boolean, timeoutMs = 5000): Promise<AttemptOutcome> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      off();
      reject(new Error('no matching webhook attempt before the deadline'));
    }, timeoutMs);
    const off = sim.onWebhookAttempt((o) => {
      if (!match(o)) return;
      clearTimeout(t);
      off();
      resolve(o);
    });
  });
}

function expectSigned(r: Received, authToken: string): void {
  expect(verifyPlivoSignature({ method: r.method, url: r.url, params: r.params, headers: r.headers, authToken })).toMatchObject({ ok: true, scheme: 'V3' });
  const sdkParams = r.method === 'GET' ? {} : { ...r.params };
  expect(plivo.validateV3Signature(r.method, r.url, r.headers['x-plivo-signature-v3-nonce']!, authToken, r.headers['x-plivo-signature-v3']!, sdkParams)).toBe(true);
  expect(plivo.validateV3Signature(r.method, r.url, r.headers['x-plivo-signature-v3-nonce']!, authToken, r.headers['x-plivo-signature-ma-v3']!, { ...sdkParams })).toBe(true);
  expect(plivo.validateSignature(r.url, r.headers['x-plivo-signature-v2-nonce']!, r.headers['x-plivo-signature-v2']!, authToken)).toBe(true);
  expect(plivo.validateSignature(r.url, r.headers['x-plivo-signature-v2-nonce']!, r.headers['x-plivo-signature-ma-v2']!, authToken)).toBe(true);
}

describe('Plivo simulator', () => {
  let dir: string;
  let clock: ManualClock;
  let receiver: Receiver;
  let sim: PlivoSimulator;
  const open: PlivoSimulator[] = [];

  async function openSim(options: Partial<PlivoSimulatorOptions> = {}): Promise<PlivoSimulator> {
    const s = await PlivoSimulator.open({ dataDir: dir, clock, log: silentLogger, deliveryDelayMs: 1000, retryScale: 1, ...options });
    open.push(s);
    return s;
  }

  /** An application pointing at the receiver and one rented number routed to it (digits). */
  function rentNumber(s: PlivoSimulator, areaCode = '617'): { number: string; appId: string } {
    const app = s.createApplication({ app_name: 'switchboard', message_url: `${receiver.base}/inbound`, answer_url: `${receiver.base}/voice` });
    const [n] = s.searchNumbers({ countryIso: 'US', pattern: areaCode, limit: 1, offset: 0 });
    s.buyNumber(n!.number, app.app_id);
    return { number: n!.number, appId: app.app_id };
  }

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sb-simulator-'));
    clock = new ManualClock();
    receiver = await new Receiver(clock).start();
    sim = await openSim();
  });

  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
    receiver.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends status callbacks queued → sent → delivered, signed, form-encoded, with Sequence 1, 2, 3', async () => {
    const { number } = rentNumber(sim);
    const { messageUuids } = sim.sendMessage({ src: number, dst: HANDSET_DIGITS, text: 'Hello', url: `${receiver.base}/status`, method: 'POST' });
    expect(messageUuids).toHaveLength(1);
    const [queued] = await receiver.waitFor('/status', 1);
    expect(queued!.params).toMatchObject({ Status: 'queued', Sequence: '1' });
    expect(sim.inbox(HANDSET)).toEqual([]);

    clock.advance(1000);
    const calls = await receiver.waitFor('/status', 3);
    expect(calls.map((c) => [c.params['Status'], c.params['Sequence']])).toEqual([
      ['queued', '1'],
      ['sent', '2'],
      ['delivered', '3'],
    ]);
    for (const c of calls) {
      expect(c.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(c.params).toMatchObject({ MessageUUID: messageUuids[0], From: number, To: HANDSET_DIGITS, Type: 'sms', Units: '1', ErrorCode: '' });
      expect(c.params['MessageTime']).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/);
      expectSigned(c, sim.authToken);
    }
    expect(calls[2]!.at - calls[0]!.at).toBe(1000);
    expect(sim.inbox(HANDSET)).toMatchObject([{ messageUuid: messageUuids[0], from: `+${number}`, to: HANDSET, text: 'Hello' }]);
  });

  it("keeps only a status callback's own fields in its row and sends the message's with them", async () => {
    const { number } = rentNumber(sim);
    const { messageUuids } = sim.sendMessage({ src: number, dst: HANDSET_DIGITS, text: 'Hello', url: `${receiver.base}/status` });
    const rows = sim.webhooksFor(messageUuids[0]!);
    expect(rows.map((r) => JSON.parse(r.params) as Record<string, string>)).toEqual([
      { Status: 'queued', Sequence: '1', ErrorCode: '' },
      { Status: 'sent', Sequence: '2', ErrorCode: '', SentTime: expect.any(String) },
      { Status: 'delivered', Sequence: '3', ErrorCode: '', SentTime: expect.any(String), DeliveryReportTime: expect.any(String) },
    ]);
    const [queued] = await receiver.waitFor('/status', 1);
    expect(Object.keys(queued!.params)).toEqual([
      'MessageUUID', 'ParentMessageUUID', 'PartInfo', 'From', 'To', 'Type', 'Status', 'Sequence', 'ErrorCode',
      'Units', 'TotalRate', 'TotalAmount', 'MCC', 'MNC', 'MessageTime', 'QueuedTime', 'PowerpackUUID', 'requester_ip',
    ]);
    expect(queued!.params).toMatchObject({ MessageUUID: messageUuids[0], From: number, To: HANDSET_DIGITS, Status: 'queued', TotalAmount: '0.00500' });
    expectSigned(queued!, sim.authToken);
  });

  it('sends a status callback that was pending across a restart with the message fields read back from its row', async () => {
    const { number } = rentNumber(sim);
    const queuedDone = nextAttempt(sim, (o) => o.kind === 'status');
    const { messageUuids } = sim.sendMessage({ src: number, dst: HANDSET_DIGITS, text: 'Hello', url: `${receiver.base}/status` });
    expect(await queuedDone).toMatchObject({ ok: true });
    const [queued] = receiver.on('/status');
    await sim.close();

    clock = new ManualClock(clock.now());
    sim = await openSim();
    clock.advance(1000);
    const [, sent, delivered] = await receiver.waitFor('/status', 3);
    const without = (params: Record<string, string>, keys: string[]) => Object.fromEntries(Object.entries(params).filter(([k]) => !keys.includes(k)));
    // Everything but the step's own fields is the message's, the same as in the callback before the restart.
    for (const later of [sent!, delivered!]) {
      expect(without(later.params, ['Status', 'Sequence', 'SentTime', 'DeliveryReportTime'])).toEqual(without(queued!.params, ['Status', 'Sequence']));
      expectSigned(later, sim.authToken);
    }
    expect(sent!.params).toMatchObject({ MessageUUID: messageUuids[0], Status: 'sent', Sequence: '2' });
    expect(delivered!.params).toMatchObject({ MessageUUID: messageUuids[0], Status: 'delivered', Sequence: '3' });
  });

  it("mints Plivo's kind of message id: a version-1 UUID, in the order the messages were made, sent and received alike", async () => {
    const { number } = rentNumber(sim);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(...sim.sendMessage({ src: number, dst: `${HANDSET_DIGITS}<1617555${String(1000 + i)}`, text: 'Hi' }).messageUuids);
      ids.push((await sim.textIn({ from: HANDSET, to: `+${number}`, text: 'Hello' })).messageUuid);
    }
    clock.advance(1);
    ids.push(...sim.sendMessage({ src: number, dst: HANDSET_DIGITS, text: 'Hi' }).messageUuids);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // Sorted as text, they keep the order they were made in: an index on them grows at its end.
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('sends one message per destination of a "<" list and reports invalid ones', () => {
    const { number } = rentNumber(sim);
    const r = sim.sendMessage({ src: number, dst: `${HANDSET_DIGITS}<+1 (617) 555-0124<12`, text: 'Hi all' });
    expect(r.messageUuids).toHaveLength(2);
    expect(r.invalidNumbers).toEqual(['12']);
  });

  it('delivers an inbound text to the message_url, signed, with Plivo parameters', async () => {
    const { number } = rentNumber(sim);
    const result = await sim.textIn({ from: HANDSET, to: `+${number}`, text: 'Is the office open?' });
    expect(result).toMatchObject({ from: HANDSET, to: `+${number}`, intent: '', units: 1, delivery: { state: 'delivered', attempts: 1, status: 200 } });
    const [r] = await receiver.waitFor('/inbound', 1);
    expect(r!.params).toEqual({
      From: HANDSET_DIGITS,
      To: number,
      Text: 'Is the office open?',
      Type: 'sms',
      MessageUUID: result.messageUuid,
      Units: '1',
      TotalRate: '0.00000',
      TotalAmount: '0.00000',
      MessageIntent: '',
      PowerpackUUID: '',
    });
    expectSigned(r!, sim.authToken);
    expect(verifyPlivoSignature({ method: 'POST', url: r!.url, params: r!.params, headers: r!.headers, authToken: 'wrong-token', allowV2: true })).toMatchObject({
      ok: false,
      reason: 'mismatch',
    });
    expect(sim.getMessage(result.messageUuid).inbound_state).toBe('delivered');
  });

  it('retries a refused inbound webhook at +60/+120/+240 s scaled by retryScale', async () => {
    await sim.close();
    sim = await openSim({ retryScale: 0.5 });
    const { number } = rentNumber(sim);
    let answers = [500, 503, 404, 200];
    receiver.respond = () => ({ status: answers.shift() ?? 200 });
    const t0 = clock.now();

    const result = await sim.textIn({ from: HANDSET, to: `+${number}`, text: 'Hello?' });
    expect(result.delivery).toMatchObject({ state: 'retrying', attempts: 1, status: 500, nextAttemptAt: new Date(t0 + 30_000).toISOString() });
    expect(sim.getMessage(result.messageUuid).inbound_state).toBe('received');

    // Nothing happens before the retry is due: the only timer left is the retry itself.
    clock.advance(29_999);
    expect(clock.pending()).toBe(1);
    const second = nextAttempt(sim, (o) => o.attempt === 2);
    clock.advance(1);
    expect(await second).toMatchObject({ ok: false, status: 503, nextAttemptAt: t0 + 30_000 + 60_000 });

    const third = nextAttempt(sim, (o) => o.attempt === 3);
    clock.advance(60_000);
    expect(await third).toMatchObject({ ok: false, status: 404, nextAttemptAt: t0 + 90_000 + 120_000 });

    const fourth = nextAttempt(sim, (o) => o.attempt === 4);
    clock.advance(120_000);
    expect(await fourth).toMatchObject({ ok: true, status: 200, settled: true });

    const calls = receiver.on('/inbound');
    expect(calls.map((c) => c.at - t0)).toEqual([0, 30_000, 90_000, 210_000]);
    for (const c of calls) {
      expect(c.params['MessageUUID']).toBe(result.messageUuid);
      expectSigned(c, sim.authToken);
    }
    expect(sim.getMessage(result.messageUuid).inbound_state).toBe('delivered');
    expect(sim.pendingWebhooks()).toEqual([]);
    answers = [];
  });

  it('gives up after three retries and marks the inbound message undelivered', async () => {
    await sim.close();
    sim = await openSim({ retryScale: 0 });
    const { number } = rentNumber(sim);
    receiver.respond = () => ({ status: 503 });
    const last = nextAttempt(sim, (o) => o.attempt === 4);
    await sim.textIn({ from: HANDSET, to: `+${number}`, text: 'Anyone?' });
    const outcome = await last;
    expect(outcome).toMatchObject({ ok: false, settled: true, nextAttemptAt: null });
    expect(receiver.on('/inbound')).toHaveLength(4);
    expect(sim.getMessage(outcome.ref).inbound_state).toBe('undelivered');
  });

  it('treats a receiver that does not answer within 8 s as a failure and retries', async () => {
    const { number } = rentNumber(sim);
    let hang = true;
    receiver.respond = () => (hang ? new Promise<HttpResult>(() => undefined) : { status: 200 });
    const reply = sim.textIn({ from: HANDSET, to: `+${number}`, text: 'slow' });
    await receiver.waitFor('/inbound', 1);
    clock.advance(7_999);
    expect(receiver.on('/inbound')).toHaveLength(1);
    clock.advance(1);
    const result = await reply;
    expect(result.delivery).toMatchObject({ state: 'retrying', attempts: 1, status: null });
    expect(result.delivery.error).toMatch(/8000 ms/);
    hang = false;
    const retried = nextAttempt(sim, (o) => o.attempt === 2);
    clock.advance(60_000);
    expect(await retried).toMatchObject({ ok: true });
  });

  it('keeps numbers, applications, credentials and pending webhooks across a restart', async () => {
    const { number, appId } = rentNumber(sim);
    const { authId, authToken } = sim.credentials;
    receiver.respond = (r) => ({ status: r.path === '/inbound' ? 500 : 200 });
    const inbound = await sim.textIn({ from: HANDSET, to: `+${number}`, text: 'before the restart' });
    expect(inbound.delivery.state).toBe('retrying');
    const queuedDone = nextAttempt(sim, (o) => o.kind === 'status');
    const { messageUuids } = sim.sendMessage({ src: number, dst: HANDSET_DIGITS, text: 'out', url: `${receiver.base}/status` });
    expect(await queuedDone).toMatchObject({ ok: true });
    await sim.close();

    clock = new ManualClock(clock.now());
    sim = await openSim();
    expect(sim.credentials).toEqual({ authId, authToken });
    expect(sim.getNumber(number)).toMatchObject({ number, app_id: appId });
    expect(sim.getApplication(appId).message_url).toBe(`${receiver.base}/inbound`);
    expect(sim.pendingWebhooks().map((w) => [w.kind, w.attempts])).toEqual([
      ['inbound', 1],
      ['status', 0],
      ['status', 0],
    ]);

    receiver.respond = () => ({ status: 200 });
    // One step at a time: a jump of the clock past 8 s while a request is in flight times it out.
    clock.advance(1000);
    const statuses = await receiver.waitFor('/status', 3);
    expect(statuses.map((s) => [s.params['MessageUUID'], s.params['Sequence'], s.params['Status']])).toEqual([
      [messageUuids[0], '1', 'queued'],
      [messageUuids[0], '2', 'sent'],
      [messageUuids[0], '3', 'delivered'],
    ]);
    const delivered = nextAttempt(sim, (o) => o.kind === 'inbound' && o.ok);
    clock.advance(59_000);
    expect(await delivered).toMatchObject({ attempt: 2, ref: inbound.messageUuid });
    expect(sim.getMessage(inbound.messageUuid).inbound_state).toBe('delivered');
    expect(sim.inbox(HANDSET).map((m) => m.text)).toEqual(['out']);
  });

  it('after STOP, sends from that number to that phone fail with error 200 (but one acknowledgement) until START', async () => {
    const { number } = rentNumber(sim);
    const stop = await sim.textIn({ from: HANDSET, to: `+${number}`, text: ' stop \n' });
    expect(stop.intent).toBe('optout');
    expect((await receiver.waitFor('/inbound', 1))[0]!.params['MessageIntent']).toBe('optout');

    // The one acknowledgement allowed within 5 minutes of the STOP goes through.
    sim.sendMessage({ src: number, dst: HANDSET_DIGITS, text: 'You are unsubscribed.' });
    clock.advance(1000);
    expect(sim.inbox(HANDSET).map((m) => m.text)).toEqual(['You are unsubscribed.']);

    const blocked = sim.sendMessage({ src: number, dst: HANDSET_DIGITS, text: 'Reminder', url: `${receiver.base}/status` });
    expect(blocked.messageUuids).toHaveLength(1);
    clock.advance(1000);
    const calls = await receiver.waitFor('/status', 2);
    expect(calls.map((c) => [c.params['Sequence'], c.params['Status'], c.params['ErrorCode']])).toEqual([
      ['1', 'queued', ''],
      ['2', 'failed', '200'],
    ]);
    expect(sim.getMessage(blocked.messageUuids[0]!)).toMatchObject({ final_state: 'failed', error_code: '200' });
    expect(sim.inbox(HANDSET).map((m) => m.text)).toEqual(['You are unsubscribed.']);

    // Another phone is not affected.
    const other = sim.sendMessage({ src: number, dst: '16175550124', text: 'Hi' });
    clock.advance(1000);
    expect(sim.inbox('+16175550124')).toHaveLength(1);

    expect((await sim.textIn({ from: HANDSET, to: `+${number}`, text: 'START' })).intent).toBe('optin');
    sim.sendMessage({ src: number, dst: HANDSET_DIGITS, text: 'Welcome back' });
    clock.advance(1000);
    expect(sim.inbox(HANDSET).map((m) => m.text)).toEqual(['You are unsubscribed.', 'Welcome back']);
    expect(other.messageUuids).toHaveLength(1);
  });

  it('allows no acknowledgement more than 5 minutes after the STOP', async () => {
    const { number } = rentNumber(sim);
    await sim.textIn({ from: HANDSET, to: `+${number}`, text: 'UNSUBSCRIBE' });
    clock.advance(5 * 60_000 + 1);
    const late = sim.sendMessage({ src: number, dst: HANDSET_DIGITS, text: 'Late confirmation' });
    clock.advance(1000);
    expect(sim.getMessage(late.messageUuids[0]!)).toMatchObject({ final_state: 'failed', error_code: '200' });
    expect(sim.inbox(HANDSET)).toEqual([]);
    expect(sim.isOptedOut(`+${number}`, HANDSET)).toBe(true);
  });

  it('sends the <Message> of an XML answer to an inbound text', async () => {
    const { number } = rentNumber(sim);
    receiver.respond = () => {
      const r = plivo.Response();
      r.addMessage('Thanks, we got it', { src: number, dst: HANDSET_DIGITS });
      return { status: 200, headers: { 'content-type': 'application/xml' }, body: r.toXML() };
    };
    await sim.textIn({ from: HANDSET, to: `+${number}`, text: 'hello' });
    clock.advance(1000);
    expect(sim.inbox(HANDSET).map((m) => m.text)).toEqual(['Thanks, we got it']);
  });

  it('answers a call from the <Dial> XML of answer_url', async () => {
    const { number } = rentNumber(sim);
    receiver.respond = () => {
      const r = plivo.Response();
      const dial = r.addDial({ callerId: number, timeout: 20 });
      dial.addNumber('16175550199');
      return { status: 200, headers: { 'content-type': 'application/xml' }, body: r.toXML() };
    };
    const call = await sim.placeCall({ from: HANDSET, to: `+${number}` });
    expect(call).toMatchObject({
      status: 'answered',
      from: HANDSET,
      to: `+${number}`,
      httpStatus: 200,
      dial: { verb: 'dial', numbers: ['+16175550199'], callerId: `+${number}`, timeout: 20 },
      error: null,
    });
    const [req] = await receiver.waitFor('/voice', 1);
    expect(req!.params).toMatchObject({ CallUUID: call.callUuid, From: HANDSET_DIGITS, To: number, CallStatus: 'ringing', Direction: 'inbound' });
    expectSigned(req!, sim.authToken);
  });

  it('answers a call from <Speak> and <Hangup>, and reports unusable XML', async () => {
    const { number } = rentNumber(sim);
    receiver.respond = () => {
      const r = plivo.Response();
      r.addSpeak('This number does not take calls. Please text us.');
      r.addHangup();
      return { status: 200, headers: { 'content-type': 'application/xml' }, body: r.toXML() };
    };
    const call = await sim.placeCall({ from: HANDSET, to: `+${number}` });
    expect(call.dial).toBeNull();
    expect(call.actions).toEqual([
      { verb: 'speak', text: 'This number does not take calls. Please text us.', voice: null, language: null },
      { verb: 'hangup', reason: null },
    ]);

    receiver.respond = () => ({ status: 200, body: '<Response><Speak>unclosed</Response>' });
    expect(await sim.placeCall({ from: HANDSET, to: `+${number}` })).toMatchObject({ status: 'failed', error: expect.stringMatching(/invalid XML/) });
  });
});

describe('Plivo simulator over HTTP', () => {
  let dir: string;
  let sim: PlivoSimulator;
  let server: Listening;
  let base: string;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sb-simulator-http-'));
    sim = await PlivoSimulator.open({ dataDir: dir, log: silentLogger, deliveryDelayMs: 0, retryScale: 0 });
    const app = uWS.App();
    const router = new Router();
    registerSimulatorRoutes(router, sim, { apiPrefix: '', handsets: true });
    router.mount(app, { maxBodyBytes: 1024 * 1024, log: silentLogger });
    server = await listen(app, '127.0.0.1', 0);
    base = `http://127.0.0.1:${server.port}`;
  });

  afterEach(async () => {
    server.close();
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const auth = (): string => `Basic ${Buffer.from(`${sim.authId}:${sim.authToken}`).toString('base64')}`;

  it('answers 401 in Plivo shape for a bad credential or another auth_id', async () => {
    const wrong = await fetch(`${base}/v1/Account/${sim.authId}/Number/`, { headers: { authorization: 'Basic Zm9vOmJhcg==' } });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ api_id: expect.any(String), error: expect.any(String) });
    const other = await fetch(`${base}/v1/Account/MAOTHERACCOUNT0000000/Number/`, { headers: { authorization: auth() } });
    expect(other.status).toBe(401);
  });

  it('takes the SDK\'s "" body on GET, form bodies on POST, and errors as {api_id, error}', async () => {
    // fetch refuses a body on GET; the SDK (axios) sends one, so use node:http as it does.
    const list = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        `${base}/v1/Account/${sim.authId}/Application/`,
        { method: 'GET', headers: { authorization: auth(), 'content-type': 'application/json', 'content-length': '2' } },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end('""');
    });
    expect(list.status).toBe(200);
    expect(JSON.parse(list.body)).toMatchObject({ meta: { total_count: 0 }, objects: [] });
    const form = await fetch(`${base}/v1/Account/${sim.authId}/Application/`, {
      method: 'POST',
      headers: { authorization: auth(), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'app_name=from-form&message_url=http%3A%2F%2Fa.test%2Fm',
    });
    expect(form.status).toBe(201);
    const { app_id } = (await form.json()) as { app_id: string };
    expect(sim.getApplication(app_id).message_url).toBe('http://a.test/m');
    const missing = await fetch(`${base}/v1/Account/${sim.authId}/Message/`, {
      method: 'POST',
      headers: { authorization: auth(), 'content-type': 'application/json' },
      body: JSON.stringify({ src: '16175550100' }),
    });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toEqual({ api_id: expect.any(String), error: expect.stringMatching(/dst/) });
    const unknown = await fetch(`${base}/v1/Account/${sim.authId}/Message/00000000-0000-0000-0000-000000000000/`, { headers: { authorization: auth() } });
    expect(unknown.status).toBe(404);
    const elsewhere = await fetch(`${base}/v1/Account/${sim.authId}/Call/`, { method: 'POST', headers: { authorization: auth() } });
    expect(elsewhere.status).toBe(404);
    expect(await elsewhere.json()).toMatchObject({ api_id: expect.any(String) });
  });

  it('validates the handset controls with clear JSON errors', async () => {
    const post = (body: unknown): Promise<Response> =>
      fetch(`${base}/simulator/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const bad = await post({ from: '617-555-0123', to: '+16175550100', text: 'hi' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 'validation_failed', details: [{ path: 'from' }] } });
    const fake = await post({ from: '+19995550123', to: '+16175550100', text: 'hi' });
    expect(await fake.json()).toMatchObject({ error: { code: 'validation_failed', details: [{ path: 'from', message: expect.stringMatching(/not a valid/) }] } });
    const missing = await post({ from: '+16175550123' });
    expect(missing.status).toBe(400);
    const notOurs = await post({ from: '+16175550123', to: '+16175550100', text: 'hi' });
    expect(notOurs.status).toBe(404);
    expect(await notOurs.json()).toMatchObject({ error: { code: 'not_found' } });
    const inbox = await fetch(`${base}/simulator/messages`);
    expect(inbox.status).toBe(400);
    const call = await fetch(`${base}/simulator/calls`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"from":"+16175550123"' });
    expect(call.status).toBe(400);
    expect(await call.json()).toMatchObject({ error: { code: 'bad_request' } });
  });

  it('texts in, and lists what a phone received, through the handset controls', async () => {
    const app = sim.createApplication({ app_name: 'nowhere' });
    const [n] = sim.searchNumbers({ countryIso: 'US', pattern: '617555', limit: 1, offset: 0 });
    expect(n!.number).toMatch(/^1617555\d{4}$/);
    sim.buyNumber(n!.number, app.app_id);
    const res = await fetch(`${base}/simulator/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ from: '+16175550123', to: `+${n!.number}`, text: 'HELP' }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ messageUuid: expect.any(String), intent: 'help', delivery: { state: 'received', attempts: 0 } });

    sim.sendMessage({ src: n!.number, dst: '16175550123', text: 'Reply STOP to opt out' });
    const inbox = await fetch(`${base}/simulator/messages?number=${encodeURIComponent('+16175550123')}`);
    expect(await inbox.json()).toMatchObject({ number: '+16175550123', messages: [{ from: `+${n!.number}`, text: 'Reply STOP to opt out' }] });
  });
});

describe('Plivo simulator number inventory', () => {
  const owned = new Set<string>();
  const search = (pattern: string, limit = 20, offset = 0): string[] =>
    searchInventory({ pattern, limit, offset, isOwned: (n) => owned.has(n) }).map((n) => n.number);

  it('stocks plausible local numbers: exchange 2-9, never N11, valid for libphonenumber', () => {
    const numbers = search('212', 20);
    expect(numbers).toHaveLength(20);
    for (const n of numbers) {
      expect(n).toMatch(/^1212[2-9]\d{6}$/);
      expect(n.slice(5, 7)).not.toBe('11');
      expect(isLocalUsNumber(n)).toBe(true);
    }
    // Spread over exchanges rather than one block.
    expect(new Set(numbers.map((n) => n.slice(4, 7))).size).toBeGreaterThan(10);
  });

  it('finds nothing for area codes that are not US local ones', () => {
    for (const npa of ['999', '555', '211', '800', '416', '123']) expect(search(npa)).toEqual([]);
    expect(search('617111')).toEqual([]);
    expect(search('617055')).toEqual([]);
  });

  it('honours a prefix of any length, with or without the country code', () => {
    expect(search('617253', 5).every((n) => n.startsWith('1617253'))).toBe(true);
    expect(search('6172534', 5).every((n) => n.startsWith('16172534'))).toBe(true);
    expect(normalisePattern('1617253')).toBe('617253');
    expect(normalisePattern('+1 (617) 253')).toBe('617253');
    expect(normalisePattern('61a')).toBeNull();
    expect(search('61', 5).every((n) => n.startsWith('161'))).toBe(true);
  });

  it('pages without overlap and skips owned numbers', () => {
    const first = search('415', 5);
    const second = search('415', 5, 5);
    expect(first.filter((n) => second.includes(n))).toEqual([]);
    owned.add(first[0]!);
    expect(search('415', 5)).toEqual([...first.slice(1), second[0]]);
    owned.clear();
  });
});
