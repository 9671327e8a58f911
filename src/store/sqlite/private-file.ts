import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

// The data directory holds student phones, messages, password and session hashes, and the
// simulator's Plivo auth token (anyone who reads it can sign webhooks). Only the account that runs
// Switchboard may read it: a directory we create is 0700, a database file 0600.
//
// The file is created (or tightened) before SQLite opens it, rather than by narrowing the process
// umask: the umask is process-wide, and libuv's thread pool creates files at the same time. SQLite
// creates the -wal and -shm files with the database file's own permissions, so they follow.
//
// A directory that already exists is left as it is, with a warning when others may enter it: it
// may be shared with other software (DATA_DIR=/srv or, worse, /tmp), and the files in it are what
// must be private.

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

export type PermissionWarning = (details: { path: string; mode: string }, message: string) => void;

export function preparePrivateDatabaseFile(file: string, warn?: PermissionWarning): void {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const dirMode = statSync(dir).mode & 0o777;
  if ((dirMode & 0o077) !== 0) {
    warn?.({ path: dir, mode: dirMode.toString(8) }, 'the data directory is open to other users; its database files are private (0600), consider chmod 700');
  }
  // 'a' creates the file when missing and never truncates one that exists.
  closeSync(openSync(file, 'a', PRIVATE_FILE_MODE));
  for (const path of [file, `${file}-wal`, `${file}-shm`]) tighten(path);
}

function tighten(path: string): void {
  let mode: number;
  try {
    mode = statSync(path).mode & 0o777;
  } catch {
    return; // no such file (the -wal and -shm exist only while the database is open)
  }
  if ((mode & 0o077) !== 0) chmodSync(path, PRIVATE_FILE_MODE);
}
