import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startTestSwitchboard, type TestSwitchboard } from '../helpers/switchboard.js';
import { buildOrg, type Org } from '../helpers/org.js';
import { plivoSignatureHeaders } from '../../src/sms/plivo-signature.js';
import { until } from '../helpers/wait.js';
import { tempDir } from '../helpers/temp-dir.js';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { ManualClock } from '../../src/clock.js';

// The webhook edge: only requests signed by Plivo for our public URL get in; retries are
// deduplicated; late and repeated delivery reports never move a status backwards.

let t: TestSwitchboard;
let org: Org;

// V2 on: the behaviour with Plivo credentials, where V2 is accepted unless WEBHOOK_SIGNATURE_V2 says otherwise.
const V2_ACCEPTED = { WEBHOOK_SIGNATURE_V2: 'accept' };

beforeAll(async () => {
  t = await startTestSwitchboard(V2_ACCEPTED);
  org = await buildOrg(t);
});
afterAll(async () => t?.close());

const digits = (e164: string) => e164.slice(1);

function post(path: string, params: Record<string, string>, sign: { token?: string; url?: string } | null) {
  const body = new URLSearchParams(params).toString();
  const url = sign?.url ?? t.sb.url + path;
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (sign) Object.assign(headers, plivoSignatureHeaders({ method: 'POST', url, params, authToken: sign.token ?? t.sb.simulator!.authToken }));
  return t.http.request('POST', path, { body, headers });
}

const inbound = (uuid: string, text = 'Hello there'): Record<string, string> => ({
  From: digits(org.students[0]!.phone),
  To: digits(org.account.numbers[0]!),
  Text: text,
  Type: 'sms',
  MessageUUID: uuid,
  Units: '1',
  TotalRate: '0.00000',
  TotalAmount: '0.00000',
  MessageIntent: '',
  PowerpackUUID: '',
});

/** Texts a student from the group account and waits until the simulator reports it delivered. */
async function textDelivered(contactId: string, text: string, on = t, onOrg = org) {
  const sent = await on.http.post('/api/v1/messages', { groupAccountCode: onOrg.account.apiCode, to: [contactId], text }, onOrg.member.token);
  const id = sent.body.messages[0].id as string;
  return until(
    on.sb.core.events,
    async () => {
      const x = await on.sb.store.messages.get(id);
      return x?.status === 'delivered' ? x : null;
    },
    'the message delivered',
  );
}

async function inboundCount(): Promise<number> {
  const conv = await t.sb.store.conversations.getByPair(org.account.id, org.students[0]!.id);
  if (!conv) return 0;
  return (await t.sb.store.messages.listForConversation(conv.id, { limit: 1000 })).filter((m) => m.direction === 'inbound').length;
}

