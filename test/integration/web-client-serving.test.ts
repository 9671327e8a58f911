import { request } from 'node:http';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSwitchboard, type TestSwitchboard } from '../helpers/switchboard.js';
import { tempDir } from '../helpers/temp-dir.js';

// The web client is served by the gateway itself. Requests go through node:http so that paths
// reach the server exactly as written (fetch would normalise `..` away before sending).

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function rawGet(base: string, path: string, headers: Record<string, string> = {}): Promise<RawAnswer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the web client, served by the gateway', () => {
  let t: TestSwitchboard;
  let index: RawAnswer;
  let script: string;
  let style: string;

  beforeAll(async () => {
    t = await startTestSwitchboard();
    index = await rawGet(t.sb.url, '/');
    const html = index.body.toString('utf8');
    script = /src="(\/assets\/app-[A-Z0-9]+\.js)"/.exec(html)?.[1] ?? '';
    style = /href="(\/assets\/app-[A-Z0-9]+\.css)"/.exec(html)?.[1] ?? '';
  });
  afterAll(async () => {
    await t?.close();
  });

  it('serves index.html at / as HTML that browsers revalidate, naming content-hashed assets', () => {
    expect(index.status).toBe(200);
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.headers['cache-control']).toBe('no-cache');
    expect(index.headers['etag']).toMatch(/^"[\w-]+"$/);
    expect(index.headers['content-security-policy']).toContain("default-src 'self'");
    expect(index.headers['x-content-type-options']).toBe('nosniff');
    expect(script).not.toBe('');
    expect(style).not.toBe('');
  });

  it('answers 304 to a revalidation with the current ETag', async () => {
    const again = await rawGet(t.sb.url, '/', { 'if-none-match': String(index.headers['etag']) });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
  });

  it('serves hashed assets with their types, cached for good', async () => {
    const js = await rawGet(t.sb.url, script);
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const css = await rawGet(t.sb.url, style);
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(css.body.toString('utf8')).toContain('.history');
  });

  it('sends brotli or gzip as the browser accepts, the same bytes as uncompressed', async () => {
    const identity = await rawGet(t.sb.url, script);
    expect(identity.headers['content-encoding']).toBeUndefined();
    const br = await rawGet(t.sb.url, script, { 'accept-encoding': 'gzip, deflate, br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers['vary']).toBe('accept-encoding');
    expect(brotliDecompressSync(br.body).equals(identity.body)).toBe(true);
    expect(br.body.length).toBeLessThan(identity.body.length);
    const gz = await rawGet(t.sb.url, script, { 'accept-encoding': 'gzip, br;q=0' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).equals(identity.body)).toBe(true);
  });

  it('keeps the first load under 300 KB of compressed script and style', async () => {
    let brotli = 0;
    let gzip = 0;
    for (const path of [script, style]) {
      brotli += (await rawGet(t.sb.url, path, { 'accept-encoding': 'br' })).body.length;
      gzip += (await rawGet(t.sb.url, path, { 'accept-encoding': 'gzip' })).body.length;
    }
    console.log(`first load, script + style: ${(brotli / 1024).toFixed(1)} KB brotli, ${(gzip / 1024).toFixed(1)} KB gzip`);
    expect(gzip).toBeLessThanOrEqual(300 * 1024);
  });

  it('never serves a file outside the build, however the path is written', async () => {
    for (const path of [
      '/assets/../package.json',
      '/assets/..%2f..%2f..%2fpackage.json',
      '/assets/%2e%2e%2f%2e%2e%2f%2e%2e%2fpackage.json',
      '/../../package.json',
      '/assets/..%5c..%5c..%5cpackage.json',
      '/assets/',
      '/assets/app.js',
      '/index.html/..',
    ]) {
      const res = await rawGet(t.sb.url, path);
      expect(res.status, path).toBe(404);
      expect(res.body.toString('utf8'), path).not.toContain('"name": "switchboard"');
    }
  });

  it('explains how to build the client when there is no build', async () => {
    const empty = tempDir();
    const bare = await startTestSwitchboard({}, { clientDir: empty.path });
    try {
      const res = await rawGet(bare.sb.url, '/');
      expect(res.status).toBe(503);
      expect(res.body.toString('utf8')).toContain('npm start');
    } finally {
      await bare.close();
      empty.remove();
    }
  });
});
