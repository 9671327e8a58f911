import { Session } from 'node:inspector/promises';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

// BENCH_PROFILE=<dir> npm run bench: a V8 CPU profile of the server process during each measured
// phase only (not set-up, not the baselines), one .cpuprofile per phase, for Chrome DevTools or
// speedscope. Without the variable this costs nothing.

const dir = process.env.BENCH_PROFILE ? resolve(process.env.BENCH_PROFILE) : null;

export async function profiled<T>(name: string, fn: () => Promise<T>): Promise<T> {
  if (!dir) return fn();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  try {
    return await fn();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${name}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    console.log(`\n  profile of ${name}: ${file}`);
  }
}