describe('Plivo webhooks', () => {
  it('refuse an unsigned request with 403 and record nothing', async () => {
    const r = await post('/webhooks/plivo/message', inbound('u-unsigned'), null);
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('invalid_signature');
    expect(await inboundCount()).toBe(0);
  });

  it('refuse a request signed with another token', async () => {
    const r = await post('/webhooks/plivo/message', inbound('u-forged'), { token: 'not-the-auth-token-at-all' });
    expect(r.status).toBe(403);
    expect(await inboundCount()).toBe(0);
  });

  it('refuse a signature made for another URL (checked against PUBLIC_URL, not the Host header)', async () => {
    const r = await post('/webhooks/plivo/message', inbound('u-elsewhere'), { url: 'https://attacker.example/webhooks/plivo/message' });
    expect(r.status).toBe(403);
  });

  it('refuse a signed request whose body was changed after signing', async () => {
    const params = inbound('u-tampered');
    const headers = plivoSignatureHeaders({ method: 'POST', url: t.sb.url + '/webhooks/plivo/message', params, authToken: t.sb.simulator!.authToken });
    const body = new URLSearchParams({ ...params, Text: 'changed' }).toString();
    const r = await t.http.request('POST', '/webhooks/plivo/message', { body, headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' } });
    expect(r.status).toBe(403);
  });

  it('record a signed text once, however often Plivo retries it', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await post('/webhooks/plivo/message', inbound('u-retried'), {});
      expect(r.status).toBe(200);
    }
    expect(await inboundCount()).toBe(1);
  });

  it('answer 400 with the field for a signed but malformed request', async () => {
    const { MessageUUID: _drop, ...params } = inbound('x');
    const r = await post('/webhooks/plivo/message', params, {});
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('validation_failed');
    expect(JSON.stringify(r.body.error.details)).toContain('MessageUUID');
  });

  it('acknowledge a text to a number no account owns, without recording it', async () => {
    const r = await post('/webhooks/plivo/message', { ...inbound('u-nobody'), To: '16175550999' }, {});
    expect(r.status).toBe(200);
    expect(await t.sb.store.messages.getByProviderId('u-nobody')).toBeNull();
  });

  it('ignore delivery reports that arrive late or twice (by Sequence)', async () => {
    const m = await textDelivered(org.students[1]!.id, 'Status test');
    const id = m.id;
    const status = (Status: string, Sequence: string) => ({ MessageUUID: m.providerId!, Status, Sequence, From: '1', To: '2', ErrorCode: '' });
    expect((await post('/webhooks/plivo/status', status('sent', '2'), {})).status).toBe(200);
    expect((await t.sb.store.messages.get(id))!.status).toBe('delivered');
    expect((await post('/webhooks/plivo/status', status('undelivered', '4'), {})).status).toBe(200);
    expect((await t.sb.store.messages.get(id))!.status).toBe('undelivered');
    const history = await t.sb.store.messages.history(id);
    expect(history.map((h) => h.status)).toEqual(['queued', 'sending', 'submitted', 'sent', 'delivered', 'undelivered']);
  });

  it('refuse a forged voice call and answer a signed one with XML', async () => {
    const params = { From: digits(org.students[0]!.phone), To: digits(org.account.numbers[0]!), CallUUID: 'c-1', CallStatus: 'ringing', Direction: 'inbound' };
    expect((await post('/webhooks/plivo/voice', params, null)).status).toBe(403);
    const ok = await post('/webhooks/plivo/voice', params, {});
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toMatch(/xml/);
    expect(ok.body).toMatch(/^<Response>/);
  });
});

/**
 * Starts a POST and writes `chunk` again and again (`maxBytes` at most) without ever finishing
 * the body; resolves with the answer, which therefore came before the body was read whole.
 */
