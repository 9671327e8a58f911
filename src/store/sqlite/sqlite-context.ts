import type Database from 'better-sqlite3';

// What every SQLite repository gets: the connection for preparing statements and reading, and the
// one way to write (through the group-commit batcher, see write-batcher.ts).
export interface SqliteContext {
  readonly db: Database.Database;
  /** Runs a synchronous write op in the next group commit; resolves once it is durable. */
  write<T>(op: () => T): Promise<T>;
  /**
   * The same, for state whose loss in a crash is harmless by design (lock snapshots): ordered with
   * every other write, resolved once committed, durable with the next durable write at the latest
   * (see write-batcher.ts). Never for what is acknowledged as durable.
   */
  writeBehind<T>(op: () => T): Promise<T>;
  /** Runs a synchronous read now (reads need no batching: WAL readers never wait for the writer). */
  read<T>(fn: () => T): Promise<T>;
}

/** Binds a list as one parameter, for `IN (SELECT value FROM json_each(?))` in a statement prepared once. */
export const jsonList = (values: readonly string[]): string => JSON.stringify(values);

/** SQLite stores booleans as 0/1. */
export const bit = (value: boolean): number => (value ? 1 : 0);


/** A caller's page size as SQLite's LIMIT, where a negative number would mean "no limit". */
export const boundedLimit = (limit: number): number => Math.max(0, Math.trunc(limit));
