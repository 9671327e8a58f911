import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { tempDir } from '../helpers/temp-dir.js';

// The Plivo simulator in its own process (`npm run simulator`), for the outbound variant that
// keeps the simulator's work (its API, its database, its webhook deliveries) off the node's core,
// as real Plivo is. Remembered so that the runner can kill it on any way out.

const MAIN = fileURLToPath(new URL('../../gateways/simulator/main.ts', import.meta.url));
const live = new Map<ChildProcess, () => void>();

export interface StandaloneSimulator {
  url: string;
  authId: string;
  authToken: string;
  pid: number | undefined;
  close(): Promise<void>;
}

/** `retryScale` multiplies Plivo's webhook retry schedule (60/120/240 s); 0.001 by default. */
export async function startStandaloneSimulator(env: { deliveryDelayMs: number; retryScale?: number }): Promise<StandaloneSimulator> {
  const dir = tempDir('switchboard-bench-sim-');
  const authId = `MA${randomBytes(9).toString('hex').toUpperCase()}`;
  const authToken = randomBytes(24).toString('base64url');
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    env: {
      ...process.env,
      SIMULATOR_PORT: '0',
      SIMULATOR_HOST: '127.0.0.1',
      SIMULATOR_DATA_DIR: dir.path,
      SIMULATOR_AUTH_ID: authId,
      SIMULATOR_AUTH_TOKEN: authToken,
      SIMULATOR_DELIVERY_DELAY_MS: String(env.deliveryDelayMs),
      SIMULATOR_RETRY_SCALE: String(env.retryScale ?? 0.001),
      LOG_LEVEL: 'silent',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  live.set(child, () => dir.remove());
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      live.delete(child);
      resolve();
    }),
  );
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`standalone simulator did not start: ${out}`)), 20_000);
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString('utf8');
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`standalone simulator exited (${code}): ${out}`));
      });
    });
    child.stdout!.resume();
    return {
      url,
      authId,
      authToken,
      pid: child.pid,
      close: async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
          await exited;
          clearTimeout(timer);
        }
        dir.remove();
      },
    };
  } catch (e) {
    child.kill('SIGKILL');
    await exited;
    dir.remove();
    throw e;
  }
}

export function killAllSimulators(): void {
  for (const [child, removeDir] of live) {
    if (child.exitCode === null) child.kill('SIGKILL');
    removeDir();
  }
  live.clear();
}
