import * as plivo from 'plivo';
import uWS from 'uWebSockets.js';
import { describe, expect, it } from 'vitest';
import { listen } from '../../gateways/http/listen.js';
import { AppError } from '../../src/errors.js';
import { mapPlivoError, PlivoProvider, plivoConnections } from '../../src/sms/plivo-provider.js';
import { SIMULATOR_PREFIX, startSimulatorServer } from '../helpers/simulator-server.js';
import { smsProviderContract, type SmsProviderFixture } from './sms-provider.contract.js';

// The real `plivo` SDK against the simulator, over HTTP on port 0, with the simulator mounted
// under the prefix the app uses in-process.

const PREFIX = SIMULATOR_PREFIX;

const startSimulator = () => startSimulatorServer({ routes: (router) => router.post('/callbacks/status', () => ({ status: 200 })) });

/** A port where nothing listens: bound and released at once. */
async function deadPort(): Promise<number> {
  const l = await listen(uWS.App(), '127.0.0.1', 0);
  l.close();
  return l.port;
}

smsProviderContract('PlivoProvider (plivo SDK) against the simulator', async (): Promise<SmsProviderFixture> => {
  const running = await startSimulator();
  const { authId, authToken } = running.sim.credentials;
  const apiUrl = running.base + PREFIX;
  const port = await deadPort();
  return {
    provider: new PlivoProvider({ authId, authToken, apiUrl, timeoutMs: 5000 }),
    withBadCredentials: new PlivoProvider({ authId, authToken: `${authToken}x`, apiUrl, timeoutMs: 5000 }),
    unreachable: new PlivoProvider({ authId, authToken, apiUrl: `http://127.0.0.1:${port}${PREFIX}`, timeoutMs: 5000 }),
    statusCallbackUrl: `${running.base}/callbacks/status`,
    appUrls: (name) => ({ name, messageUrl: `${running.base}/webhooks/plivo/message`, answerUrl: `${running.base}/webhooks/plivo/voice` }),
    close: running.close,
  };
});

/** A provider with one bought number on a fresh simulator, while the SDK's new connections are counted. */
async function sendingWithConnectionsCounted(name: string, run: (s: { send: (to: string) => Promise<unknown>; connects: () => number }) => Promise<void>): Promise<void> {
  const running = await startSimulator();
  let connects = 0;
  const onConnect = (): void => {
    connects++;
  };
  plivoConnections.on('connect', onConnect);
  try {
    const { authId, authToken } = running.sim.credentials;
    const provider = new PlivoProvider({ authId, authToken, apiUrl: running.base + PREFIX, timeoutMs: 5000 });
    const appId = await provider.ensureApplication({ name, messageUrl: `${running.base}/webhooks/plivo/message`, answerUrl: `${running.base}/webhooks/plivo/voice` });
    const [number] = await provider.searchNumbers({ areaCode: '617', limit: 1 });
    await provider.buyNumber(number!.number, appId);
    const send = (to: string) => provider.send({ from: number!.number, to, text: name, statusCallbackUrl: `${running.base}/callbacks/status` });
    await run({ send, connects: () => connects });
  } finally {
    plivoConnections.off('connect', onConnect);
    await running.close();
  }
}

