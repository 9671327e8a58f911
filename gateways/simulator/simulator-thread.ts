import { randomUUID } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { AppError, ERROR_CODES, type ErrorCode, type FieldIssue } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import type { ApiOperation, ApiRequest, ApiResponse } from '../../src/sms/simulator/plivo-api.js';
import type { HandsetMessage, TextInResult } from '../../src/sms/simulator/plivo-simulator.js';
import type { SimulatorService } from '../../src/sms/simulator/simulator-service.js';
import type { CallResult } from '../../src/sms/simulator/voice.js';

// The in-process simulator on a worker thread (the default on a machine with more than one core,
// simulatorThreadByDefault in config.ts; SIMULATOR_THREAD decides otherwise). Plivo's side of a send
// (its API, its database, its webhook deliveries with their signatures and HTTP requests) is not
// the node's work, and on the node's event loop it takes about a fifth of every send. On its own
// thread it can run on another core, as Plivo runs elsewhere. The node's own provider calls the
// Plivo API where the worker serves it, on a loopback port of its own (`apiUrl`), so the node's
// event loop makes the call as it would to Plivo and serves none of it. The simulator's routes also
// stay on the node's port, as they were, for callers outside the node: there the main thread keeps
// the HTTP edge and hands each call over by message. A send then runs on both cores, which costs
// more than it saves when no core is free: hence the event loop on a single core.
// Its webhooks reach the node over HTTP as before. The worker's clock is the system clock, so a
// node started with a simulated clock keeps the simulator on its own thread (see gateways/server.ts).

export interface SimulatorThreadOptions {
  /** The simulator's SQLite file. */
  file: string;
  deliveryDelayMs: number;
  retryScale: number;
  /** The worker logs on its own pino logger at this level, with these base fields. */
  logLevel: string;
  logBase: Record<string, unknown>;
}

/** Calls the main thread makes; each answers with one result. */
export type SimulatorCall =
  | { method: 'api'; args: [ApiOperation, ApiRequest] }
  | { method: 'textIn'; args: [{ from: string; to: string; text: string }] }
  | { method: 'inbox'; args: [string] }
  | { method: 'placeCall'; args: [{ from: string; to: string }] };

/** An error that crossed the thread boundary: what the HTTP edge needs to answer it as before. */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  details?: FieldIssue[];
}

/** The largest request body the worker's Plivo API reads (Plivo's own requests are a few KB). */
export const API_MAX_BODY_BYTES = 1024 * 1024;

export type ToWorker = ({ type: 'call'; id: number } & SimulatorCall) | { type: 'close' };
export type FromWorker =
  | { type: 'ready'; authId: string; authToken: string; apiUrl: string }
  | { type: 'result'; id: number; ok: true; value: unknown }
  | { type: 'result'; id: number; ok: false; error: SerializedError };

export function serializeError(e: unknown): SerializedError {
  if (e instanceof AppError) return { name: e.name, message: e.message, code: e.code, ...(e.details ? { details: e.details } : {}) };
  if (e instanceof Error) return { name: e.name, message: e.message };
  return { name: 'Error', message: String(e) };
}

const isErrorCode = (code: string): code is ErrorCode => (ERROR_CODES as readonly string[]).includes(code);

function revive(e: SerializedError): Error {
  if (e.code !== undefined && isErrorCode(e.code)) return new AppError(e.code, e.message, e.details ? { details: e.details } : {});
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}

/** The worker stopped (or was closed) before it answered a call. */
class ThreadStopped extends Error {
  override name = 'ThreadStopped';
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

// When the worker is gone, its Plivo API answers as an unreachable Plivo would, so the provider
// does what it does with Plivo: a call that was handed over and never answered may have been
// accepted (the worker can die after its commit), so it is a gateway timeout, which the outbox
// records as `unknown` and never re-sends; a call made once it is gone reached nothing, so it is
// unavailable, which the outbox retries later.
const unanswered = (reason: string): ApiResponse => ({ status: 504, body: { api_id: randomUUID(), error: `${reason} before answering` } });
const unreachable = (reason: string): ApiResponse => ({ status: 503, body: { api_id: randomUUID(), error: reason } });

export class SimulatorThread implements SimulatorService {
  readonly api = {
    handle: (op: ApiOperation, req: ApiRequest): Promise<ApiResponse> =>
      this.stopped !== null
        ? Promise.resolve(unreachable(this.stopped))
        : this.call<ApiResponse>({ method: 'api', args: [op, req] }).catch((e: unknown) => {
            if (e instanceof ThreadStopped) return unanswered(e.message);
            throw e;
          }),
  };
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Why calls are refused: the worker is gone or closing. */
  private stopped: string | null = null;
  private readonly exited: Promise<void>;

