import { readdirSync, readFileSync } from 'node:fs';
import { cpuMs } from '../cpu.js';

// Small measuring helpers shared by the WebSocket benchmarks: latency summaries, CPU time and
// resident memory of a process (Linux /proc), and the result table.

/** One line of the benchmark table: the same row as the other benchmarks'. */
export type { ResultRow as Row } from '../report.js';
import type { ResultRow as Row } from '../report.js';

export function row(r: Omit<Row, 'ratio'>): Row {
  return { ...r, ratio: r.baseline ? r.figure / r.baseline : null };
}

export interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles of `values` (milliseconds), rounded to microseconds. */
export function summarize(values: ArrayLike<number>): Summary {
  const n = values.length;
  if (n === 0) return { n: 0, p50: NaN, p90: NaN, p99: NaN, p999: NaN, max: NaN, mean: NaN };
  const sorted = Float64Array.from(values).sort();
  const at = (q: number): number => round(sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  return { n, p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: round(sorted[n - 1]!), mean: round(sum / n) };
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

/** A growable list of float samples without per-sample allocation. */
export class Samples {
  private a = new Float64Array(1024);
  length = 0;
  push(x: number): void {
    if (this.length === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.length++] = x;
  }
  values(): Float64Array {
    return this.a.subarray(0, this.length);
  }
}

const TICKS_PER_SECOND = 100;

/** CPU milliseconds (user + system) used by `pid` so far, or null if it is gone. */
export const cpuMsOf = (pid: number): number | null => cpuMs(pid);

/** CPU milliseconds all cores of the machine spent busy so far (/proc/stat). */
export function machineBusyMs(): number | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const busy = f.slice(0, 8).reduce((a, b) => a + b, 0) - (f[3] ?? 0) - (f[4] ?? 0);
    return (busy * 1000) / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/**
 * Share of one core each process used between `start()` and `stop()` (1 = one core busy), plus
 * `machine` (all processes, all cores) and `others` (machine minus the listed processes): on a
 * shared machine, other people's work competes for the same two cores.
 */
export function cpuWindow(pids: Record<string, number>): { stop(): Record<string, number | null> } {
  const t0 = performance.now();
  const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMsOf(pid)]));
  const machine0 = machineBusyMs();
  return {
    stop: () => {
      const wall = performance.now() - t0;
      const share = (a: number | null | undefined, b: number | null): number | null => (a == null || b == null ? null : Math.round(((b - a) / wall) * 100) / 100);
      const out: Record<string, number | null> = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, share(before[k], cpuMsOf(pid))]));
      const machine = share(machine0, machineBusyMs());
      out.machine = machine;
      const ours = Object.keys(pids).reduce<number | null>((s, k) => (s === null || out[k] == null ? null : s + out[k]!), 0);
      out.others = machine === null || ours === null ? null : Math.max(0, Math.round((machine - ours) * 100) / 100);
      return out;
    },
  };
}

/** VmRSS of `pid` in KiB (from /proc/<pid>/status). */
export function vmRssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

/** Open file descriptors of `pid` (null if it is gone). */
export function fdCount(pid: number): number | null {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

function fmt(n: number | null): string {
  if (n === null || !Number.isFinite(n)) return '—';
  const abs = Math.abs(n);
  return abs >= 100 ? n.toFixed(0) : abs >= 10 ? n.toFixed(1) : abs >= 1 ? n.toFixed(2) : n.toFixed(3);
}

export function formatTable(rows: Row[]): string {
  const header = ['benchmark', 'figure', 'unit', 'baseline', 'ratio', 'goal', 'result'];
  const body = rows.map((r) => [r.name, fmt(r.figure), r.unit, fmt(r.baseline), r.ratio === null ? '—' : `${fmt(r.ratio)}×`, r.goal, r.pass === null ? '' : r.pass ? 'PASS' : 'FAIL']);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const numeric = new Set([1, 3, 4]);
  const line = (cells: string[]): string => cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}