describe('PlivoProvider specifics', () => {
  it('keeps every connection it opened for the next sends, even with more than 20 in flight', async () => {
    // The SDK's node:http agents kept 20 free sockets and closed the rest as answers came back, so
    // a campaign with more sends in flight opened a connection for every seventh text.
    await sendingWithConnectionsCounted('pool', async ({ send, connects }) => {
      const wave = () => Promise.all(Array.from({ length: 40 }, (_, i) => send(`+1617555${String(1000 + i)}`)));
      await wave();
      const opened = connects();
      expect(opened).toBeGreaterThan(20);
      // A connection whose answer has just been read is free again at the next turn of the loop.
      await new Promise((resolve) => setImmediate(resolve));
      await wave();
      await new Promise((resolve) => setImmediate(resolve));
      await wave();
      expect(connects()).toBe(opened);
    });
  });

  it("sends a text with the request the SDK's messages.create makes", async () => {
    // The send is made without the SDK (for its cost); this holds it to the SDK's request, so an
    // SDK upgrade that changes what Plivo is sent shows here.
    const seen: Array<{ method: string; url: string; headers: Record<string, string>; body: string }> = [];
    const app = uWS.App();
    app.any('/*', (res, req) => {
      const seenNow = { method: req.getMethod(), url: req.getUrl(), headers: {} as Record<string, string>, body: '' };
      req.forEach((k, v) => {
        seenNow.headers[k] = v;
      });
      res.onAborted(() => undefined);
      res.onData((chunk, last) => {
        seenNow.body += Buffer.from(chunk).toString();
        if (!last) return;
        seen.push(seenNow);
        const answer = { api_id: 'a', message: 'message(s) queued', message_uuid: ['6d6f2e5a-3c1e-11ef-8000-000000000001'] };
        res.cork(() => res.writeStatus('202 Accepted').writeHeader('content-type', 'application/json').end(JSON.stringify(answer)));
      });
    });
    const l = await listen(app, '127.0.0.1', 0);
    try {
      const authId = 'MAXXXXXXXXXXXXXXXXXX';
      const authToken = 'token-token';
      const sdk = new plivo.Client(authId, authToken, { url: `http://127.0.0.1:${l.port}/v1/Account/${authId}` });
      await sdk.messages.create('16175550100', '16175550123', 'Café at 5?', { url: 'http://app.test/status', method: 'POST' });
      const provider = new PlivoProvider({ authId, authToken, apiUrl: `http://127.0.0.1:${l.port}`, timeoutMs: 5000 });
      const sent = await provider.send({ from: '+16175550100', to: '+16175550123', text: 'Café at 5?', statusCallbackUrl: 'http://app.test/status' });
      expect(sent.providerId).toBe('6d6f2e5a-3c1e-11ef-8000-000000000001');
      const [bySdk, ours] = seen;
      expect(ours!.method).toBe(bySdk!.method);
      expect(ours!.url).toBe(bySdk!.url);
      expect(ours!.headers['authorization']).toBe(bySdk!.headers['authorization']);
      expect(ours!.headers['content-type']).toBe(bySdk!.headers['content-type']);
      expect(JSON.parse(ours!.body)).toEqual(JSON.parse(bySdk!.body));
    } finally {
      l.close();
    }
  });

  it('ensureApplication writes the URLs, with POST, through our own client', async () => {
    const running = await startSimulator();
    try {
      const { authId, authToken } = running.sim.credentials;
      const provider = new PlivoProvider({ authId, authToken, apiUrl: `${running.base}${PREFIX}/`, timeoutMs: 5000 });
      const id = await provider.ensureApplication({ name: 'switchboard', messageUrl: 'http://app.test/m', answerUrl: 'http://app.test/v' });
      expect(running.sim.getApplication(id)).toMatchObject({
        app_name: 'switchboard',
        message_url: 'http://app.test/m',
        message_method: 'POST',
        answer_url: 'http://app.test/v',
        answer_method: 'POST',
      });
      await provider.ensureApplication({ name: 'switchboard', messageUrl: 'http://app.test/m2', answerUrl: 'http://app.test/v2' });
      expect(running.sim.getApplication(id)).toMatchObject({ message_url: 'http://app.test/m2', answer_url: 'http://app.test/v2' });
      await expect(provider.ensureApplication({ name: 'has spaces', messageUrl: 'http://a/m', answerUrl: 'http://a/v' })).rejects.toMatchObject({
        code: 'validation_failed',
      });
    } finally {
      await running.close();
    }
  });

  it('sends the text, the callback URL and POST to the simulator', async () => {
    const running = await startSimulator();
    try {
      const { authId, authToken } = running.sim.credentials;
      const provider = new PlivoProvider({ authId, authToken, apiUrl: running.base + PREFIX, timeoutMs: 5000 });
      const appId = await provider.ensureApplication({ name: 'switchboard', messageUrl: 'http://app.test/m', answerUrl: 'http://app.test/v' });
      const [n] = await provider.searchNumbers({ areaCode: '617', limit: 1 });
      await provider.buyNumber(n!.number, appId);
      const { providerId } = await provider.send({ from: n!.number, to: '+16175550123', text: 'Café at 5?', statusCallbackUrl: `${running.base}/callbacks/status` });
      expect(running.sim.getMessage(providerId)).toMatchObject({
        from_number: n!.number.slice(1),
        to_number: '16175550123',
        text: 'Café at 5?',
        callback_url: `${running.base}/callbacks/status`,
        callback_method: 'POST',
      });
    } finally {
      await running.close();
    }
  });

  it('a server that does not answer in time is provider_timeout', async () => {
    const app = uWS.App();
    app.any('/*', (res) => {
      res.onAborted(() => undefined);
    });
    const l = await listen(app, '127.0.0.1', 0);
    try {
      const provider = new PlivoProvider({ authId: 'MAXXXXXXXXXXXXXXXXXX', authToken: 'token-token', apiUrl: `http://127.0.0.1:${l.port}`, timeoutMs: 150 });
      await expect(provider.listOwnedNumbers()).rejects.toMatchObject({ code: 'provider_timeout' });
      // A send, made without the SDK, times out the same way (and the outbox records it unknown).
      await expect(provider.send({ from: '+16175550100', to: '+16175550123', text: 'hi', statusCallbackUrl: 'http://app.test/status' })).rejects.toMatchObject({
        code: 'provider_timeout',
      });
      await expect(provider.ensureApplication({ name: 'x', messageUrl: 'http://a/m', answerUrl: 'http://a/v' })).rejects.toMatchObject({
        code: 'provider_timeout',
      });
    } finally {
      l.close();
    }
  });

  /** A send to a server that answers every request's last body chunk with `answer`. */
  async function sendTo(answer: (res: uWS.HttpResponse) => void): Promise<unknown> {
    const app = uWS.App();
    app.any('/*', (res) => {
      res.onAborted(() => undefined);
      res.onData((_, last) => {
        if (last) answer(res);
      });
    });
    const l = await listen(app, '127.0.0.1', 0);
    try {
      const provider = new PlivoProvider({ authId: 'MAXXXXXXXXXXXXXXXXXX', authToken: 'token-token', apiUrl: `http://127.0.0.1:${l.port}`, timeoutMs: 5000 });
      return await provider.send({ from: '+16175550100', to: '+16175550123', text: 'hi', statusCallbackUrl: 'http://app.test/status' }).catch((e: unknown) => e);
    } finally {
      l.close();
    }
  }

  it('a send whose connection closes after the request was written is provider_timeout: the text may be out', async () => {
    // provider_unavailable would put the text back in the queue, and a student could get it twice.
    expect(await sendTo((res) => res.close())).toMatchObject({ code: 'provider_timeout', message: expect.stringContaining('lost') });
  });

  it('a send answered with more than it may read is provider_timeout: the text may be out, its id unknown', async () => {
    const huge = Buffer.alloc(9 * 1024 * 1024, 'a');
    expect(await sendTo((res) => res.cork(() => res.writeStatus('202 Accepted').end(huge)))).toMatchObject({
      code: 'provider_timeout',
      message: expect.stringContaining('too large'),
    });
  });

  it('never follows a redirect: a send answered 307 is refused, and the text goes nowhere else', async () => {
    // A redirect from whatever answers as Plivo (a misconfigured PLIVO_API_URL, a proxy) would
    // re-post the text and the student's number to the Location, wherever it points.
    const elsewhere: string[] = [];
    const other = uWS.App();
    other.any('/*', (res, req) => {
      elsewhere.push(`${req.getMethod()} ${req.getUrl()}`);
      res.onData(() => undefined);
      res.onAborted(() => undefined);
      res.writeStatus('202 Accepted').end('{"api_id":"x","message":"message(s) queued","message_uuid":["stolen"]}');
    });
    const otherListening = await listen(other, '127.0.0.1', 0);
    const redirecting = uWS.App();
    redirecting.any('/*', (res) => {
      res.onData(() => undefined);
      res.onAborted(() => undefined);
      res.writeStatus('307 Temporary Redirect').writeHeader('location', `http://127.0.0.1:${otherListening.port}/collect/Message/`).end();
    });
    const l = await listen(redirecting, '127.0.0.1', 0);
    try {
      const provider = new PlivoProvider({ authId: 'MAXXXXXXXXXXXXXXXXXX', authToken: 'token-token', apiUrl: `http://127.0.0.1:${l.port}`, timeoutMs: 5000 });
      await expect(
        provider.send({ from: '+16175550100', to: '+16175550123', text: 'Your code is 1234', statusCallbackUrl: 'http://app.test/status' }),
      ).rejects.toMatchObject({ code: 'provider_rejected', message: expect.stringContaining('307') });
      expect(elsewhere).toEqual([]);
    } finally {
      l.close();
      otherListening.close();
    }
  });

  it('rejects numbers that are not E.164 before calling Plivo', async () => {
    const provider = new PlivoProvider({ authId: 'MAXXXXXXXXXXXXXXXXXX', authToken: 'token-token', apiUrl: 'http://127.0.0.1:9', timeoutMs: 100 });
    await expect(provider.send({ from: '6175550100', to: '+16175550123', text: 'x', statusCallbackUrl: 'http://a/s' })).rejects.toMatchObject({
      code: 'validation_failed',
    });
    await expect(provider.searchNumbers({ areaCode: '61', limit: 5 })).rejects.toMatchObject({ code: 'validation_failed' });
  });
});

