import uWS from 'uWebSockets.js';
import { z } from 'zod';
import { createLogger } from '../../src/logger.js';
import { PlivoSimulator } from '../../src/sms/simulator/plivo-simulator.js';
import { Router } from '../http/router.js';
import { listen } from '../http/listen.js';
import { registerSimulatorRoutes } from './simulator-routes.js';

// `npm run simulator`: the Plivo simulator on its own port, for a cluster (every node points
// PLIVO_API_URL at it) or for trying the SDK by hand. The Plivo API is at the root
// (`/v1/Account/{authId}/...`), the handset controls under /simulator/.

const Env = z.object({
  SIMULATOR_PORT: z.coerce.number().int().min(0).max(65535).default(4010),
  SIMULATOR_HOST: z.string().min(1).default('127.0.0.1'),
  SIMULATOR_DATA_DIR: z.string().min(1).default('./data/simulator'),
  SIMULATOR_AUTH_ID: z.string().regex(/^[A-Z0-9]{10,40}$/i, 'must be letters and digits (10 to 40)').optional(),
  SIMULATOR_AUTH_TOKEN: z.string().min(8).optional(),
  SIMULATOR_DELIVERY_DELAY_MS: z.coerce.number().int().min(0).default(250),
  SIMULATOR_RETRY_SCALE: z.coerce.number().min(0).max(1).default(1),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

async function main(): Promise<void> {
  const cleaned = Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = Env.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${String(i.path[0])}: ${i.message}`);
    process.stderr.write(`Invalid configuration:\n${lines.join('\n')}\n`);
    process.exit(2);
  }
  const env = parsed.data;
  const log = createLogger(env.LOG_LEVEL, { component: 'simulator' });
  const sim = await PlivoSimulator.open({
    dataDir: env.SIMULATOR_DATA_DIR,
    log,
    deliveryDelayMs: env.SIMULATOR_DELIVERY_DELAY_MS,
    retryScale: env.SIMULATOR_RETRY_SCALE,
    ...(env.SIMULATOR_AUTH_ID ? { authId: env.SIMULATOR_AUTH_ID } : {}),
    ...(env.SIMULATOR_AUTH_TOKEN ? { authToken: env.SIMULATOR_AUTH_TOKEN } : {}),
  });
  const app = uWS.App();
  const router = new Router();
  // This process is the simulator: its handsets are what it is for (bind SIMULATOR_HOST with care).
  registerSimulatorRoutes(router, sim, { apiPrefix: '', handsets: true });
  router.mount(app, { maxBodyBytes: 1024 * 1024, log });
  const listening = await listen(app, env.SIMULATOR_HOST, env.SIMULATOR_PORT);

  const host = env.SIMULATOR_HOST === '0.0.0.0' || env.SIMULATOR_HOST === '::' ? '127.0.0.1' : env.SIMULATOR_HOST;
  const base = `http://${host.includes(':') ? `[${host}]` : host}:${listening.port}`;
  process.stdout.write(
    [
      `Plivo simulator listening on ${base} (data in ${env.SIMULATOR_DATA_DIR})`,
      'Point Switchboard at it with:',
      `  PLIVO_API_URL=${base}`,
      `  PLIVO_AUTH_ID=${sim.authId}`,
      `  PLIVO_AUTH_TOKEN=${sim.authToken}`,
      `Text in as a phone:  SWITCHBOARD_URL=${base} npm run text -- --from +16175550123 --to <your number> "Hi"`,
      '',
    ].join('\n'),
  );

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'Plivo simulator stopping');
    listening.close();
    void sim.close().then(
      () => process.exit(0),
      (e: unknown) => {
        log.error({ err: e }, 'simulator did not close cleanly');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((e: unknown) => {
  process.stderr.write(`Plivo simulator failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
