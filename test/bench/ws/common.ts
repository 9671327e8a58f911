import { setTimeout as delay } from 'node:timers/promises';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { forkChild, type Child } from './ipc.js';
import { cpuMsOf, machineBusyMs, type Row } from './stats.js';

// What the three WebSocket benchmarks share: forking the server and load processes, and the
// shape of their outcome.

export const SERVER_PROC = new URL('./server-proc.ts', import.meta.url);
export const LOAD_PROC = new URL('./load-proc.ts', import.meta.url);

export interface WsBenchContext {
  runs: number;
  /** Write a V8 CPU profile of the server during each measured Switchboard phase here. */
  profileDir: string | null;
  log: (line: string) => void;
  /** How long, in all, the suite may still wait for a quiet machine (see waitForQuiet). */
  quietBudgetMs: number;
}

export interface WsOutcome {
  name: string;
  rows: Row[];
  notes: string[];
  details: Record<string, unknown>;
}

export interface ServerChild extends Child {
  dataDir: string | null;
}

/** The process under test, with --expose-gc (memory is measured after full GCs). */
export async function startServerProcess(name: string): Promise<ServerChild> {
  // WS_BENCH_SERVER_NODE_ARGS (investigation only), e.g. "--trace-gc".
  const extra = (process.env.WS_BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = await forkChild(SERVER_PROC, name, { nodeArgs: ['--expose-gc', ...extra] });
  return Object.assign(child, { dataDir: null as string | null });
}

export function startLoadProcess(name: string): Promise<Child> {
  return forkChild(LOAD_PROC, name);
}

/** Stops the children (in parallel) and removes a server's temp dir if it could not. */
export async function stopAll(children: Array<Child | ServerChild | null | undefined>): Promise<void> {
  await Promise.allSettled(children.filter((c): c is Child => !!c).map((c) => c.stop()));
  for (const c of children) {
    const dir = (c as ServerChild | null | undefined)?.dataDir;
    if (dir && existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  }
}

export const ms = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(x >= 10 ? 1 : 2)} ms` : '—');

export function profileFile(ctx: WsBenchContext, name: string): string | null {
  return ctx.profileDir ? join(ctx.profileDir, `${name}.cpuprofile`) : null;
}

/**
 * The machine is shared: before a measured phase, wait until processes other than ours use less
 * than `threshold` of a core, sampled over a second, within what is left of the suite's waiting
 * budget (`ctx.quietBudgetMs`, so the suite stays bounded in time). Returns what the others used
 * in the last sample (cores), so the notes can say how quiet it was.
 */
export async function waitForQuiet(ctx: WsBenchContext, ours: number[], what: string, threshold = 0.25): Promise<number | null> {
  const t0 = performance.now();
  const maxWaitMs = Math.max(0, ctx.quietBudgetMs);
  let warned = false;
  for (;;) {
    const m0 = machineBusyMs();
    const o0 = ours.map((pid) => cpuMsOf(pid));
    const s0 = performance.now();
    await delay(1_000); // a measuring window, not a wait for an event
    const m1 = machineBusyMs();
    const o1 = ours.map((pid) => cpuMsOf(pid));
    const wall = performance.now() - s0;
    if (m0 === null || m1 === null) return null;
    const ourMs = o1.reduce<number>((sum, b, i) => sum + (b !== null && o0[i] != null ? b - o0[i]! : 0), 0);
    const others = Math.max(0, Math.round(((m1 - m0 - ourMs) / wall) * 100) / 100);
    if (others < threshold || performance.now() - t0 > maxWaitMs) {
      ctx.quietBudgetMs -= performance.now() - t0 - 1_000;
      if (others >= threshold) ctx.log(`  (${what}: other processes still use ${others} of a core; measuring anyway)`);
      return others;
    }
    if (!warned) {
      ctx.log(`  (${what}: other processes use ${others} of a core; waiting up to ${Math.round(maxWaitMs / 1000)} s for a quieter machine)`);
      warned = true;
    }
  }
}
