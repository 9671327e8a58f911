import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// Request/answer over the Node IPC channel between the WebSocket benchmarks' orchestrator and its
// child processes (the server under test, the load generators). Children are TypeScript files run
// by `node --import tsx`; every child is killed when the orchestrator exits, however it exits, and
// a child exits by itself when its parent goes away.

const TSX = import.meta.resolve('tsx');

interface Request {
  kind: 'call';
  id: number;
  cmd: string;
  args: unknown;
}
type Answer = { kind: 'answer'; id: number; ok: true; value: unknown } | { kind: 'answer'; id: number; ok: false; error: string };

export interface Child {
  readonly name: string;
  readonly pid: number;
  call<T = unknown>(cmd: string, args?: unknown, timeoutMs?: number): Promise<T>;
  /** Asks the child to stop, then kills it if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  readonly exited: Promise<number | null>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

/** Forks `file` (a .ts module beside this one that calls `serve`) and waits until it is ready. */
export async function forkChild(file: string | URL, name: string, options: { nodeArgs?: string[]; env?: Record<string, string> } = {}): Promise<Child> {
  installExitHook();
  const path = file instanceof URL ? fileURLToPath(file) : file;
  const child = fork(path, [], {
    execArgv: ['--import', TSX, ...(options.nodeArgs ?? [])],
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
  });
  live.add(child);
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  let seq = 0;
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      exitCode = code ?? (signal ? 128 : null);
      for (const p of pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(`${name} (pid ${child.pid}) exited (code ${code}, signal ${signal}) before answering`));
      }
      pending.clear();
      resolve(exitCode);
    });
  });
  child.on('message', (m: Answer | { kind: 'ready' }) => {
    if (m.kind !== 'answer') return;
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    clearTimeout(p.timer);
    if (m.ok) p.resolve(m.value);
    else p.reject(new Error(`${name}: ${m.error}`));
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 30 s`)), 30_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('message', (m: { kind?: string }) => {
      if (m.kind === 'ready') {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} while starting`));
    });
  }).catch((e: unknown) => {
    child.kill('SIGKILL');
    throw e;
  });

  const call = <T>(cmd: string, args?: unknown, timeoutMs = 60_000): Promise<T> => {
    if (exitCode !== undefined || !child.connected) return Promise.reject(new Error(`${name} is not running`));
    const id = ++seq;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`${name}: ${cmd} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      child.send({ kind: 'call', id, cmd, args } satisfies Request);
    });
  };

  const stop = async (graceMs = 10_000): Promise<void> => {
    if (exitCode !== undefined) return;
    try {
      await call('exit', undefined, graceMs);
    } catch {
      // it may exit before answering: fine
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };

  return { name, pid: child.pid!, call, stop, exited };
}

type Handler = (args: any) => unknown;

/** The child side: answers the parent's calls with `handlers`; `exit` runs `onExit` then exits. */
export function serve(handlers: Record<string, Handler>, onExit: () => Promise<void> | void = () => undefined): void {
  let exiting = false;
  const exit = async (code: number): Promise<void> => {
    if (exiting) return;
    exiting = true;
    try {
      await onExit();
    } catch (e) {
      console.error(e);
    }
    process.exit(code);
  };
  process.on('message', (m: Request) => {
    if (m?.kind !== 'call') return;
    const answer = (a: Answer): void => {
      if (process.connected) process.send!(a);
    };
    if (m.cmd === 'exit') {
      answer({ kind: 'answer', id: m.id, ok: true, value: null });
      void exit(0);
      return;
    }
    const h = handlers[m.cmd];
    if (!h) {
      answer({ kind: 'answer', id: m.id, ok: false, error: `unknown command ${m.cmd}` });
      return;
    }
    Promise.resolve()
      .then(() => h(m.args))
      .then(
        (value) => answer({ kind: 'answer', id: m.id, ok: true, value: value ?? null }),
        (e: unknown) => answer({ kind: 'answer', id: m.id, ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) }),
      );
  });
  // The parent went away (crashed, killed): nobody needs us any more.
  process.on('disconnect', () => void exit(0));
  process.on('SIGTERM', () => void exit(0));
  process.on('SIGINT', () => void exit(0));
  process.send!({ kind: 'ready' });
}
