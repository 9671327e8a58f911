import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../../logger.js';
import { PlivoSimulator } from './plivo-simulator.js';
import { serializeError, type FromWorker, type SimulatorCall, type SimulatorThreadOptions, type ToWorker } from './simulator-thread.js';

// The worker side of SimulatorThread: opens the PlivoSimulator and answers the main thread's calls
// until it is told to close. Nothing else runs here.

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
    void sim.close().then(
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

send({ type: 'ready', authId: sim.authId, authToken: sim.authToken });
