import { MongoServerError } from 'mongodb';
import { AppError, isAppError } from '../../errors.js';
import { StaleOwnerEpoch } from '../store.js';

// Driver errors never leave the adapter. A duplicate key (E11000) on a documented unique field
// becomes its AppError at the call site; any other duplicate is a generic 'conflict', anything else
// 'internal' with the cause kept for the logs.

const DUPLICATE_KEY = 11000;

/** The fields of the unique index a duplicate-key error names, comma-joined ("accountId,contactId"). */
export function duplicateKeyOn(e: unknown): string | null {
  if (!(e instanceof MongoServerError) || e.code !== DUPLICATE_KEY) return null;
  // Servers name the index's fields in keyPattern, which the driver keeps on the error of a single
  // write but drops from a bulk write's (insertMany, bulkWrite). The message names them too
  // ("... dup key: { accountId: "a", contactId: "c" }"): the fallback.
  const pattern: unknown = e.keyPattern;
  if (pattern !== null && typeof pattern === 'object') return Object.keys(pattern).join(',');
  const dupKey = /dup key: \{(.*)\}/.exec(e.message)?.[1] ?? '';
  return [...dupKey.matchAll(/(?:^|, )\s*([\w.]+): /g)].map((m) => m[1]).join(',');
}

export function rethrowDuplicate(e: unknown, rules: Record<string, () => AppError>): never {
  const key = duplicateKeyOn(e);
  const rule = key === null ? undefined : rules[key];
  throw rule ? rule() : e;
}

/** What a store method rejects with: an AppError, or the fencing refusal its caller acts on. */
export function toStoreError(e: unknown): AppError | StaleOwnerEpoch {
  if (isAppError(e) || e instanceof StaleOwnerEpoch) return e;
  if (duplicateKeyOn(e) !== null) return new AppError('conflict', 'The record already exists', { cause: e });
  return new AppError('internal', 'Storage failure', { cause: e });
}
