import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src/store/sqlite/migrations.js';
import { TAG_SCAN_SQL } from '../../src/store/sqlite/sqlite-contacts.js';
import { CAMPAIGN_COUNTS_SQL } from '../../src/store/sqlite/sqlite-campaigns.js';
import type { NewRecipient, Store } from '../../src/store/store.js';
import { storeContract } from './store.contract.js';
import { T0, contact, conversation, department, groupAccount, outboundMessage } from './store-fixtures.js';

// Real files, one fresh temporary directory per test, removed afterwards.
const dirs: string[] = [];
const files = new WeakMap<Store, string>();

function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-sqlite-'));
  dirs.push(dir);
  return join(dir, 'data', 'switchboard.db');
}

async function open(file: string): Promise<Store> {
  const store = await createSqliteStore({ file });
  files.set(store, file);
  return store;
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

storeContract('sqlite', () => open(tempFile()), {
  reopen: async (store) => {
    const file = files.get(store);
    if (file === undefined) throw new Error('not a store opened by this test file');
    await store.close();
    return open(file);
  },
});

describe('SQLite store', () => {
  it('opens an in-memory database', async () => {
    const store = await createSqliteStore({ file: ':memory:' });
    expect(await store.isEmpty()).toBe(true);
    await store.close();
  });

  it('uses WAL, full sync and foreign keys, at the latest schema version', async () => {
    const file = tempFile();
    const store = await open(file);
    await store.close();
    const db = new Database(file, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
    } finally {
      db.close();
    }
  });

  it('saves lock snapshots write-behind (no fsync of their own), while epochs and messages commit synced', async () => {
    const commits: boolean[] = [];
    const file = tempFile();
    const store = await createSqliteStore({ file, onCommit: (_ops, durable) => commits.push(durable) });
    try {
      const d = await store.departments.create(department());
      const account = await store.accounts.create(groupAccount(d.id), []);
      const c = await store.contacts.create(contact());
      const [sent] = await store.messages.enqueueOutbound([{ message: outboundMessage({ account, contact: c }), conversation: conversation(account.id, c.id) }]);
      const id = sent!.conversation.id;
      commits.length = 0;
      const { ownerEpoch, lockToken } = (await store.locks.claimEpoch(id, 0))!;
      const record = { conversationId: id, accountId: account.id, snapshot: '{}', ownerEpoch, state: 'locked' as const, holderUserId: 'U1', holderName: 'Dana', since: T0, releaseAt: null, updatedAt: T0 };
      expect(await store.locks.save({ ...record, token: lockToken + 1 })).toBe(true);
      expect(await store.locks.save({ ...record, token: lockToken + 2 })).toBe(true);
      expect(commits).toEqual([true, false, false]);
      // Committed all the same: another connection sees it at once.
      const other = new Database(file, { readonly: true });
      try {
        expect(other.prepare('SELECT token FROM conversation_locks WHERE conversation_id = ?').pluck().get(id)).toBe(lockToken + 2);
      } finally {
        other.close();
      }
    } finally {
      await store.close();
    }
  });

  it('checkpoints the WAL on a worker thread, never inside a commit on the event loop', async () => {
    const file = tempFile();
    const reports: Array<{ log: number; checkpointed: number }> = [];
    let reported: (() => void) | null = null;
    const store = await createSqliteStore({
      file,
      checkpointEveryCommits: 50,
      onCheckpoint: (r) => {
        reports.push(r);
        reported?.();
      },
    });
    try {
      const raw = new Database(file, { readonly: true });
      try {
        for (let i = 0; i < 49; i++) await store.departments.create(department({ code: `D${i}` }));
        expect(reports).toEqual([]);
        const checkpointed = new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('no checkpoint reported within 10 s')), 10_000);
          reported = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        await store.departments.create(department({ code: 'D49' })); // the 50th commit asks for one
        await checkpointed;
        expect(reports[0]!.log).toBeGreaterThan(0);
        expect(reports[0]!.checkpointed).toBe(reports[0]!.log);
        expect(raw.prepare('SELECT count(*) FROM departments').pluck().get()).toBe(50);
      } finally {
        raw.close();
      }
    } finally {
      await store.close();
    }
  });

  it('leaves SQLite’s own checkpoint (inside the commit that crosses 1,000 pages) off', async () => {
    const file = tempFile();
    const store = await createSqliteStore({ file, checkpointEveryCommits: Number.MAX_SAFE_INTEGER });
    try {
      const walPages = () => (statSync(`${file}-wal`).size - 32) / (4096 + 24);
      // Each commit appends at least one page; with auto-checkpoint the log would be rewound to its
      // start after 1,000 pages and stay about that long.
      for (let i = 0; walPages() <= 1_100; i++) {
        expect(i).toBeLessThan(1_200);
        await Promise.all([0, 1, 2].map((k) => store.departments.create(department({ code: `D${i}-${k}`, name: `Department ${'x'.repeat(1_000)} ${i}-${k}` }))));
      }
    } finally {
      await store.close();
    }
  });

  it('makes a resolved write visible to another connection at once (it is committed, not buffered)', async () => {
    const file = tempFile();
    const store = await open(file);
    try {
      const d = await store.departments.create(department({ code: 'ADM' }));
      const other = new Database(file, { readonly: true });
      try {
        expect(other.prepare('SELECT id FROM departments').pluck().all()).toEqual([d.id]);
      } finally {
        other.close();
      }
    } finally {
      await store.close();
    }
  });

  it('reads a tags filter as one tag’s range of its index, never a scan of the contacts', async () => {
    const file = tempFile();
    await (await open(file)).close();
    const db = new Database(file, { readonly: true });
    try {
      const plan = db.prepare<[{ tag: string; afterId: string; limit: number }], { detail: string }>(`EXPLAIN QUERY PLAN ${TAG_SCAN_SQL}`).all({ tag: 'transfer', afterId: '', limit: 500 }).map((r) => r.detail);
      expect(plan).toContainEqual(expect.stringMatching(/^SEARCH t USING (COVERING )?INDEX contact_tags_by_tag \(tag=\? AND contact_id>\?\)$/));
      expect(plan.filter((d) => d.startsWith('SCAN') || d.includes('TEMP B-TREE'))).toEqual([]);
    } finally {
      db.close();
    }
  });

  it('reads a campaign’s counts as one row, never its recipients', async () => {
    const file = tempFile();
    await (await open(file)).close();
    const db = new Database(file, { readonly: true });
    try {
      const plan = db.prepare<[string], { detail: string }>(`EXPLAIN QUERY PLAN ${CAMPAIGN_COUNTS_SQL}`).all('C1').map((r) => r.detail);
      expect(plan).toHaveLength(2);
      for (const step of plan) expect(step).toMatch(/^SEARCH [ck] USING (INDEX sqlite_autoindex_campaigns_1|PRIMARY KEY) \((id|campaign_id)=\?\)$/);
    } finally {
      db.close();
    }
  });

  /** A campaign with `n` queued recipients, through the store. */
  async function givenCampaign(store: Store, n: number): Promise<string> {
    const d = await store.departments.create(department());
    const account = await store.accounts.create(groupAccount(d.id), []);
    const id = `C${n}-${T0}`;
    const expansion = { phase: 'phones' as const, offset: 0, afterContactId: null, ordinal: 0 };
    await store.campaigns.create({
      id, kind: 'campaign', accountId: account.id, name: 'Welcome', text: 'Hi', timeZone: 'America/New_York', state: 'draft', pausedReason: null,
      scheduledAt: null, sendAnyway: false, snapshot: '{}', source: { phones: [], contactIds: [], filter: null }, expansion, skippedDuplicate: 0,
      createdByUserId: null, createdByName: 'Dana', createdAt: T0, updatedAt: T0,
    });
    const rows: NewRecipient[] = Array.from({ length: n }, (_, i) => ({ phone: `+1617555${String(1000 + i)}`, seq: i, contactId: null, senderNumber: null, status: 'queued' }));
    await store.campaigns.addRecipients(id, expansion, { ...expansion, offset: n, ordinal: n }, rows, T0, 0);
    return id;
  }

  it('moves a campaign’s counts in the transaction that changes its rows, so a rolled-back change moves neither', async () => {
    const file = tempFile();
    const store = await open(file);
    try {
      const id = await givenCampaign(store, 4);
      const before = await store.campaigns.counts(id);
      expect(before).toMatchObject({ total: 4, queued: 4, sent: 0, replies: 0 });
      // Any writer of the rows, through any statement, moves the counts with them.
      const db = new Database(file);
      try {
        const change = db.transaction((fail: boolean) => {
          db.prepare("UPDATE campaign_recipients SET status = 'sent', replied_at = 1 WHERE campaign_id = ? AND seq < 3").run(id);
          db.prepare("UPDATE campaign_recipients SET status = 'failed' WHERE campaign_id = ? AND seq = 0").run(id);
          if (fail) throw new Error('the write fails after changing rows and counts');
        });
        expect(() => change(true)).toThrow('the write fails');
        expect(await store.campaigns.counts(id)).toEqual(before);
        change(false);
      } finally {
        db.close();
      }
      expect(await store.campaigns.counts(id)).toEqual({ ...before, queued: 1, sent: 2, failed: 1, replies: 3 });
    } finally {
      await store.close();
    }
  });

  it('counts the campaigns stored before counts were kept, once, when the schema moves on', async () => {
    const file = tempFile();
    const store = await open(file);
    const id = await givenCampaign(store, 5);
    await store.close();
    // The file as the schema before counts were kept leaves it: the rows and no counts.
    const db = new Database(file);
    try {
      db.exec("UPDATE campaign_recipients SET status = 'delivered', replied_at = 7 WHERE seq < 2; UPDATE campaign_recipients SET status = 'skipped_opted_out' WHERE seq = 4");
      db.exec(`DROP TABLE campaign_counts; DROP TRIGGER campaign_counts_for_new_campaign; DROP TRIGGER campaign_counts_for_new_recipient;
        DROP TRIGGER campaign_counts_for_changed_recipient; CREATE INDEX campaign_recipients_counts ON campaign_recipients (campaign_id, status, replied_at)`);
      expect(MIGRATIONS[8]?.name).toBe('campaign counts kept as recipients change');
      db.pragma('user_version = 8');
    } finally {
      db.close();
    }
    const again = await open(file);
    try {
      expect(await again.campaigns.counts(id)).toMatchObject({ total: 5, queued: 2, delivered: 2, skippedOptedOut: 1, replies: 2 });
    } finally {
      await again.close();
    }
  });

  it('applies no migration twice when reopened', async () => {
    const file = tempFile();
    await (await open(file)).close();
    const again = await open(file);
    expect(await again.isEmpty()).toBe(true);
    await again.close();
  });

  it('refuses a database written by a newer schema', async () => {
    const file = tempFile();
    await (await open(file)).close();
    const db = new Database(file);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    await expect(createSqliteStore({ file })).rejects.toMatchObject({ code: 'internal' });
  });

  it('prunes expired webhook nonces a few per claim, oldest first, so the table stays bounded', async () => {
    const file = tempFile();
    const store = await open(file);
    const claim = (nonce: string, seenAt: number, keepUntil: number) => store.webhookNonces.claim({ nonce, fingerprint: 'f', seenAt, keepUntil });
    const rows = () => {
      const db = new Database(file, { readonly: true });
      try {
        return db.prepare('SELECT nonce FROM webhook_nonces ORDER BY nonce').pluck().all();
      } finally {
        db.close();
      }
    };
    try {
      for (let i = 0; i < 5; i++) await claim(`old-${i}`, T0 + i, T0 + 10 + i);
      await claim('live', T0 + 5, T0 + 1_000);
      // At T0 + 13, three are expired (keepUntil T0 + 10, 11, 12); a claim removes the two oldest.
      await claim('new-0', T0 + 13, T0 + 2_000);
      expect(rows()).toEqual(['live', 'new-0', 'old-2', 'old-3', 'old-4']);
      await claim('new-1', T0 + 100, T0 + 2_000);
      await claim('new-2', T0 + 100, T0 + 2_000);
      expect(rows()).toEqual(['live', 'new-0', 'new-1', 'new-2']);
    } finally {
      await store.close();
    }
  });

  it('rejects writes after close', async () => {
    const store = await open(tempFile());
    await store.close();
    await expect(store.departments.create(department())).rejects.toMatchObject({ code: 'internal' });
    await expect(store.departments.list()).rejects.toMatchObject({ code: 'internal' });
  });
});
