import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpuMs } from './cpu.js';

// The kernel's DAMON (Data Access MONitor), where the machine runs it. Some virtual machines
// (ours among them) run a DAMON-based reclaim on all of physical memory: a kernel thread,
// `kdamond.N`, wakes every sampling interval (500 ms here) and walks the page tables of the pages
// it samples, up to 8,192 regions, taking a core for 10–25 ms each time. Whatever it preempts
// waits: on 2 cores that is often the server's event loop, so it shows in every latency tail the
// benchmarks measure, the bare baselines' included (test/bench/README.md, "The kernel's DAMON").
//
// The benchmarks say whether it ran and how much CPU it took. `BENCH_PAUSE_DAMON=1` turns it off
// for the run (root only) and back on at the end, on any exit (the runners turn SIGINT and SIGTERM
// into one): a diagnostic, to tell the product's own tail from the machine's. A figure measured so
// must say so.

/** Where sysfs lists the kdamonds. */
export const DAMON_ADMIN = '/sys/kernel/mm/damon/admin/kdamonds';

export interface Kdamond {
  /** The kdamond's `state` file in sysfs. */
  stateFile: string;
  state: string;
}

/** The machine's kdamonds as sysfs lists them (none where DAMON is not built in or not set up). */
export function kdamonds(admin = DAMON_ADMIN): Kdamond[] {
  let names: string[];
  try {
    names = readdirSync(admin).filter((n) => /^\d+$/.test(n));
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    const stateFile = join(admin, n, 'state');
    try {
      return [{ stateFile, state: readFileSync(stateFile, 'utf8').trim() }];
    } catch {
      return [];
    }
  });
}

/** The pids of the running kdamond threads (kernel threads named `kdamond.N`). */
export function kdamondPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (/^kdamond\.\d+$/.test(readFileSync(`/proc/${entry}/comm`, 'utf8').trim())) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** CPU the kdamonds use from now until `stop()`, as a share of one core (null: none running). */
export function kdamondCpuWindow(): { stop(): number | null } {
  const pids = kdamondPids();
  const t0 = performance.now();
  const start = pids.map((pid) => cpuMs(pid));
  return {
    stop: () => {
      if (pids.length === 0) return null;
      const used = pids.reduce((sum, pid, i) => sum + Math.max(0, (cpuMs(pid) ?? start[i] ?? 0) - (start[i] ?? 0)), 0);
      return Number((used / (performance.now() - t0)).toFixed(3));
    },
  };
}

export interface DamonControl {
  /** One line for the report: whether DAMON ran during the benchmarks. */
  describe(): string;
  /** Turns back on what was turned off (idempotent). */
  restore(): void;
}

/**
 * With `BENCH_PAUSE_DAMON=1`, turns every running kdamond off until `restore()` or the process's
 * exit; otherwise only reports. Throws when asked to pause and it cannot.
 */
export function controlDamon(
  env: NodeJS.ProcessEnv = process.env,
  admin = DAMON_ADMIN,
  write: (file: string, text: string) => void = writeFileSync,
): DamonControl {
  const running = kdamonds(admin).filter((k) => k.state === 'on');
  if (env.BENCH_PAUSE_DAMON !== '1' || running.length === 0) {
    const what = running.length === 0 ? 'not running' : `running (${running.length} kdamond${running.length > 1 ? 's' : ''}; BENCH_PAUSE_DAMON=1 pauses it for a run)`;
    return { describe: () => `kernel DAMON: ${what}`, restore: () => undefined };
  }
  const paused: Kdamond[] = [];
  const restore = (): void => {
    process.off('exit', restore);
    for (const k of paused.splice(0)) {
      try {
        write(k.stateFile, 'on');
      } catch (e) {
        console.error(`could not turn ${k.stateFile} back on: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  };
  // On any exit, process.exit() included; the runners turn SIGINT and SIGTERM into an exit after
  // their own clean-up, so a handler here would only cut that clean-up short.
  process.once('exit', restore);
  for (const k of running) {
    try {
      write(k.stateFile, 'off');
      paused.push(k);
    } catch (e) {
      restore();
      throw new Error(`BENCH_PAUSE_DAMON=1: cannot turn off ${k.stateFile} (${e instanceof Error ? e.message : String(e)}); run as root or leave it unset`);
    }
  }
  const line = `kernel DAMON: PAUSED for this run (BENCH_PAUSE_DAMON=1; ${running.length} kdamond${running.length > 1 ? 's' : ''}, on again at the end): figures without the machine's memory monitor`;
  return { describe: () => line, restore };
}
