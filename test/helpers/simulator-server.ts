import uWS from 'uWebSockets.js';
import { listen } from '../../gateways/http/listen.js';
import { Router } from '../../gateways/http/router.js';
import { registerSimulatorRoutes } from '../../gateways/simulator/simulator-routes.js';
import { silentLogger } from '../../src/logger.js';
import { PlivoSimulator } from '../../src/sms/simulator/plivo-simulator.js';
import { tempDir } from './temp-dir.js';

// The Plivo simulator over HTTP on port 0 in the test's own process, with its API under the prefix
// the app uses in-process, for the real `plivo` SDK to talk to. It outlives any server a test kills,
// and the test sees what it accepted directly (`sim`). `close()` stops it and removes its data.

export const SIMULATOR_PREFIX = '/simulator/plivo';

export interface SimulatorServer {
  sim: PlivoSimulator;
  /** http://127.0.0.1:port */
  base: string;
  /** Where PlivoProvider (PLIVO_API_URL) points. */
  apiUrl: string;
  close(): Promise<void>;
}

export async function startSimulatorServer(
  options: { deliveryDelayMs?: number; retryScale?: number; routes?: (router: Router) => void } = {},
): Promise<SimulatorServer> {
  const dir = tempDir('sb-simulator-');
  const sim = await PlivoSimulator.open({
    dataDir: dir.path,
    log: silentLogger,
    deliveryDelayMs: options.deliveryDelayMs ?? 0,
    retryScale: options.retryScale ?? 0,
  });
  const app = uWS.App();
  const router = new Router();
  registerSimulatorRoutes(router, sim, { apiPrefix: SIMULATOR_PREFIX, handsets: true });
  options.routes?.(router);
  router.mount(app, { maxBodyBytes: 1024 * 1024, log: silentLogger });
  const l = await listen(app, '127.0.0.1', 0);
  const base = `http://127.0.0.1:${l.port}`;
  return {
    sim,
    base,
    apiUrl: base + SIMULATOR_PREFIX,
    close: async () => {
      l.close();
      await sim.close();
      dir.remove();
    },
  };
}
