import Database from 'better-sqlite3';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { createOwner } from '../../src/services/bootstrap.js';
import { isLateEvening, isQuietHours } from '../../src/domain/quiet-hours.js';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { silentLogger } from '../../src/logger.js';
import { testConfig } from '../../src/config.js';
import { startSwitchboard, type Switchboard } from '../../gateways/server.js';
import { uwsIsNative } from '../../gateways/http/listen.js';
import { FAST_ENV } from '../helpers/switchboard.js';
import { Http, type Reply } from '../helpers/http.js';
import { tempDir } from '../helpers/temp-dir.js';

// What every benchmark starts from: a whole Switchboard on port 0 with its SQLite file in a temp
// dir (the store opened here so its group commits can be counted), and an organisation built
// through the REST API as a person would: an owner, a department, a group account of six numbers
// and, optionally, students imported as CSV.

export const PASSWORD = 'bench horse battery staple';

export interface CommitStats {
  commits: number;
  ops: number;
  maxBatch: number;
}

export interface BenchNode {
  sb: Switchboard;
  http: Http;
  dataDir: string;
  dbFile: string;
  commits: CommitStats;
  close(): Promise<void>;
}

const cleanups = new Set<() => Promise<void>>();

export async function startBenchNode(env: Record<string, string> = {}): Promise<BenchNode> {
  const dir = tempDir('switchboard-bench-');
  const dbFile = join(dir.path, 'switchboard.db');
  const commits: CommitStats = { commits: 0, ops: 0, maxBatch: 0 };
  let sb: Switchboard | null = null;
  try {
    const store = await createSqliteStore({
      file: dbFile,
      onCommit: (ops) => {
        commits.commits++;
        commits.ops += ops;
        if (ops > commits.maxBatch) commits.maxBatch = ops;
      },
    });
    sb = await startSwitchboard(testConfig({ ...FAST_ENV, DATA_DIR: dir.path, ...env }), silentLogger, { store });
  } catch (e) {
    dir.remove();
    throw e;
  }
  if (!uwsIsNative()) throw new Error('uWebSockets.js runs on its JavaScript fallback: benchmark figures would be meaningless');
  const node = sb;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    cleanups.delete(close);
    try {
      await node.close();
    } finally {
      dir.remove();
    }
  };
  cleanups.add(close);
  return { sb: node, http: new Http(node.url), dataDir: dir.path, dbFile, commits, close };
}

/** Closes every node still open (failure paths). */
export async function closeAllNodes(): Promise<void> {
  await Promise.allSettled([...cleanups].map((c) => c()));
}

function expectStatus(r: Reply, status: number, what: string): void {
  if (r.status !== status) throw new Error(`${what}: expected HTTP ${status}, got ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
}

/**
 * A time zone where it is daytime now (07:00–18:59), so bulk sends are neither refused for quiet
 * hours nor held, whenever the benchmark runs.
 */
export function daytimeZone(now = Date.now()): string {
  const zones = [
    'America/New_York',
    'America/Los_Angeles',
    'Pacific/Honolulu',
    'Pacific/Auckland',
    'Australia/Sydney',
    'Asia/Tokyo',
    'Asia/Shanghai',
    'Asia/Kolkata',
    'Asia/Dubai',
    'Europe/Berlin',
    'Europe/London',
    'America/Sao_Paulo',
  ];
  const later = now + 3600_000;
  const zone = zones.find((z) => !isQuietHours(now, z) && !isLateEvening(now, z) && !isQuietHours(later, z) && !isLateEvening(later, z));
  if (!zone) throw new Error('no daytime zone found');
  return zone;
}

/** A valid, distinct US mobile-style number per index (+1 617 2xx xxxx … ). */
export function studentPhone(i: number, block = 0): string {
  return `+1617${String(2_000_000 + block * 1_000_000 + i).padStart(7, '0')}`;
}

export interface BenchOrg {
  token: string;
  departmentId: string;
  account: { id: string; apiCode: string; numbers: string[] };
}

export async function buildBenchOrg(node: BenchNode, options: { timeZone?: string } = {}): Promise<BenchOrg> {
  const { sb, http } = node;
  await createOwner(sb.core, { email: 'bench@college.edu', name: 'Bench Owner', password: PASSWORD, departmentIds: [], areaCode: '617' });
  const session = await http.post('/api/v1/sessions', { email: 'bench@college.edu', password: PASSWORD });
  expectStatus(session, 201, 'sign in');
  const token = session.body.token as string;
  const dept = await http.post('/api/v1/departments', { name: 'Admissions', code: 'adm', timeZone: options.timeZone ?? daytimeZone() }, token);
  expectStatus(dept, 201, 'create department');
  const available = await http.get('/api/v1/numbers/available?areaCode=617&limit=6', token);
  expectStatus(available, 200, 'search numbers');
  const numbers = (available.body.items as Array<{ number: string }>).map((n) => n.number);
  const created = await http.post('/api/v1/group-accounts', { name: 'Admissions Outreach', departmentId: dept.body.id, color: '#2F6FDE', numbers, memberIds: [] }, token);
  expectStatus(created, 201, 'create group account');
  return { token, departmentId: dept.body.id, account: { id: created.body.id, apiCode: created.body.apiCode, numbers: created.body.numbers } };
}

/** Imports `count` students as CSV (FirstName,LastName,Phone) through the API; returns their phones. */
export async function importStudents(node: BenchNode, org: BenchOrg, count: number, block = 0): Promise<string[]> {
  const phones = Array.from({ length: count }, (_, i) => studentPhone(i, block));
  const lines = ['FirstName,LastName,Phone', ...phones.map((p, i) => `Student${i},Bench${block},${p}`)];
  const r = await node.http.request('POST', '/api/v1/contacts/import', { token: org.token, body: lines.join('\n'), headers: { 'content-type': 'text/csv' } });
  expectStatus(r, 200, 'import contacts');
  if (r.body.created !== count) throw new Error(`import created ${JSON.stringify(r.body)} contacts, expected ${count}`);
  return phones;
}

/** A read-only second connection to the node's SQLite file, for counting what was stored. */
export function openReader(node: BenchNode): Database.Database {
  return new Database(node.dbFile, { readonly: true, fileMustExist: true });
}

/**
 * The disk as it is right now: single-row commits per second into a fresh SQLite file next to the
 * node's (WAL, synchronous=FULL, as the store), i.e. how long one fsync takes on the shared
 * machine. DESIGN.md measured about 1,900/s; a busy neighbour makes every group commit slower.
 */
export function probeCommits(dir: string, count = 300): { perSecond: number; p50Ms: number; p99Ms: number } {
  const file = join(dir, 'commit-probe.db');
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('CREATE TABLE probe (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
    const insert = db.prepare('INSERT INTO probe (v) VALUES (?)');
    const times: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      const t = performance.now();
      insert.run('x'.repeat(200));
      times.push(performance.now() - t);
    }
    const total = performance.now() - t0;
    times.sort((a, b) => a - b);
    return { perSecond: (count * 1000) / total, p50Ms: times[Math.floor(count / 2)]!, p99Ms: times[Math.floor(count * 0.99)]! };
  } finally {
    db.close();
    for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
  }
}
