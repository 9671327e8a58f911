import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Command, Reply, RequestSetSpec, RunResult, RunSpec, WalkResult, WalkSpec } from './protocol.js';

// The runner's handle on a load generator process (load-generator.ts, run with tsx). Every
// generator started is remembered so that the runner can kill them all on any way out.

const GENERATOR = fileURLToPath(new URL('./load-generator.ts', import.meta.url));
const live = new Set<ChildProcess>();

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };
type CommandBody<C> = C extends Command ? Omit<C, 'id'> : never;

export class LoadGenerator {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (m: Reply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`load generator: ${m.error}`));
    });
    child.on('exit', (code, signal) => {
      live.delete(child);
      const err = new Error(`load generator exited (code ${code}, signal ${signal})`);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    });
  }

  static async start(): Promise<LoadGenerator> {
    const child = fork(GENERATOR, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    live.add(child);
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    return new LoadGenerator(child);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private call<T>(command: CommandBody<Command>): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ ...command, id } as Command, (err) => {
        if (err) {
          this.pending.delete(id);
          reject(err);
        }
      });
    });
  }

  prepare(set: string, spec: RequestSetSpec): Promise<{ count: number }> {
    return this.call({ cmd: 'prepare', set, spec });
  }

  run(spec: RunSpec): Promise<RunResult> {
    return this.call({ cmd: 'run', spec });
  }

  walk(spec: WalkSpec): Promise<WalkResult> {
    return this.call({ cmd: 'walk', spec });
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.disconnect();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 2_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Kills every generator still running (the runner's last resort on failure or a signal). */
export function killAllGenerators(): void {
  for (const child of live) {
    if (child.pid !== undefined && child.exitCode === null) child.kill('SIGKILL');
  }
  live.clear();
}
