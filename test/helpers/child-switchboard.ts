import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Http } from './http.js';

// Switchboard as `npm start` runs it, in a child process, so that a test can kill it with SIGKILL
// (no shutdown code runs, nothing is flushed: what a crash or `kill -9` leaves) and start it again
// on the same data directory; or, given `compiledMain`, as the image runs it (`node
// dist/gateways/main.js`, no TypeScript loader). Every child still running when a test ends is
// killed by `killAll`.

const MAIN = fileURLToPath(new URL('../../gateways/main.ts', import.meta.url));
const running = new Set<ChildProcess>();

export interface ChildSwitchboard {
  url: string;
  http: Http;
  pid: number;
  /** SIGKILL, resolved once the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM (a clean shutdown), resolved once the process is gone. */
  stop(): Promise<void>;
}

/** `startTimeoutMs`: how long to wait for it to run (30 s; a loaded machine starts seven processes slower). */
export async function spawnSwitchboard(env: Record<string, string>, o: { compiledMain?: string; startTimeoutMs?: number } = {}): Promise<ChildSwitchboard> {
  const startTimeoutMs = o.startTimeoutMs ?? 30_000;
  const child = spawn(process.execPath, o.compiledMain ? [o.compiledMain] : ['--import', 'tsx', MAIN], {
    env: {
      ...process.env,
      // Empty counts as unset: a MongoDB or Plivo of the developer's shell must not leak in.
      MONGODB_URI: '',
      PLIVO_APP_ID: '',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      DEMO_SEED: 'false',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    child.once('exit', () => {
      running.delete(child);
      resolve();
    });
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Switchboard did not start within ${startTimeoutMs / 1000} s:\n${output}`)), startTimeoutMs);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      const m = /Switchboard is running at (http:\/\/\S+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`Switchboard exited (${code ?? signal}) before it was running:\n${output}`));
    });
  }).catch(async (e: unknown) => {
    child.kill('SIGKILL');
    await exited;
    throw e;
  });
  const end = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return { url, http: new Http(url), pid: child.pid!, kill: () => end('SIGKILL'), stop: () => end('SIGTERM') };
}

export async function killAll(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}
