import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import { dirname } from 'node:path';
import zlib from 'node:zlib';
import uWS from 'uWebSockets.js';
import { Dispatcher } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { listen, type Listening } from '../../gateways/http/listen.js';
import { mapPlivoError, plivoConnections } from '../../src/sms/plivo-provider.js';
import { plivoDispatcher, undiciAdapter, type AxiosLike } from '../../src/sms/plivo-transport.js';

// The SDK's HTTP transport (an axios adapter on undici) against real servers on port 0: what it
// answers where axios's own adapter would have answered, for what the SDK and mapPlivoError read.

interface SdkAxios extends AxiosLike {
  (config: Record<string, unknown>): Promise<{ status: number; data: unknown }>;
  create(config: Record<string, unknown>): (config: Record<string, unknown>) => Promise<{ status: number; data: unknown }>;
  defaults: { httpAgent?: unknown; httpsAgent?: unknown };
}
const sdkRequire = createRequire(import.meta.url);
// The copy the SDK loads; importing plivo-provider above installed the adapter as its default.
const sdkAxios = sdkRequire(sdkRequire.resolve('axios', { paths: [dirname(sdkRequire.resolve('plivo'))] })) as SdkAxios;

const sdkAgents = { httpAgent: sdkAxios.defaults.httpAgent, httpsAgent: sdkAxios.defaults.httpsAgent };

const closing: Array<() => void> = [];
afterEach(() => {
  for (const close of closing.splice(0)) close();
});

async function serve(handler: (res: uWS.HttpResponse, req: uWS.HttpRequest) => void): Promise<string> {
  const app = uWS.App();
  app.any('/*', (res, req) => {
    res.onAborted(() => undefined);
    handler(res, req);
  });
  const l: Listening = await listen(app, '127.0.0.1', 0);
  closing.push(() => l.close());
  return `http://127.0.0.1:${l.port}`;
}

/** A server that reads each request's body, records it and answers `answer`. */
async function serveRecording(answer: (res: uWS.HttpResponse) => void): Promise<{ base: string; bodies: string[] }> {
  const bodies: string[] = [];
  const base = await serve((res) => {
    let body = '';
    res.onData((chunk, last) => {
      body += Buffer.from(chunk).toString();
      if (!last) return;
      bodies.push(body);
      res.cork(() => answer(res));
    });
  });
  return { base, bodies };
}

/** The SDK's way in: the default instance, JSON in, JSON out. */
const call = (url: string, extra: Record<string, unknown> = {}) =>
  sdkAxios({ url, method: 'POST', data: { src: '16175550100' }, headers: { 'Content-Type': 'application/json' }, ...extra });

