import { testConfig } from '../../src/config.js';
import { systemClock, type Clock } from '../../src/clock.js';
import { silentLogger } from '../../src/logger.js';
import { startSwitchboard, type StartOptions, type Switchboard } from '../../gateways/server.js';
import { Http } from './http.js';
import { tempDir } from './temp-dir.js';

// A whole Switchboard (uWS gateway, core, SQLite in a temp dir, the in-process Plivo simulator)
// on port 0, as `npm start` runs it, with test-friendly defaults: no send pacing, immediate
// delivery reports, fast webhook retries. `close()` stops it and removes its data.

export interface TestSwitchboard {
  sb: Switchboard;
  http: Http;
  dataDir: string;
  /** The server's clock (a simulated one when the test passed it). */
  clock: Clock;
  close(): Promise<void>;
}

export const FAST_ENV = {
  NUMBER_SEND_INTERVAL_MS: '0',
  SIMULATOR_DELIVERY_DELAY_MS: '0',
  SIMULATOR_RETRY_SCALE: '0.001',
};

export async function startTestSwitchboard(env: Record<string, string> = {}, options: StartOptions & { dataDir?: string } = {}): Promise<TestSwitchboard> {
  const dir = options.dataDir ? null : tempDir();
  const dataDir = options.dataDir ?? dir!.path;
  const config = testConfig({ ...FAST_ENV, DATA_DIR: dataDir, ...env });
  const sb = await startSwitchboard(config, silentLogger, options);
  return {
    sb,
    http: new Http(sb.url),
    dataDir,
    clock: options.clock ?? systemClock,
    close: async () => {
      await sb.close();
      dir?.remove();
    },
  };
}
