import type { CoreEvent, Listener } from '../../src/events.js';

/** Where a test hears a node's events (Core.events: every event of the bus it is on). */
export interface EventSource {
  watchAll(listener: Listener): () => void;
}

/**
 * Resolves with the first core event matching `predicate`, or rejects at the deadline with a
 * message saying what was awaited. Subscribe before triggering the action that emits it.
 */
export function nextEvent<T extends CoreEvent>(hub: EventSource, predicate: (e: CoreEvent) => e is T, what: string, timeoutMs?: number): Promise<T>;
export function nextEvent(hub: EventSource, predicate: (e: CoreEvent) => boolean, what: string, timeoutMs?: number): Promise<CoreEvent>;
export function nextEvent(hub: EventSource, predicate: (e: CoreEvent) => boolean, what: string, timeoutMs = 5_000): Promise<CoreEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const off = hub.watchAll((e) => {
      if (!predicate(e)) return;
      clearTimeout(timer);
      off();
      resolve(e);
    });
  });
}

/**
 * Re-checks an async condition each time `hub` emits (and once at the start) until it holds,
 * or fails at the deadline. For states that are reached through several events.
 */
export function until<T>(hub: EventSource, check: () => Promise<T | null | undefined | false>, what: string, timeoutMs = 5_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const finish = (fn: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      off();
      fn();
    };
    const recheck = () => {
      void check().then(
        (v) => {
          if (v) finish(() => resolve(v));
        },
        (err: unknown) => finish(() => reject(err)),
      );
    };
    const timer = setTimeout(() => finish(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`))), timeoutMs);
    // Listening before the first check: an event that comes while it runs (and which its read may
    // have missed) checks again, instead of being lost with nothing after it to wake the wait.
    const off = hub.watchAll(recheck);
    recheck();
  });
}
