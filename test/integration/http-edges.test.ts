import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSwitchboard, type TestSwitchboard } from '../helpers/switchboard.js';
import { refusedUpgrade } from '../helpers/ws-client.js';

// What every HTTP answer looks like on the wire: HEAD without a body, and the headers that keep
// browsers and caches from doing the wrong thing with our answers.

const OWNER = { email: 'owner@college.edu', password: 'a-long-owner-password' };

interface RawResponse {
  head: string;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends `requests` on one keep-alive TCP connection and reads one response per request, the way
 * an HTTP/1.1 client does: the headers, then exactly Content-Length bytes of body unless the
 * request was a HEAD. Bytes that are not where a status line must be fail the read.
 */
function exchange(port: number, requests: Array<{ method: string; path: string }>, deadlineMs = 5_000): Promise<RawResponse[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let buffer = Buffer.alloc(0);
    const responses: RawResponse[] = [];
    const finish = (err: Error | null) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(responses);
    };
    const timer = setTimeout(() => finish(new Error(`timed out with ${responses.length} of ${requests.length} responses`)), deadlineMs);
    socket.on('error', finish);
    socket.on('connect', () => {
      socket.write(requests.map((r) => `${r.method} ${r.path} HTTP/1.1\r\nHost: test\r\nConnection: keep-alive\r\n\r\n`).join(''));
    });
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const next = requests[responses.length];
        if (!next) return finish(null);
        if (buffer.length >= 9 && !buffer.subarray(0, 9).equals(Buffer.from('HTTP/1.1 '))) {
          return finish(new Error(`expected a status line, got ${JSON.stringify(buffer.subarray(0, 40).toString())}`));
        }
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const [head = '', ...lines] = buffer.subarray(0, end).toString('latin1').split('\r\n');
        const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
        const length = next.method === 'HEAD' ? 0 : Number(headers['content-length'] ?? 0);
        if (buffer.length < end + 4 + length) return;
        responses.push({ head, headers, body: buffer.subarray(end + 4, end + 4 + length).toString() });
        buffer = buffer.subarray(end + 4 + length);
      }
    });
  });
}

describe('HTTP answers on the wire', () => {
  let t: TestSwitchboard;
  beforeAll(async () => {
    t = await startTestSwitchboard({ OWNER_EMAIL: OWNER.email, OWNER_PASSWORD: OWNER.password });
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers HEAD with the GET headers and no body, so the next answer on the connection reads cleanly', async () => {
    const [head, get, missingHead, after] = await exchange(t.sb.port, [
      { method: 'HEAD', path: '/healthz' },
      { method: 'GET', path: '/healthz' },
      { method: 'HEAD', path: '/api/v1/nope' },
      { method: 'GET', path: '/readyz' },
    ]);
    expect(head!.head).toBe('HTTP/1.1 200 OK');
    expect(get!.head).toBe('HTTP/1.1 200 OK');
    expect(JSON.parse(get!.body)).toEqual({ status: 'ok' });
    // HEAD says how long the GET answer is.
    expect(head!.headers['content-length']).toBe(get!.headers['content-length']);
    expect(head!.headers['content-type']).toBe(get!.headers['content-type']);
    expect(missingHead!.head).toBe('HTTP/1.1 404 Not Found');
    expect(JSON.parse(after!.body)).toEqual({ status: 'ready' });
  });

  it('marks answers that carry a secret as not to be stored', async () => {
    const login = await t.http.post('/api/v1/sessions', OWNER);
    expect(login.status).toBe(201);
    expect(login.headers.get('cache-control')).toBe('no-store');
    const dept = await t.http.post('/api/v1/departments', { name: 'Admissions', code: 'ADM' }, login.body.token);
    const key = await t.http.post(`/api/v1/departments/${dept.body.id}/api-keys`, { name: 'CRM' }, login.body.token);
    expect(key.status).toBe(201);
    expect(key.body.key).toEqual(expect.any(String));
    expect(key.headers.get('cache-control')).toBe('no-store');
  });

  it('sends nosniff with every answer: success, errors, 404, 405 and a refused WebSocket upgrade', async () => {
    const answers = [
      await t.http.get('/healthz'),
      await t.http.get('/api/v1/openapi.json'),
      await t.http.post('/api/v1/sessions', { email: OWNER.email, password: 'wrong password' }),
      await t.http.request('POST', '/api/v1/sessions', { body: '{not json', headers: { 'content-type': 'application/json' } }),
      await t.http.get('/api/v1/nope'),
      await t.http.request('PUT', '/healthz'),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 401, 400, 404, 405]);
    for (const a of answers) expect(a.headers.get('x-content-type-options')).toBe('nosniff');

    const refused = await refusedUpgrade(`${t.sb.wsUrl}?token=not-a-session`);
    expect([refused.status, refused.headers['x-content-type-options']]).toEqual([401, 'nosniff']);
  });
});
