import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// `npm run test:mongo` says what is missing instead of running a suite that skips itself.

const SCRIPT = fileURLToPath(new URL('../contract/run-against-mongo.ts', import.meta.url));

function run(uri: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', SCRIPT], { env: { ...process.env, MONGODB_URI: uri } }, (err, _stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stderr });
    });
  });
}

describe('npm run test:mongo', () => {
  it('explains how to point it at a replica set when MONGODB_URI is unset', async () => {
    const r = await run('');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('MONGODB_URI is not set');
    expect(r.stderr).toContain('--profile test');
  });

  it('says so plainly when MongoDB cannot be reached', async () => {
    const r = await run('mongodb://127.0.0.1:9/?replicaSet=rs0&serverSelectionTimeoutMS=200');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cannot reach MongoDB at MONGODB_URI');
  });
});
