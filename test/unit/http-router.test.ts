import uWS from 'uWebSockets.js';
import { afterEach, describe, expect, it } from 'vitest';
import { listen, type Listening } from '../../gateways/http/listen.js';
import { Router } from '../../gateways/http/router.js';
import type { HttpRequest } from '../../gateways/http/types.js';
import { silentLogger } from '../../src/logger.js';

// The router on a real uWS server (port 0), for what handlers get from the request.

let listening: Listening | undefined;
afterEach(() => listening?.close());

async function mount(register: (router: Router) => void): Promise<string> {
  const app = uWS.App();
  const router = new Router();
  register(router);
  router.mount(app, { maxBodyBytes: 1024, log: silentLogger });
  listening = await listen(app, '127.0.0.1', 0);
  return `http://127.0.0.1:${listening.port}`;
}

describe('Router', () => {
  it("gives a handler the client's address when asked, and '' once the request is answered", async () => {
    let kept: HttpRequest | undefined;
    const base = await mount((router) => {
      router.get('/whoami', (req) => ({ status: 200, body: req.remoteAddress() }));
      router.get('/later', (req) => {
        kept = req;
        return { status: 204 };
      });
    });
    const res = await fetch(`${base}/whoami`);
    expect(await res.text()).toBe('127.0.0.1');
    await fetch(`${base}/later`);
    // The uWS response behind it is gone: asking now must not touch it.
    expect(kept!.remoteAddress()).toBe('');
  });
});