describe('mapPlivoError', () => {
  // The shapes below are what the SDK 4.79 really produces (plivo.md "SDK gotchas" 4).
  const sdkError = (status: number, message: string): Error =>
    Object.assign(new Error('[HTTP] Failed'), { status, message, apiID: 'x', moreInfo: '{"text":"private words","dst":"16175550123"}' });

  it('maps statuses the SDK keeps on the error', () => {
    expect(mapPlivoError(sdkError(401, 'not authorized'), 'listOwnedNumbers').code).toBe('provider_auth');
    expect(mapPlivoError(sdkError(400, 'invalid dst'), 'send').code).toBe('provider_rejected');
    expect(mapPlivoError(sdkError(404, 'not found'), 'releaseNumber').code).toBe('provider_rejected');
    expect(mapPlivoError(sdkError(403, 'geo permission'), 'send').code).toBe('provider_rejected');
    expect(mapPlivoError(sdkError(500, 'oops'), 'send').code).toBe('provider_unavailable');
  });

  it('maps statuses the SDK only leaves in the message text', () => {
    const only = (s: number): Error => new Error(`AxiosError: Request failed with status code ${s}`);
    expect(mapPlivoError(only(429), 'send').code).toBe('provider_rate_limited');
    expect(mapPlivoError(only(402), 'send').code).toBe('provider_rejected');
    expect(mapPlivoError(only(403), 'buyNumber').code).toBe('provider_auth');
    expect(mapPlivoError(only(503), 'send').code).toBe('provider_unavailable');
  });

  it('maps the string rejections of network failures and timeouts', () => {
    expect(mapPlivoError('Error: connect ECONNREFUSED 127.0.0.1:1\n    at AxiosError.from (x.js:1:1)', 'send').code).toBe('provider_unavailable');
    expect(mapPlivoError('AxiosError: timeout of 100ms exceeded\n    at y (z.js:1:1)', 'send').code).toBe('provider_timeout');
    expect(mapPlivoError('Error: getaddrinfo ENOTFOUND api.plivo.com', 'send').code).toBe('provider_unavailable');
  });

  it('never carries moreInfo or phone numbers into the message', () => {
    const e = mapPlivoError(sdkError(400, 'dst 16175550123 is invalid'), 'send');
    expect(e).toBeInstanceOf(AppError);
    expect(e.message).not.toContain('private words');
    expect(e.message).not.toContain('16175550123');
    expect(e.cause).toBeUndefined();
  });
});
