import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAll, spawnSwitchboard } from '../helpers/child-switchboard.js';
import { tempDir } from '../helpers/temp-dir.js';

// The image runs compiled JavaScript (`npm run build`, then `node dist/gateways/main.js`), not the
// TypeScript loader the tests use: the emitted ESM must run on plain Node. Built here with the
// build's own tsconfig into a directory inside the repository (so that node_modules resolves),
// without the type check (`npm test` type-checks everything already), and started as a child.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
let out: string;

beforeAll(async () => {
  mkdirSync(join(ROOT, '.scratch'), { recursive: true });
  out = mkdtempSync(join(ROOT, '.scratch', 'build-'));
  await promisify(execFile)(process.execPath, [TSC, '-p', join(ROOT, 'tsconfig.build.json'), '--noCheck', '--outDir', out], { cwd: ROOT });
}, 120_000);

afterAll(async () => {
  await killAll();
  if (out) rmSync(out, { recursive: true, force: true });
});

describe('the compiled build', () => {
  it('holds the server only: src, actors and gateways, no tests or doc generators', () => {
    expect(readdirSync(out).sort()).toEqual(['actors', 'gateways', 'src']);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.build).toMatch(/^tsc -p tsconfig\.build\.json( && |$)/);
    // What `npm run start:prod` and the image start is what the build emits.
    const main = /^node (dist\/\S+\.js)$/.exec(pkg.scripts['start:prod'] ?? '')?.[1];
    expect(main).toBe('dist/gateways/main.js');
    expect(existsSync(join(out, main!.slice('dist/'.length)))).toBe(true);
    expect(readFileSync(join(ROOT, 'docker', 'Dockerfile'), 'utf8')).toMatch(/^CMD \["node", "dist\/gateways\/main\.js"\]$/m);
  });

  it('starts on plain Node, serves, and shuts down cleanly', async () => {
    const data = tempDir();
    try {
      // The simulator on its worker thread: the worker's entry is found in the compiled layout too.
      const sb = await spawnSwitchboard(
        { DATA_DIR: data.path, DEMO_SEED: 'true', DEMO_PASSWORD: 'demo-password-1', SIMULATOR_THREAD: 'true' },
        { compiledMain: join(out, 'gateways', 'main.js') },
      );
      expect((await sb.http.get('/readyz')).status).toBe(200);
      const login = await sb.http.post('/api/v1/sessions', { email: 'admin@example.edu', password: 'demo-password-1' });
      expect(login.status).toBe(201);
      const me = await sb.http.get('/api/v1/me', login.body.token);
      expect(me.body.accounts.map((a: { kind: string }) => a.kind)).toEqual(['personal', 'group']);
      await sb.stop();
      expect(existsSync(join(data.path, 'switchboard.db'))).toBe(true);
    } finally {
      data.remove();
    }
  });

  it('runs the standalone simulator (the compose file starts it so)', async () => {
    const data = tempDir();
    const child = spawn(process.execPath, [join(out, 'gateways', 'simulator', 'main.js')], {
      env: { ...process.env, SIMULATOR_PORT: '0', SIMULATOR_DATA_DIR: data.path, LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      let output = '';
      const base = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the simulator did not start within 30 s:\n${output}`)), 30_000);
        const onData = (chunk: Buffer): void => {
          output += chunk.toString('utf8');
          const m = /PLIVO_API_URL=(http:\/\/\S+)/.exec(output);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`the simulator exited (${code}) before it listened:\n${output}`));
        });
      });
      const r = await fetch(`${base}/simulator/messages?number=%2B16175550100`);
      expect(r.status).toBe(200);
    } finally {
      child.kill('SIGTERM');
      await exited;
      data.remove();
    }
  });
});