function postUnfinished(path: string, headers: Record<string, string | number>, chunk: Buffer, maxBytes: number) {
  return new Promise<{ status: number; body: any }>((resolve, reject) => {
    const req = http.request(t.sb.url + path, { method: 'POST', headers });
    let sent = 0;
    let answered = false;
    const deadline = setTimeout(() => {
      req.destroy();
      reject(new Error(`no answer after ${sent} bytes of an unfinished body`));
    }, 5_000);
    req.on('response', (res) => {
      answered = true;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        clearTimeout(deadline);
        req.destroy();
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
      });
    });
    // The server may close the connection after answering, while we are still writing.
    req.on('error', (e) => {
      if (answered) return;
      clearTimeout(deadline);
      reject(e);
    });
    const pump = (): void => {
      while (!answered && sent + chunk.length <= maxBytes) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}

describe('Plivo webhooks: large bodies are refused unread', () => {
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const filler = Buffer.from('f=1&'.repeat(4096));

  it('refuse a body declared over WEBHOOK_MAX_BODY_BYTES with 413 before reading it', async () => {
    // 1.8 MB declared (under the API's MAX_BODY_BYTES): only 16 KiB ever sent.
    const r = await postUnfinished('/webhooks/plivo/message', { ...form, 'content-length': 1_888_889 }, filler, 16 * 1024);
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe('payload_too_large');
  });

  it('refuse a streamed (chunked) body once it passes the limit, before it ends', async () => {
    const r = await postUnfinished('/webhooks/plivo/status', { ...form, 'transfer-encoding': 'chunked' }, filler, 1024 * 1024);
    expect(r.status).toBe(413);
  });

  it('refuse a signed form of more than 200 fields with 413, and record nothing', async () => {
    const params = inbound('u-crowded');
    for (let i = Object.keys(params).length; i <= 200; i++) params[`X${i}`] = '';
    const r = await post('/webhooks/plivo/message', params, {});
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe('payload_too_large');
    expect(await t.sb.store.messages.getByProviderId('u-crowded')).toBeNull();
  });

  it('refuse a header of more than 4 signatures as forged (403), even with the right one among them', async () => {
    const params = inbound('u-crowded-sigs');
    const url = t.sb.url + '/webhooks/plivo/message';
    const h = plivoSignatureHeaders({ method: 'POST', url, params, authToken: t.sb.simulator!.authToken });
    const crowd = ['bm90LWl0', 'bm90LWl0', 'bm90LWl0', 'bm90LWl0', h['X-Plivo-Signature-V3']!].join(',');
    const headers = { ...h, 'X-Plivo-Signature-V3': crowd, 'content-type': 'application/x-www-form-urlencoded' };
    const r = await t.http.request('POST', '/webhooks/plivo/message', { body: new URLSearchParams(params).toString(), headers });
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('invalid_signature');
  });

  it('keep the larger limit on the API routes (the limit is per route)', async () => {
    const r = await t.http.post('/api/v1/sessions', { email: 'nobody@example.edu', password: 'x'.repeat(100 * 1024) });
    expect(r.status).not.toBe(413);
    expect(r.body.error.code).not.toBe('payload_too_large');
  });
});

describe('Plivo webhooks: a V2 signature admits one request', () => {
  // V2 signs the URL and the nonce only. What an eavesdropper keeps of a genuine webhook: its V2
  // headers, made by the simulator's own signing code (the V3 ones dropped: messaging webhooks
  // are documented with V2 only).
  const FORM = 'application/x-www-form-urlencoded';
  const MESSAGE = '/webhooks/plivo/message';
  const STATUS = '/webhooks/plivo/status';

  function capturedV2(sb: TestSwitchboard['sb'], path: string, params: Record<string, string>, publicUrl = sb.url): Record<string, string> {
    const all = plivoSignatureHeaders({ method: 'POST', url: publicUrl + path, params, authToken: sb.simulator!.authToken });
    return Object.fromEntries(Object.entries(all).filter(([name]) => !name.includes('V3')));
  }

  const send = (on: TestSwitchboard, path: string, params: Record<string, string>, headers: Record<string, string>) =>
    on.http.request('POST', path, { body: new URLSearchParams(params).toString(), headers: { ...headers, 'content-type': FORM } });

  const text = (student: { phone: string }, uuid: string, body: string): Record<string, string> => ({ ...inbound(uuid, body), From: digits(student.phone) });

  it('refuse a captured signature replayed with other bodies: nothing stored, nobody opted out', async () => {
    const student = org.students[2]!;
    const genuine = text(student, 'u-v2-genuine', 'Is the deadline Friday?');
    const headers = capturedV2(t.sb, MESSAGE, genuine);
    expect((await send(t, MESSAGE, genuine, headers)).status).toBe(200);

    for (let i = 0; i < 20; i++) {
      const forged = text(student, `u-v2-forged-${i}`, i === 0 ? 'STOP' : `Forged text ${i}`);
      const r = await send(t, MESSAGE, forged, headers);
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe('invalid_signature');
      expect(await t.sb.store.messages.getByProviderId(forged.MessageUUID!)).toBeNull();
    }
    expect(await t.sb.store.contacts.listOptOuts(student.id)).toEqual([]);
    expect(await t.sb.store.messages.getByProviderId(genuine.MessageUUID!)).not.toBeNull();
  });

  it('refuse the V2 half of a request V3 admitted, replayed alone with another body', async () => {
    // Plivo may sign with both families: V3 admits the genuine request, and its V2 nonce is claimed too.
    const student = org.students[2]!;
    const genuine = text(student, 'u-both-genuine', 'Thanks!');
    const both = plivoSignatureHeaders({ method: 'POST', url: t.sb.url + MESSAGE, params: genuine, authToken: t.sb.simulator!.authToken });
    expect((await send(t, MESSAGE, genuine, both)).status).toBe(200);
    const v2Half = Object.fromEntries(Object.entries(both).filter(([name]) => !name.includes('V3')));
    const forged = text(student, 'u-both-forged', 'STOP');
    expect((await send(t, MESSAGE, forged, v2Half)).status).toBe(403);
    expect(await t.sb.store.messages.getByProviderId('u-both-forged')).toBeNull();
    expect(await t.sb.store.contacts.listOptOuts(student.id)).toEqual([]);
    // …while Plivo's retry of it, with both families again, still gets in.
    expect((await send(t, MESSAGE, genuine, both)).status).toBe(200);
  });

  it('let the genuine request in again under the same nonce (a retry), recorded once', async () => {
    const student = org.students[2]!;
    const genuine = text(student, 'u-v2-retried', 'Can I still apply?');
    const headers = capturedV2(t.sb, MESSAGE, genuine);
    for (let i = 0; i < 3; i++) expect((await send(t, MESSAGE, genuine, headers)).status).toBe(200);
    const conversation = await t.sb.store.conversations.getByPair(org.account.id, student.id);
    const messages = await t.sb.store.messages.listForConversation(conversation!.id, { limit: 10 });
    expect(messages.filter((m) => m.providerId === genuine.MessageUUID!)).toHaveLength(1);
  });

  it('refuse a delivery report replayed to record a carrier opt-out', async () => {
    const student = org.students[1]!;
    const m = await textDelivered(student.id, 'Replay test');
    const id = m.id;
    const report = { MessageUUID: m.providerId!, Status: 'sent', Sequence: '2', From: '1', To: '2', ErrorCode: '' };
    const headers = capturedV2(t.sb, STATUS, report);
    expect((await send(t, STATUS, report, headers)).status).toBe(200);
    const forged = { ...report, Status: 'undelivered', Sequence: '99', ErrorCode: '200' };
    expect((await send(t, STATUS, forged, headers)).status).toBe(403);
    expect((await t.sb.store.messages.get(id))!.status).toBe('delivered');
    expect(await t.sb.store.contacts.listOptOuts(student.id)).toEqual([]);
  });

  it('keep the binding across a restart, and let in the retry of a text whose first attempt died after the claim', async () => {
    // The URL Plivo calls stays the same across the restart; the port does not.
    const env = { ...V2_ACCEPTED, PUBLIC_URL: 'http://127.0.0.1:9' };
    const dir = tempDir();
    try {
      // The first process dies between its two writes: the nonce claimed, the message not stored.
      const store = await createSqliteStore({ file: join(dir.path, 'switchboard.db') });
      const dying = new Proxy(store, {
        get: (target, name) =>
          name === 'messages'
            ? new Proxy(target.messages, {
                get: (messages, method) =>
                  method === 'recordInbound' ? () => Promise.reject(new Error('the process died here')) : Reflect.get(messages, method, messages),
              })
            : Reflect.get(target, name, target),
      }) satisfies Store;
      const first = await startTestSwitchboard(env, { dataDir: dir.path, store: dying });
      let genuine: Record<string, string>;
      let headers: Record<string, string>;
      try {
        const firstOrg = await buildOrg(first);
        genuine = { ...inbound('u-v2-crash', 'Did you get my transcript?'), From: digits(firstOrg.students[0]!.phone), To: digits(firstOrg.account.numbers[0]!) };
        headers = capturedV2(first.sb, MESSAGE, genuine, env.PUBLIC_URL);
        expect((await send(first, MESSAGE, genuine, headers)).status).toBe(500);
      } finally {
        await first.close();
      }

      const second = await startTestSwitchboard(env, { dataDir: dir.path });
      try {
        const forged = { ...genuine, MessageUUID: 'u-v2-crash-forged', Text: 'STOP' };
        expect((await send(second, MESSAGE, forged, headers)).status).toBe(403);
        expect((await send(second, MESSAGE, genuine, headers)).status).toBe(200);
        expect(await second.sb.store.messages.getByProviderId(genuine.MessageUUID!)).toMatchObject({ text: 'Did you get my transcript?' });
        expect(await second.sb.store.messages.getByProviderId(forged.MessageUUID!)).toBeNull();
      } finally {
        await second.close();
      }
    } finally {
      dir.remove();
    }
  });

  it('keep the binding for WEBHOOK_NONCE_RETENTION_MS', async () => {
    const clock = new ManualClock();
    const timed = await startTestSwitchboard({ ...V2_ACCEPTED, WEBHOOK_NONCE_RETENTION_MS: String(48 * 3600_000) }, { clock });
    try {
      // A text to a number no account owns: acknowledged, nothing else needed.
      const genuine = { ...inbound('u-v2-kept', 'Hello'), To: '16175550999' };
      const headers = capturedV2(timed.sb, MESSAGE, genuine);
      expect((await send(timed, MESSAGE, genuine, headers)).status).toBe(200);
      clock.advance(48 * 3600_000 - 60_000);
      expect((await send(timed, MESSAGE, { ...genuine, MessageUUID: 'u-v2-kept-forged' }, headers)).status).toBe(403);
    } finally {
      await timed.close();
    }
  });
});

describe('Plivo webhooks with V2 refused (the default with the simulator, which signs with V3 too)', () => {
  const FORM = 'application/x-www-form-urlencoded';
  let v3: TestSwitchboard;
  let v3Org: Org;

  beforeAll(async () => {
    v3 = await startTestSwitchboard();
    v3Org = await buildOrg(v3);
  });
  afterAll(async () => v3?.close());

  const signed = (path: string, params: Record<string, string>) =>
    plivoSignatureHeaders({ method: 'POST', url: v3.sb.url + path, params, authToken: v3.sb.simulator!.authToken });
  const send = (path: string, params: Record<string, string>, headers: Record<string, string>) =>
    v3.http.request('POST', path, { body: new URLSearchParams(params).toString(), headers: { ...headers, 'content-type': FORM } });
  const v2Only = (headers: Record<string, string>) => Object.fromEntries(Object.entries(headers).filter(([name]) => !name.includes('V3')));
  const text = (uuid: string, body: string) => ({ ...inbound(uuid, body), From: digits(v3Org.students[2]!.phone), To: digits(v3Org.account.numbers[0]!) });
  /** Whether a V2 nonce is bound to a request: a claim for another request is refused only then. */
  const bound = async (nonce: string) =>
    !(await v3.sb.store.webhookNonces.claim({ nonce, fingerprint: 'another request', seenAt: Date.now(), keepUntil: Date.now() + 60_000 }));

  it('refuses a webhook signed with V2 alone, even genuine, on both messaging routes', async () => {
    const genuine = text('u-v2-off', 'Is the deadline Friday?');
    const r = await send('/webhooks/plivo/message', genuine, v2Only(signed('/webhooks/plivo/message', genuine)));
    expect([r.status, r.body.error?.code]).toEqual([403, 'invalid_signature']);
    expect(await v3.sb.store.messages.getByProviderId('u-v2-off')).toBeNull();
    const report = { MessageUUID: 'p-v2-off', Status: 'undelivered', Sequence: '9', From: '1', To: '2', ErrorCode: '200' };
    expect((await send('/webhooks/plivo/status', report, v2Only(signed('/webhooks/plivo/status', report)))).status).toBe(403);
  });

  it('admits a webhook signed with both families by V3 alone, binding no V2 nonce, and its V2 half alone changes nothing', async () => {
    const genuine = text('u-both-v3', 'Thanks!');
    const both = signed('/webhooks/plivo/message', genuine);
    expect((await send('/webhooks/plivo/message', genuine, both)).status).toBe(200);
    expect(await v3.sb.store.messages.getByProviderId('u-both-v3')).not.toBeNull();
    const nonce = both['X-Plivo-Signature-V2-Nonce']!;
    const forged = text('u-both-v3-forged', 'STOP');
    expect((await send('/webhooks/plivo/message', forged, v2Only(both))).status).toBe(403);
    expect(await v3.sb.store.messages.getByProviderId('u-both-v3-forged')).toBeNull();
    expect(await v3.sb.store.contacts.listOptOuts(v3Org.students[2]!.id)).toEqual([]);
    expect(await bound(nonce)).toBe(false);
  });

  it('changes nothing when a V3 request is replayed as it was: a STOP after START, a delivery report after a later one', async () => {
    const student = v3Org.students[1]!;
    const stop = { ...text('u-replay-stop', 'STOP'), From: digits(student.phone) };
    const stopHeaders = signed('/webhooks/plivo/message', stop);
    expect((await send('/webhooks/plivo/message', stop, stopHeaders)).status).toBe(200);
    const start = { ...text('u-replay-start', 'START'), From: digits(student.phone) };
    expect((await send('/webhooks/plivo/message', start, signed('/webhooks/plivo/message', start))).status).toBe(200);
    expect(await v3.sb.store.contacts.listOptOuts(student.id)).toEqual([]);
    // The captured STOP, sent again with its own headers: the same message, taken as a retry.
    expect((await send('/webhooks/plivo/message', stop, stopHeaders)).status).toBe(200);
    expect(await v3.sb.store.contacts.listOptOuts(student.id)).toEqual([]);

    const m = await textDelivered(v3Org.students[0]!.id, 'Replay of reports', v3, v3Org);
    const id = m.id;
    const early = { MessageUUID: m.providerId!, Status: 'undelivered', Sequence: '1', From: '1', To: '2', ErrorCode: '200' };
    expect((await send('/webhooks/plivo/status', early, signed('/webhooks/plivo/status', early))).status).toBe(200);
    expect((await v3.sb.store.messages.get(id))!.status).toBe('delivered');
    expect(await v3.sb.store.contacts.listOptOuts(v3Org.students[0]!.id)).toEqual([]);
  });
});
