import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WalSync } from '../../src/store/sqlite/wal-sync.js';

// The log fsync of a real WAL database file, on libuv's thread pool.

describe('WalSync', () => {
  let dir: string;
  let file: string;
  let db: Database.Database;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'switchboard-walsync-'));
    file = join(dir, 'test.db');
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE items (id TEXT PRIMARY KEY)');
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fsyncs the log once at open, then once per call made while none runs', async () => {
    const sync = new WalSync(file);
    try {
      await sync.sync();
      expect(sync.syncs).toBe(1);
    } finally {
      await sync.close();
    }
  });

  it('shares one further fsync among every call made while one runs, and resolves them in order', async () => {
    const sync = new WalSync(file);
    try {
      const order: number[] = [];
      const first = sync.sync().then(() => order.push(0));
      // Each of these commits may come after the running fsync began: they need the next one.
      const later = Array.from({ length: 20 }, (_, i) => {
        db.prepare('INSERT INTO items (id) VALUES (?)').run(String(i));
        return sync.sync().then(() => order.push(i + 1));
      });
      await Promise.all([first, ...later]);
      expect(sync.syncs).toBe(2);
      expect(order).toEqual(Array.from({ length: 21 }, (_, i) => i));
    } finally {
      await sync.close();
    }
  });

  it('waits for the fsync asked for before closing, and refuses calls after close', async () => {
    const sync = new WalSync(file);
    const pending = sync.sync();
    const closed = sync.close();
    await expect(pending).resolves.toBeUndefined();
    await closed;
    await expect(sync.sync()).rejects.toThrow('closed');
  });

  it('fails every call after an fsync failed, and says so once', async () => {
    const failures: string[] = [];
    const sync = new WalSync(file, (e) => failures.push(e.message));
    // A real failing fsync: the descriptor it syncs is closed under it (EBADF), standing in for the
    // disk's EIO. Another file takes the number back so that close() has something to close.
    const fd = (sync as unknown as { fd: number }).fd;
    closeSync(fd);
    await expect(sync.sync()).rejects.toThrow(/EBADF/);
    const reopened = openSync(file, 'r');
    try {
      expect(reopened).toBe(fd);
      // Even now that the descriptor is valid again: a later fsync may succeed without the pages lost.
      await expect(sync.sync()).rejects.toThrow(/EBADF/);
      expect(failures).toHaveLength(1);
      expect(sync.syncs).toBe(1);
    } finally {
      await sync.close();
    }
  });

  it('fails at once when the database has no write-ahead log', () => {
    expect(() => new WalSync(join(dir, 'missing.db'))).toThrow(/ENOENT/);
  });
});
