import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { testConfig } from '../../src/config.js';
import { startSwitchboard } from '../../gateways/server.js';
import { FAST_ENV } from '../helpers/switchboard.js';
import { tempDir } from '../helpers/temp-dir.js';
import { capturingLogger } from '../helpers/logs.js';

// The data directory holds student data, password hashes and the simulator's webhook signing
// token: no other account on the machine may read it.

const modeOf = (path: string) => (statSync(path).mode & 0o777).toString(8);

const DATABASES = ['switchboard.db', 'simulator.db'];

describe('data files', () => {
  it('creates the data directory 0700 and every database file, -wal and -shm included, 0600', async () => {
    const root = tempDir();
    const dataDir = join(root.path, 'nested', 'data');
    const { log } = capturingLogger('warn');
    const sb = await startSwitchboard(testConfig({ ...FAST_ENV, DATA_DIR: dataDir, DEMO_SEED: 'true', DEMO_PASSWORD: 'demo-password-1' }), log);
    try {
      expect(modeOf(dataDir)).toBe('700');
      // While the databases are open, their WAL and shared-memory files exist and hold data too.
      for (const db of DATABASES) {
        expect([db, modeOf(join(dataDir, db)), modeOf(join(dataDir, `${db}-wal`)), modeOf(join(dataDir, `${db}-shm`))]).toEqual([db, '600', '600', '600']);
      }
    } finally {
      await sb.close();
      root.remove();
    }
  });

  it('tightens database files an older version left readable, and warns about an open directory it did not create', async () => {
    const dir = tempDir();
    try {
      chmodSync(dir.path, 0o755);
      for (const name of DATABASES) {
        const db = new Database(join(dir.path, name));
        db.pragma('journal_mode = WAL');
        db.close();
        chmodSync(join(dir.path, name), 0o644);
      }
      const { log, lines } = capturingLogger('warn');
      const sb = await startSwitchboard(testConfig({ ...FAST_ENV, DATA_DIR: dir.path }), log);
      try {
        for (const db of DATABASES) {
          expect([db, modeOf(join(dir.path, db)), modeOf(join(dir.path, `${db}-wal`)), modeOf(join(dir.path, `${db}-shm`))]).toEqual([db, '600', '600', '600']);
        }
        // The directory may be shared with other software: it is left alone, and said so.
        expect(modeOf(dir.path)).toBe('755');
        expect(lines.filter((l) => l['path'] === dir.path && l['mode'] === '755').length).toBeGreaterThan(0);
      } finally {
        await sb.close();
      }
    } finally {
      dir.remove();
    }
  });
});