  private constructor(
    private readonly worker: Worker,
    readonly authId: string,
    readonly authToken: string,
    /** Where the simulator's Plivo API answers on the worker itself (loopback, a port of its own). */
    readonly apiUrl: string,
    private readonly log: Logger,
  ) {
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (m: FromWorker) => this.onMessage(m));
    worker.on('error', (e) => {
      this.log.error({ err: e }, 'the simulator thread failed');
      this.fail('the simulator thread failed');
    });
    worker.once('exit', (code) => {
      if (this.stopped === null) this.log.error({ code }, 'the simulator thread exited');
      this.fail('the simulator thread has stopped');
    });
  }

  /** Starts the worker and resolves once its simulator is open (or rejects with why it could not open). */
  static async start(options: SimulatorThreadOptions, log: Logger): Promise<SimulatorThread> {
    const worker = spawnWorker(options);
    const ready = await new Promise<{ authId: string; authToken: string; apiUrl: string }>((resolve, reject) => {
      const onMessage = (m: FromWorker): void => {
        if (m.type !== 'ready') return;
        done();
        resolve({ authId: m.authId, authToken: m.authToken, apiUrl: m.apiUrl });
      };
      const onError = (e: unknown): void => {
        done();
        reject(e instanceof Error ? e : new Error(String(e)));
      };
      const onExit = (code: number): void => {
        done();
        reject(new Error(`the simulator thread exited (${code}) before it was ready`));
      };
      const done = (): void => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    }).catch(async (e: unknown) => {
      await worker.terminate();
      throw e;
    });
    return new SimulatorThread(worker, ready.authId, ready.authToken, ready.apiUrl, log);
  }

  get threadId(): number {
    return this.worker.threadId;
  }

  textIn(input: { from: string; to: string; text: string }): Promise<TextInResult> {
    return this.call({ method: 'textIn', args: [input] });
  }

  inbox(handset: string): Promise<HandsetMessage[]> {
    return this.call({ method: 'inbox', args: [handset] });
  }

  placeCall(input: { from: string; to: string }): Promise<CallResult> {
    return this.call({ method: 'placeCall', args: [input] });
  }

  /** Closes the simulator (its deliveries in flight stay pending for the next start) and ends the thread. */
  async close(): Promise<void> {
    if (this.stopped === null) {
      this.stopped = 'the simulator is closed';
      this.worker.postMessage({ type: 'close' } satisfies ToWorker);
    }
    await this.exited;
  }

  private call<T>(c: SimulatorCall): Promise<T> {
    if (this.stopped !== null) return Promise.reject(new ThreadStopped(this.stopped));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.worker.postMessage({ type: 'call', id, ...c } satisfies ToWorker);
    });
  }

  private onMessage(m: FromWorker): void {
    if (m.type !== 'result') return;
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.ok) p.resolve(m.value);
    else p.reject(revive(m.error));
  }

  private fail(reason: string): void {
    this.stopped ??= reason;
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const p of waiting) p.reject(new ThreadStopped(reason));
  }
}

// The worker's old generation is held to 96 MB: a simulator keeps little alive (its latest 8,192
// sends, the deliveries in flight; its records are in SQLite), but at thousands of texts a second
// V8 let the garbage of its HTTP answers and webhook requests pile up to over a hundred MB before
// collecting it, which made the process grow past 200 MB in a 100,000-text campaign. Near the
// limit V8 collects sooner; were the simulator ever to need more, the worker would stop, and its
// API answer as an unreachable Plivo (retried), which the node logs.
const WORKER_LIMITS = { maxOldGenerationSizeMb: 96 };

function spawnWorker(options: SimulatorThreadOptions): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    // Running from the TypeScript sources (tsx, vitest): a worker starts without the parent's
    // loader, so it registers tsx's before it imports the entry.
    const entry = new URL('./simulator-worker.ts', here).href;
    return new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`, {
      eval: true,
      workerData: options,
      resourceLimits: WORKER_LIMITS,
    });
  }
  return new Worker(new URL('./simulator-worker.js', here), { workerData: options, resourceLimits: WORKER_LIMITS });
}
