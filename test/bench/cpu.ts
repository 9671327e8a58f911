import { readFileSync } from 'node:fs';

// CPU time per process over a measured window, to say who was saturated: the server (this
// process), the load generator, a standalone simulator. On 2 cores, a process near 100% of one
// core is the bottleneck; the rest are waiting on it.

const TICKS_PER_SECOND = 100;

/** CPU milliseconds (user + system) used so far by this process, or by `pid` (Linux /proc). */
export function cpuMs(pid?: number): number | null {
  if (pid === undefined || pid === process.pid) {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  }
  try {
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

export interface CpuUse {
  /** Share of one core used over the window, per process label (1 = one core busy throughout). */
  cores: Record<string, number | null>;
  /** CPU milliseconds used in the window, per process label. */
  ms: Record<string, number | null>;
}

export interface CpuWindow {
  stop(): CpuUse;
}

export function cpuWindow(processes: Record<string, number | undefined>): CpuWindow {
  const t0 = performance.now();
  const start = Object.fromEntries(Object.entries(processes).map(([k, pid]) => [k, cpuMs(pid)]));
  return {
    stop: () => {
      const wall = performance.now() - t0;
      const ms: Record<string, number | null> = {};
      const cores: Record<string, number | null> = {};
      for (const [k, pid] of Object.entries(processes)) {
        const a = start[k];
        const b = cpuMs(pid);
        const used = a === null || a === undefined || b === null ? null : b - a;
        ms[k] = used === null ? null : Math.round(used);
        cores[k] = used === null ? null : Number((used / wall).toFixed(2));
      }
      return { cores, ms };
    },
  };
}

/** The main thread's CPU time and time spent runnable but waiting for a CPU (ns), from /proc/self/schedstat. */
function schedstat(): { cpuNs: number; waitNs: number } | null {
  try {
    const [cpu, wait] = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').trim().split(' ').map(Number);
    return cpu === undefined || wait === undefined ? null : { cpuNs: cpu, waitNs: wait };
  } catch {
    return null;
  }
}

export interface LoopUse {
  wallMs: number;
  /** Shares of the wall time of the server's main (JavaScript) thread. */
  onCpu: number | null;
  /** Runnable but not running: other processes had the cores (a busy, shared machine). */
  waitingForCpu: number | null;
  /** Busy (not idle in the event loop) yet neither running nor waiting for a core: blocking system calls (writes, page faults). */
  blocked: number | null;
  idle: number;
}

/**
 * Where the server's event loop spent a window: running JavaScript and SQLite, waiting for a core,
 * blocked in system calls (SQLite appends the log with write() on this thread; its fsync runs on the thread pool), or idle.
 */
export function loopWindow(): { stop(): LoopUse } {
  const t0 = performance.now();
  const elu0 = performance.eventLoopUtilization();
  const s0 = schedstat();
  return {
    stop: () => {
      const wallMs = performance.now() - t0;
      const elu = performance.eventLoopUtilization(elu0);
      const s1 = schedstat();
      const share = (x: number) => Number(x.toFixed(3));
      const idle = share(elu.idle / wallMs);
      if (!s0 || !s1) return { wallMs, onCpu: null, waitingForCpu: null, blocked: null, idle };
      const onCpu = (s1.cpuNs - s0.cpuNs) / 1e6 / wallMs;
      const waiting = (s1.waitNs - s0.waitNs) / 1e6 / wallMs;
      return { wallMs: Math.round(wallMs), onCpu: share(onCpu), waitingForCpu: share(waiting), blocked: share(Math.max(0, 1 - idle - onCpu - waiting)), idle };
    },
  };
}

const pct = (x: number | null) => (x === null ? '?' : `${Math.round(x * 100)}%`);

export function describeLoop(l: LoopUse): string {
  return `server main thread: ${pct(l.onCpu)} on CPU, ${pct(l.waitingForCpu)} waiting for a core, ${pct(l.blocked)} blocked in system calls, ${pct(l.idle)} idle`;
}
