import { describe, expect, it } from 'vitest';
import { testConfig } from '../../src/config.js';
import { startSwitchboard } from '../../gateways/server.js';
import { isLoopbackHost } from '../../gateways/http/listen.js';
import { Http } from '../helpers/http.js';
import { capturingLogger } from '../helpers/logs.js';
import { FAST_ENV } from '../helpers/switchboard.js';
import { tempDir } from '../helpers/temp-dir.js';
import { startSimulatorServer } from '../helpers/simulator-server.js';
import { silentLogger } from '../../src/logger.js';

// The simulator's handset routes have no authentication: whoever reaches them reads any phone's
// texts and texts in as anyone. Served on a loopback address, elsewhere only when asked for.

const HANDSET = '+16175550101';
const OWNER = { OWNER_EMAIL: 'owner@college.edu', OWNER_PASSWORD: 'correct horse battery' };

async function meOf(http: Http) {
  const session = await http.post('/api/v1/sessions', { email: OWNER.OWNER_EMAIL, password: OWNER.OWNER_PASSWORD });
  expect(session.status).toBe(201);
  const me = await http.get('/api/v1/me', session.body.token);
  expect(me.status).toBe(200);
  return me;
}

async function handsets(env: Record<string, string>) {
  const dir = tempDir();
  const { log, lines } = capturingLogger();
  const sb = await startSwitchboard(testConfig({ ...FAST_ENV, DATA_DIR: dir.path, ...OWNER, ...env }), log);
  const http = new Http(sb.url); // 127.0.0.1 also when listening on 0.0.0.0
  try {
    // What the web client reads to show its student-phone panel.
    const { simulator } = (await meOf(http)).body;
    const inbox = await http.get(`/simulator/messages?number=${encodeURIComponent(HANDSET)}`);
    const textIn = await http.post('/simulator/messages', { from: HANDSET, to: '+16175550199', text: 'hi' });
    const call = await http.post('/simulator/calls', { from: HANDSET, to: '+16175550199' });
    // The simulator's Plivo API stays, behind the simulator's own credentials.
    const plivoApi = await http.get(`/simulator/plivo/v1/Account/${sb.simulator!.authId}/Number/`);
    const said = lines.map((l) => String(l['msg'])).filter((m) => m.startsWith('simulator handset routes'));
    // A route that is not there answers the router's own 404; a handset's answer may be a 404 too.
    const routed = [inbox, textIn, call].map((r) => !(r.status === 404 && /^No route for/.test(String(r.body?.error?.message))));
    return { routed, inbox: inbox.status, plivoApi: plivoApi.status, served: sb.simulatorHandsets, said, simulator };
  } finally {
    await sb.close();
    dir.remove();
  }
}

describe('simulator handset routes', () => {
  it('are not served on a non-loopback address unless SIMULATOR_ROUTES=true, and the start-up log says why', async () => {
    const hidden = await handsets({ HOST: '0.0.0.0' });
    expect(hidden.routed).toEqual([false, false, false]);
    expect(hidden.plivoApi).toBe(401);
    expect(hidden.served).toBe(false);
    expect(hidden.said).toEqual([expect.stringContaining('off: HOST 0.0.0.0 is not a loopback address')]);
    expect(hidden.simulator).toEqual({ handsetRoutes: false });

    const asked = await handsets({ HOST: '0.0.0.0', SIMULATOR_ROUTES: 'true' });
    expect(asked.routed).toEqual([true, true, true]);
    expect(asked.inbox).toBe(200);
    expect(asked.said).toEqual([expect.stringContaining('non-loopback address (SIMULATOR_ROUTES=true)')]);
    expect(asked.simulator).toEqual({ handsetRoutes: true });
  });

  it('are served on a loopback address, unless SIMULATOR_ROUTES=false', async () => {
    const local = await handsets({ HOST: '127.0.0.1' });
    expect(local.routed).toEqual([true, true, true]);
    expect(local.said).toEqual([expect.stringContaining('HOST 127.0.0.1 is a loopback address')]);
    expect(local.simulator).toEqual({ handsetRoutes: true });
    const off = await handsets({ HOST: '127.0.0.1', SIMULATOR_ROUTES: 'false' });
    expect(off.routed).toEqual([false, false, false]);
    expect(off.simulator).toEqual({ handsetRoutes: false });
  });

  it('do not exist on real Plivo, and GET /me says the server is not on the simulator', async () => {
    const plivo = await startSimulatorServer();
    const dir = tempDir();
    const { authId, authToken } = plivo.sim.credentials;
    const sb = await startSwitchboard(testConfig({ ...FAST_ENV, DATA_DIR: dir.path, ...OWNER, PLIVO_AUTH_ID: authId, PLIVO_AUTH_TOKEN: authToken, PLIVO_API_URL: plivo.apiUrl }), silentLogger);
    try {
      const http = new Http(sb.url);
      expect((await meOf(http)).body.simulator).toBeNull();
      expect((await http.get(`/simulator/messages?number=${encodeURIComponent(HANDSET)}`)).status).toBe(404);
    } finally {
      await sb.close();
      dir.remove();
      await plivo.close();
    }
  });

  it('count localhost, 127.0.0.0/8 and ::1 as loopback, nothing else', () => {
    for (const host of ['localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) expect([host, isLoopbackHost(host)]).toEqual([host, true]);
    for (const host of ['0.0.0.0', '::', '10.0.0.5', '192.168.1.2', 'example.edu', '128.0.0.1', 'localhost.example.edu']) expect([host, isLoopbackHost(host)]).toEqual([host, false]);
  });
});
