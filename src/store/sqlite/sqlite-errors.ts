import Database from 'better-sqlite3';
import { AppError, isAppError } from '../../errors.js';
import { WriteBatcherClosedError } from './write-batcher.js';
import { StaleOwnerEpoch } from '../store.js';

// SQLite's errors never leave the adapter: the documented conflicts become their AppError codes at
// the call site (which knows the value to name), and whatever slips through becomes a generic
// 'conflict' (a uniqueness rule nobody documented) or 'internal' (a fault), with the cause kept for
// the logs.

/** The columns ("table.column, ...") or index ("index 'name'") a uniqueness violation names. */
function uniqueTarget(e: unknown): string | null {
  if (!(e instanceof Database.SqliteError)) return null;
  if (e.code !== 'SQLITE_CONSTRAINT_UNIQUE' && e.code !== 'SQLITE_CONSTRAINT_PRIMARYKEY') return null;
  const prefix = 'UNIQUE constraint failed: ';
  return e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message;
}

/**
 * Rethrows a uniqueness violation on one of `rules`' targets as that rule's AppError, and anything
 * else unchanged.
 */
export function rethrowUnique(e: unknown, rules: Record<string, () => AppError>): never {
  const target = uniqueTarget(e);
  const rule = target === null ? undefined : rules[target];
  throw rule ? rule() : e;
}

/** What a store method rejects with: an AppError, or the fencing refusal its caller acts on. */
export function toStoreError(e: unknown): AppError | StaleOwnerEpoch {
  if (isAppError(e) || e instanceof StaleOwnerEpoch) return e;
  if (e instanceof WriteBatcherClosedError) return new AppError('internal', 'The store is closed', { cause: e });
  if (uniqueTarget(e) !== null) return new AppError('conflict', 'The record already exists', { cause: e });
  return new AppError('internal', 'Storage failure', { cause: e });
}
