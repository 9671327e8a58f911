import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { setImmediate } from 'node:timers';
import { WriteBatcher } from '../../src/store/sqlite/write-batcher.js';
import { ManualClock } from '../../src/clock.js';

// The group-commit batcher against a real WAL database file, watched through a second connection:
// what that connection can see is exactly what has been committed.

describe('WriteBatcher', () => {
  let dir: string;
  let db: Database.Database;
  let observer: Database.Database;
  let commits: number[];
  let batcher: WriteBatcher;

  const insert = (id: string) => () => {
    db.prepare('INSERT INTO items (id) VALUES (?)').run(id);
    return id;
  };
  const committed = (): string[] => observer.prepare<[], string>('SELECT id FROM items ORDER BY id').pluck().all();

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'switchboard-batcher-'));
    const file = join(dir, 'test.db');
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.exec(`
      CREATE TABLE items (id TEXT PRIMARY KEY);
      CREATE TABLE parents (id TEXT PRIMARY KEY);
      CREATE TABLE children (parent_id TEXT REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED);
    `);
    observer = new Database(file, { readonly: true });
    commits = [];
    batcher = new WriteBatcher(db, { onCommit: (n) => commits.push(n) });
  });

  afterEach(() => {
    observer.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('commits the writes of one tick in a single transaction', async () => {
    const seenByOthers: string[][] = [];
    const results = await Promise.all([
      batcher.run(insert('a')),
      batcher.run(() => {
        // Op 1 has run but is not committed: it shares this transaction.
        seenByOthers.push(committed());
        expect(db.inTransaction).toBe(true);
        return insert('b')();
      }),
      batcher.run(insert('c')),
    ]);
    expect(results).toEqual(['a', 'b', 'c']);
    expect(seenByOthers).toEqual([[]]);
    expect(commits).toEqual([3]);
    expect(committed()).toEqual(['a', 'b', 'c']);
  });

  it('fails only the op that throws; the others in its batch commit', async () => {
    const results = await Promise.allSettled([
      batcher.run(insert('a')),
      batcher.run(() => {
        insert('x')();
        insert('a')(); // primary key conflict: x must be rolled back with it
      }),
      batcher.run(insert('c')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(commits).toEqual([3]);
    expect(committed()).toEqual(['a', 'c']);
  });

  it('runs ops in the order they were queued, each seeing the ones before', async () => {
    const order: number[] = [];
    const count = () => db.prepare<[], number>('SELECT count(*) FROM items').pluck().get();
    await Promise.all(
      [0, 1, 2, 3].map((i) =>
        batcher.run(() => {
          order.push(i);
          expect(count()).toBe(i);
          insert(`item-${i}`)();
        }),
      ),
    );
    expect(order).toEqual([0, 1, 2, 3]);
  });

  it('settles a promise only after its batch is committed', async () => {
    const events: string[] = [];
    const batcherWithLog = new WriteBatcher(db, { onCommit: () => events.push('commit') });
    await batcherWithLog.run(() => {
      events.push('op');
    }).then(() => {
      events.push('resolved');
      expect(committed()).toEqual([]);
    });
    await batcherWithLog.run(insert('z')).then(() => expect(committed()).toEqual(['z']));
    expect(events).toEqual(['op', 'commit', 'resolved', 'commit']);
  });

  it('rejects every op of a batch whose commit fails, and keeps none of it', async () => {
    const results = await Promise.allSettled([
      batcher.run(insert('a')),
      // A deferred foreign key is only checked at COMMIT, which therefore fails.
      batcher.run(() => db.prepare("INSERT INTO children (parent_id) VALUES ('missing')").run()),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(commits).toEqual([]);
    expect(committed()).toEqual([]);
    expect(db.inTransaction).toBe(false);
    // The batcher keeps working after a failed commit.
    await batcher.run(insert('b'));
    expect(committed()).toEqual(['b']);
  });

  it('hands errors to mapError before rejecting', async () => {
    const mapped = new WriteBatcher(db, { mapError: (e) => new Error(`mapped: ${(e as Error).message}`) });
    await expect(
      mapped.run(() => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('mapped: boom');
  });

  it('commits at once when the batch is full, without waiting for the tick', async () => {
    const small = new WriteBatcher(db, { maxBatch: 2, onCommit: (n) => commits.push(n) });
    const first = small.run(insert('a'));
    const second = small.run(insert('b'));
    expect(commits).toEqual([2]);
    expect(committed()).toEqual(['a', 'b']);
    const third = small.run(insert('c'));
    expect(commits).toEqual([2]);
    await Promise.all([first, second, third]);
    expect(commits).toEqual([2, 1]);
  });

  it('commits what is pending on close and refuses writes after it', async () => {
    const pending = batcher.run(insert('a'));
    batcher.close();
    expect(committed()).toEqual(['a']);
    await expect(pending).resolves.toBe('a');
    await expect(batcher.run(insert('b'))).rejects.toThrow('closed');
  });

  describe('with a sync (the log fsynced off the event loop)', () => {
    /** A sync the test ends by hand, as an fsync on libuv's pool would. */
    let syncs: Array<{ done: () => void; fail: (e: Error) => void }>;
    let synced: boolean[];
    let withSync: WriteBatcher;
    beforeEach(() => {
      syncs = [];
      synced = [];
      withSync = new WriteBatcher(db, {
        onCommit: (_n, durable) => synced.push(durable),
        sync: () => new Promise<void>((done, fail) => syncs.push({ done, fail })),
      });
    });
    /** Records when a promise settles, and how. */
    const track = (p: Promise<unknown>): string[] => {
      const seen: string[] = [];
      p.then((v) => seen.push(`resolved ${String(v)}`), (e: Error) => seen.push(`rejected ${e.message}`));
      return seen;
    };
    /** Lets every callback queued so far run (the commit's, its settlements'). */
    const settle = () => new Promise<void>((r) => setImmediate(r));
    const waitFor = (done: () => boolean) => vi.waitFor(() => expect(done()).toBe(true), { timeout: 2_000, interval: 1 });

    it('answers a durable op only once the sync after its commit resolves, a write-behind op at commit', async () => {
      const durable = track(withSync.run(insert('reply')));
      const behind = track(withSync.runBehind(insert('snapshot')));
      await waitFor(() => syncs.length === 1);
      // Committed (another connection sees both rows), the write-behind op answered, the durable one not yet.
      expect(committed()).toEqual(['reply', 'snapshot']);
      await settle();
      expect(behind).toEqual(['resolved snapshot']);
      expect(durable).toEqual([]);
      syncs[0]!.done();
      await waitFor(() => durable.length === 1);
      expect(durable).toEqual(['resolved reply']);
      expect(synced).toEqual([true]);
    });

    it('answers a refused durable op only after the sync too: the row it was refused for may not be on the disk yet', async () => {
      const first = track(withSync.run(insert('a')));
      const duplicate = track(withSync.run(insert('a')));
      await waitFor(() => syncs.length === 1);
      await settle();
      expect(first).toEqual([]);
      expect(duplicate).toEqual([]);
      syncs[0]!.done();
      await waitFor(() => duplicate.length === 1);
      expect(first).toEqual(['resolved a']);
      expect(duplicate[0]).toMatch(/^rejected UNIQUE constraint failed/);
    });

    it('refuses the durable ops of a batch whose sync failed, not its write-behind ones', async () => {
      const mapped = new WriteBatcher(db, {
        mapError: (e) => new Error(`mapped: ${(e as Error).message}`),
        sync: () => new Promise<void>((done, fail) => syncs.push({ done, fail })),
      });
      const durable = track(mapped.run(insert('a')));
      const behind = track(mapped.runBehind(insert('b')));
      await waitFor(() => syncs.length === 1);
      syncs[0]!.fail(new Error('EIO: i/o error, fsync'));
      await waitFor(() => durable.length === 1 && behind.length === 1);
      expect(durable).toEqual(['rejected mapped: EIO: i/o error, fsync']);
      expect(behind).toEqual(['resolved b']);
    });

    it('asks for no sync for a batch of write-behind ops only', async () => {
      await Promise.all([withSync.runBehind(insert('a')), withSync.runBehind(insert('b'))]);
      expect(syncs).toHaveLength(0);
      expect(synced).toEqual([false]);
    });

    it('orders a write-behind op before the durable ops queued after it, in the same commit and sync', async () => {
      const order: string[] = [];
      const behind = withSync.runBehind(() => {
        order.push('snapshot');
        insert('lock-state')();
      });
      const durable = withSync.run(() => {
        order.push('reply');
        // The reply's fence reads what the snapshot wrote: same connection, same order.
        expect(observer.prepare('SELECT 1 FROM items WHERE id = ?').get('lock-state')).toBeUndefined();
        expect(db.prepare('SELECT 1 FROM items WHERE id = ?').get('lock-state')).toBeDefined();
        insert('reply')();
      });
      await waitFor(() => syncs.length === 1);
      syncs[0]!.done();
      await Promise.all([behind, durable]);
      expect(order).toEqual(['snapshot', 'reply']);
      expect(synced).toEqual([true]);
    });
  });

  describe('with behindSpacingMs (write-behind ops alone commit at most so often)', () => {
    let clock: ManualClock;
    let spaced: WriteBatcher;
    /** Lets the loop turn once: the batcher's own next-turn flush, armed earlier, runs first. */
    const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
    beforeEach(() => {
      clock = new ManualClock();
      spaced = new WriteBatcher(db, { behindSpacingMs: 5, spacingClock: clock, onCommit: (n) => commits.push(n) });
    });

    it('commits a lone write-behind op at the next turn, and the next ones together once the spacing has passed', async () => {
      await spaced.runBehind(insert('a'));
      expect(commits).toEqual([1]);
      const later = [spaced.runBehind(insert('b')), spaced.runBehind(insert('c'))];
      await nextTurn();
      expect(committed()).toEqual(['a']);
      clock.advance(4);
      expect(committed()).toEqual(['a']);
      clock.advance(1);
      expect(committed()).toEqual(['a', 'b', 'c']);
      await Promise.all(later);
      expect(commits).toEqual([1, 2]);
    });

    it('spaces from the previous commit, not from the op: a write-behind op long after it commits at the next turn', async () => {
      await spaced.runBehind(insert('a'));
      clock.advance(5);
      const b = spaced.runBehind(insert('b'));
      await nextTurn();
      expect(committed()).toEqual(['a', 'b']);
      await b;
    });

    it('commits a durable op at the next turn, with the write-behind ops waiting, and arms nothing more', async () => {
      await spaced.runBehind(insert('a'));
      const behind = spaced.runBehind(insert('b'));
      const durable = spaced.run(insert('c'));
      await Promise.all([behind, durable]);
      expect(committed()).toEqual(['a', 'b', 'c']);
      expect(commits).toEqual([1, 2]);
      clock.advance(10);
      await nextTurn();
      expect(commits).toEqual([1, 2]);
    });

    it('commits at once when the batch is full, spacing or not', async () => {
      const small = new WriteBatcher(db, { maxBatch: 2, behindSpacingMs: 5, spacingClock: clock, onCommit: (n) => commits.push(n) });
      await small.runBehind(insert('a'));
      void small.runBehind(insert('b'));
      void small.runBehind(insert('c'));
      expect(committed()).toEqual(['a', 'b', 'c']);
      expect(commits).toEqual([1, 2]);
    });

    it('commits the write-behind ops waiting out the spacing on close', async () => {
      await spaced.runBehind(insert('a'));
      const waiting = spaced.runBehind(insert('b'));
      spaced.close();
      expect(committed()).toEqual(['a', 'b']);
      await waiting;
    });
  });

  it('refuses an op that returns a promise (a write must be synchronous to be atomic)', async () => {
    await expect(batcher.run(() => Promise.resolve(1))).rejects.toThrow(TypeError);
  });
});
