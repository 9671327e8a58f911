import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../../src/logger.js';
import { PlivoSimulator } from '../../src/sms/simulator/plivo-simulator.js';
import { serveOnNodeHttp } from '../http/node-server.js';
import { Router } from '../http/router.js';
import { registerSimulatorRoutes } from './simulator-routes.js';
import { API_MAX_BODY_BYTES, serializeError, type FromWorker, type SimulatorCall, type SimulatorThreadOptions, type ToWorker } from './simulator-thread.js';

// The worker side of SimulatorThread: opens the PlivoSimulator, serves its Plivo API on a loopback
// port of its own (the node's provider calls it there, so the node's event loop does none of
// Plivo's side of a send, as with Plivo itself), and answers the main thread's calls until it is
// told to close. Nothing else runs here.

const port = parentPort;
if (!port) throw new Error('simulator-worker runs only as a worker thread (see simulator-thread.ts)');
const options = workerData as SimulatorThreadOptions;
const log = createLogger(options.logLevel, options.logBase);
const sim = await PlivoSimulator.open({
  file: options.file,
  deliveryDelayMs: options.deliveryDelayMs,
  retryScale: options.retryScale,
  log,
});

// The Plivo API only (no handsets: those stay on the node's port, where SIMULATOR_ROUTES decides).
const router = new Router();
registerSimulatorRoutes(router, sim, { apiPrefix: '', handsets: false });
const api = await serveOnNodeHttp(router, { host: '127.0.0.1', port: 0, maxBodyBytes: API_MAX_BODY_BYTES, log });

const send = (m: FromWorker): void => port.postMessage(m);

function run(c: SimulatorCall): Promise<unknown> | unknown {
  switch (c.method) {
    case 'api':
      return sim.api.handle(...c.args);
    case 'textIn':
      return sim.textIn(...c.args);
    case 'inbox':
      return sim.inbox(...c.args);
    case 'placeCall':
      return sim.placeCall(...c.args);
  }
}

port.on('message', (m: ToWorker) => {
  if (m.type === 'close') {
    void api.close().then(() => sim.close()).then(
      () => port.close(),
      (e: unknown) => {
        log.error({ err: e }, 'closing the simulator failed');
        port.close();
      },
    );
    return;
  }
  const { id } = m;
  Promise.resolve()
    .then(() => run(m))
    .then(
      (value) => send({ type: 'result', id, ok: true, value }),
      (e: unknown) => send({ type: 'result', id, ok: false, error: serializeError(e) }),
    );
});

send({ type: 'ready', authId: sim.authId, authToken: sim.authToken, apiUrl: `http://127.0.0.1:${api.port}` });
