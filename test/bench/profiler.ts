import { Session } from 'node:inspector/promises';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

// BENCH_PROFILE=<dir> npm run bench: a V8 CPU profile of the server process during each measured
// phase only (not set-up, not the baselines), one .cpuprofile per phase, for Chrome DevTools or
// speedscope. With BENCH_ALLOCATIONS=true as well, V8's sampling heap profiler runs over the same
// phase (what was allocated where, one sample per 64 KiB on average), written as .heapprofile next
// to it; `npx tsx test/bench/heap-summary.ts <file>.heapprofile` sums it by function. Without
// the variables this costs nothing.

const dir = process.env.BENCH_PROFILE ? resolve(process.env.BENCH_PROFILE) : null;
const allocations = process.env.BENCH_ALLOCATIONS === 'true';

export async function profiled<T>(name: string, fn: () => Promise<T>): Promise<T> {
  if (!dir) return fn();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  if (allocations) {
    await session.post('HeapProfiler.enable');
    // Objects a scavenge collects are kept in the profile too: what is allocated, not what lives.
    await session.post('HeapProfiler.startSampling', { samplingInterval: 65_536, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  }
  try {
    return await fn();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    const heap = allocations ? (await session.post('HeapProfiler.stopSampling')).profile : null;
    session.disconnect();
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${name}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    console.log(`\n  profile of ${name}: ${file}`);
    if (heap) {
      const heapFile = join(dir, `${name}.heapprofile`);
      writeFileSync(heapFile, JSON.stringify(heap));
      console.log(`  allocations of ${name}: ${heapFile}`);
    }
  }
}