describe('the Plivo SDK transport', () => {
  it('sends the JSON body and reads a JSON answer', async () => {
    const { base, bodies } = await serveRecording((res) => res.writeStatus('202 Accepted').writeHeader('content-type', 'application/json').end('{"message_uuid":["a"]}'));
    const answer = await call(`${base}/v1/Account/X/Message/`);
    expect(answer.status).toBe(202);
    expect(answer.data).toEqual({ message_uuid: ['a'] });
    expect(bodies.map((b) => JSON.parse(b))).toEqual([{ src: '16175550100' }]);
  });

  it('refuses an answer larger than the limit instead of buffering it', async () => {
    const big = Buffer.alloc(2 * 1024 * 1024, 'a');
    const base = await serve((res) => {
      res.onData(() => undefined);
      res.cork(() => res.end(big));
    });
    await expect(call(base, { maxContentLength: 1024 * 1024 })).rejects.toMatchObject({ code: 'ERR_BAD_RESPONSE', message: expect.stringContaining('maxContentLength') });
  });

  it('reads a compressed answer, and refuses one that inflates past the limit', async () => {
    const small = zlib.gzipSync('{"ok":true}');
    const bomb = zlib.gzipSync(Buffer.alloc(16 * 1024 * 1024));
    const base = await serve((res, req) => {
      const which = req.getUrl();
      res.onData(() => undefined);
      res.cork(() => res.writeHeader('content-encoding', 'gzip').writeHeader('content-type', 'application/json').end(which === '/bomb' ? bomb : small));
    });
    expect((await call(`${base}/small`)).data).toEqual({ ok: true });
    await expect(call(`${base}/bomb`, { maxContentLength: 1024 * 1024 })).rejects.toMatchObject({ code: 'ERR_BAD_RESPONSE' });
  });

  it('a connection lost after the request was written is an answer lost, which the provider records as maybe sent', async () => {
    // Plivo may have sent the text before its answer was lost: retrying it could text a student twice.
    const base = await serve((res) => {
      res.onData((_, last) => {
        if (last) res.close();
      });
    });
    const error = await call(base).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_ANSWER_LOST' });
    // The SDK rejects with the error's stack when there is no response.
    expect(mapPlivoError((error as Error).stack, 'send').code).toBe('provider_timeout');
  });

  it('a connection lost before the request was written is a socket hang up, which the provider calls unavailable', async () => {
    // Which of the two happens on a real socket is a race; a dispatcher that fails the way undici
    // fails a request it had not yet written makes it certain.
    class LostBeforeWriting extends Dispatcher {
      override dispatch(_: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
        handler.onConnect?.(() => undefined);
        queueMicrotask(() => handler.onError?.(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' })));
        return true;
      }
    }
    const viaLost = sdkAxios.create({ adapter: undiciAdapter(sdkAxios, new LostBeforeWriting(), sdkAgents) });
    const error = await viaLost({ url: 'http://127.0.0.1:1/v1/', method: 'POST', data: { a: 1 } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ECONNRESET', message: 'socket hang up' });
    expect(mapPlivoError((error as Error).stack, 'send').code).toBe('provider_unavailable');
  });

  it('a refused connection keeps the system code', async () => {
    const l = await listen(uWS.App(), '127.0.0.1', 0);
    l.close();
    await expect(call(`http://127.0.0.1:${l.port}/`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('words a timeout as axios does', async () => {
    const base = await serve(() => undefined);
    await expect(call(base, { timeout: 100 })).rejects.toMatchObject({ code: 'ECONNABORTED', message: 'timeout of 100ms exceeded' });
    await expect(call(base, { timeout: 100, transitional: { clarifyTimeoutError: true } })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
  });

  it('hands what it does not carry (here a binary body) to axios\'s own adapter', async () => {
    const { base, bodies } = await serveRecording((res) => res.end('{}'));
    let connects = 0;
    const onConnect = (): void => {
      connects++;
    };
    plivoConnections.on('connect', onConnect);
    try {
      await call(base, { data: Buffer.from('raw bytes'), headers: { 'Content-Type': 'application/octet-stream' } });
    } finally {
      plivoConnections.off('connect', onConnect);
    }
    expect(bodies).toEqual(['raw bytes']);
    expect(connects).toBe(0);
  });

  it('goes through the proxy the environment names', async () => {
    const { base } = await serveRecording((res) => res.end('{"via":"target"}'));
    const tunnels: string[] = [];
    const proxy = http.createServer((_, res) => res.writeHead(502).end());
    proxy.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
      tunnels.push(req.url ?? '');
      const [host, port] = (req.url ?? '').split(':');
      const upstream = net.connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    closing.push(() => {
      proxy.closeAllConnections();
      proxy.close();
    });
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
    const dispatcher = plivoDispatcher({ HTTP_PROXY: proxyUrl, HTTPS_PROXY: proxyUrl });
    const viaProxy = sdkAxios.create({
      adapter: undiciAdapter(sdkAxios, dispatcher, sdkAgents),
    });
    try {
      const answer = await viaProxy({ url: `${base}/v1/`, method: 'POST', data: { a: 1 } });
      expect(answer.data).toEqual({ via: 'target' });
      expect(tunnels).toEqual([new URL(base).host]);
    } finally {
      await dispatcher.close();
    }
  });
});
