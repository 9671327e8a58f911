import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as plivo from 'plivo';
import {
  WEBHOOK_LIMITS,
  plivoSignatureHeaders,
  signV2,
  signV3,
  v2BaseString,
  v3BaseString,
  verifyPlivoSignature,
  type SignatureParams,
} from '../../src/sms/plivo-signature.js';

// The worked examples come from plivo.md §4, where each was checked against the SDK's validators.
const TOKEN = 'MYAUTHTOKEN';
const NONCE = '05429567804466091622';
const INBOUND_URL = 'https://example.com/sms/inbound?tenant=42';
const INBOUND_PARAMS = {
  From: '14155550100',
  To: '14155550101',
  Text: 'Hello',
  Type: 'sms',
  MessageUUID: 'abc-123',
  Units: '1',
  TotalRate: '0.00000',
  TotalAmount: '0.00000',
  MessageIntent: '',
  PowerpackUUID: '',
};
const STATUS_GET_URL = 'https://example.com/sms/status?MessageUUID=abc-123&Status=delivered&From=1&To=2';

/** Lower-cased, as our HTTP gateway hands headers over. */
function lower(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

function signed(method: 'GET' | 'POST', url: string, params: SignatureParams, authToken = TOKEN, mainAuthToken?: string) {
  return lower(plivoSignatureHeaders({ method, url, params, authToken, ...(mainAuthToken ? { mainAuthToken } : {}) }));
}

describe('Plivo signatures: the worked examples', () => {
  it('V3 POST builds the documented base string and signature', () => {
    expect(v3BaseString('POST', INBOUND_URL, INBOUND_PARAMS)).toBe(
      'https://example.com/sms/inbound?tenant=42.From14155550100MessageIntentMessageUUIDabc-123PowerpackUUIDTextHelloTo14155550101TotalAmount0.00000TotalRate0.00000TypesmsUnits1',
    );
    const sig = signV3({ method: 'POST', url: INBOUND_URL, params: INBOUND_PARAMS, nonce: NONCE, authToken: TOKEN });
    expect(sig).toBe('684XSnr7IYezfzzjUwxot1fNQfXw4tT+uquJbSBakSo=');
    expect(plivo.validateV3Signature('POST', INBOUND_URL, NONCE, TOKEN, sig, { ...INBOUND_PARAMS })).toBe(true);
  });

  it('V3 GET sorts the query into the documented base string and signature', () => {
    expect(v3BaseString('GET', STATUS_GET_URL)).toBe('https://example.com/sms/status?From=1&MessageUUID=abc-123&Status=delivered&To=2');
    const sig = signV3({ method: 'GET', url: STATUS_GET_URL, nonce: NONCE, authToken: TOKEN });
    expect(sig).toBe('ftuoSqRLtr8Xi3pwmlfsKA2OU4/ygNy5z5f2Vd873hM=');
    expect(plivo.validateV3Signature('GET', STATUS_GET_URL, NONCE, TOKEN, sig)).toBe(true);
  });

  it('V2 signs the URL without its query', () => {
    expect(v2BaseString(INBOUND_URL)).toBe('https://example.com/sms/inbound');
    const sig = signV2({ url: INBOUND_URL, nonce: NONCE, authToken: TOKEN });
    expect(sig).toBe('1JYVE/HH+p9cGA7mgbV/66fREGNRml8Acdk8b8mF+E8=');
    expect(plivo.validateSignature(INBOUND_URL, NONCE, sig, TOKEN)).toBe(true);
  });
});

describe('Plivo signatures: base strings', () => {
  it('keeps an explicit port and the raw path', () => {
    expect(v3BaseString('POST', 'https://example.com:443/a%20b/', {})).toBe('https://example.com:443/a%20b/');
    expect(v2BaseString('http://127.0.0.1:8080/hook/?x=1')).toBe('http://127.0.0.1:8080/hook/');
  });

  it('POST without params and without query adds nothing; with params and no query adds a bare "?"', () => {
    expect(v3BaseString('POST', 'https://e.com/p', {})).toBe('https://e.com/p');
    expect(v3BaseString('POST', 'https://e.com/p', { b: '2', a: '1' })).toBe('https://e.com/p?a1b2');
  });

  it('GET merges extra params into the query and sorts repeated values', () => {
    expect(v3BaseString('GET', 'https://e.com/p?b=2&a=9&a=1', { c: ['z', 'y'] })).toBe('https://e.com/p?a=1&a=9&b=2&c=y&c=z');
  });
});

describe('Plivo signatures: signing round-trips through the SDK', () => {
  const cases: Array<{ name: string; method: 'GET' | 'POST'; url: string; params: SignatureParams }> = [
    { name: 'POST form with a query', method: 'POST', url: INBOUND_URL, params: INBOUND_PARAMS },
    { name: 'POST form without a query', method: 'POST', url: 'http://127.0.0.1:3000/webhooks/plivo/status', params: { Status: 'sent', Sequence: '2' } },
    { name: 'POST with non-ASCII text', method: 'POST', url: 'http://127.0.0.1:3000/webhooks/plivo/message', params: { Text: 'café ☕ 😀', From: '1' } },
    { name: 'POST with repeated fields', method: 'POST', url: 'http://h/x', params: { Media: ['b', 'a'], To: '2' } },
    { name: 'POST with an encoded query', method: 'POST', url: 'http://h/x?name=a%20b&t=%C3%A9', params: { A: '1' } },
    { name: 'POST with no params', method: 'POST', url: 'http://h/x?x=1', params: {} },
    { name: 'GET with a query', method: 'GET', url: STATUS_GET_URL, params: {} },
    { name: 'GET without a query', method: 'GET', url: 'http://h:81/x', params: {} },
  ];

  for (const c of cases) {
    it(`${c.name}: the SDK accepts V3, Ma-V3, V2 and Ma-V2`, () => {
      const h = signed(c.method, c.url, c.params, 'sub-token', 'main-token');
      const params = c.method === 'GET' ? {} : JSON.parse(JSON.stringify(c.params));
      const v3Nonce = h['x-plivo-signature-v3-nonce']!;
      const v2Nonce = h['x-plivo-signature-v2-nonce']!;
      expect(v3Nonce).toMatch(/^\d{20}$/);
      expect(plivo.validateV3Signature(c.method, c.url, v3Nonce, 'sub-token', h['x-plivo-signature-v3']!, params)).toBe(true);
      expect(plivo.validateV3Signature(c.method, c.url, v3Nonce, 'main-token', h['x-plivo-signature-ma-v3']!, JSON.parse(JSON.stringify(params)))).toBe(true);
      expect(plivo.validateSignature(c.url, v2Nonce, h['x-plivo-signature-v2']!, 'sub-token')).toBe(true);
      expect(plivo.validateSignature(c.url, v2Nonce, h['x-plivo-signature-ma-v2']!, 'main-token')).toBe(true);
      expect(verifyPlivoSignature({ method: c.method, url: c.url, params: c.params, headers: h, authToken: 'sub-token', mainAuthToken: 'main-token' })).toMatchObject({ ok: true, scheme: 'V3' });
    });
  }
});

describe('verifyPlivoSignature', () => {
  const url = 'http://127.0.0.1:3000/webhooks/plivo/message';
  const params = { From: '16175550123', To: '16175550100', Text: 'Hi', MessageIntent: '' };
  const headers = signed('POST', url, params);

  it('accepts a genuine POST', () => {
    expect(verifyPlivoSignature({ method: 'POST', url, params, headers, authToken: TOKEN })).toMatchObject({ ok: true, scheme: 'V3' });
  });

  it('accepts a GET whose parameters are only in the URL (not passed twice)', () => {
    const h = signed('GET', STATUS_GET_URL, {});
    const query = { MessageUUID: 'abc-123', Status: 'delivered', From: '1', To: '2' };
    expect(verifyPlivoSignature({ method: 'get', url: STATUS_GET_URL, params: query, headers: h, authToken: TOKEN })).toMatchObject({ ok: true, scheme: 'V3' });
  });

  it('rejects a tampered parameter, an added parameter, a dropped empty parameter', () => {
    expect(verifyPlivoSignature({ method: 'POST', url, params: { ...params, Text: 'Hi!' }, headers, authToken: TOKEN })).toMatchObject({ ok: false, reason: 'mismatch' });
    expect(verifyPlivoSignature({ method: 'POST', url, params: { ...params, Extra: '1' }, headers, authToken: TOKEN })).toMatchObject({ ok: false, reason: 'mismatch' });
    const { MessageIntent: _dropped, ...withoutEmpty } = params;
    expect(verifyPlivoSignature({ method: 'POST', url, params: withoutEmpty, headers, authToken: TOKEN })).toMatchObject({ ok: false, reason: 'mismatch' });
  });

  it('rejects another URL, another nonce, another token', () => {
    expect(verifyPlivoSignature({ method: 'POST', url: `${url}?x=1`, params, headers, authToken: TOKEN })).toMatchObject({ ok: false, reason: 'mismatch' });
    expect(verifyPlivoSignature({ method: 'POST', url: url.replace('3000', '3001'), params, headers, authToken: TOKEN })).toMatchObject({ ok: false });
    const otherNonce = { ...headers, 'x-plivo-signature-v3-nonce': '11111111111111111111' };
    expect(verifyPlivoSignature({ method: 'POST', url, params, headers: otherNonce, authToken: TOKEN })).toMatchObject({ ok: false, reason: 'mismatch' });
    expect(verifyPlivoSignature({ method: 'POST', url, params, headers, authToken: 'OTHERTOKEN' })).toMatchObject({ ok: false, reason: 'mismatch' });
  });

  it('rejects a tampered GET query', () => {
    const h = signed('GET', STATUS_GET_URL, {});
    const tampered = STATUS_GET_URL.replace('delivered', 'failed');
    expect(verifyPlivoSignature({ method: 'GET', url: tampered, params: {}, headers: h, authToken: TOKEN })).toMatchObject({ ok: false, reason: 'mismatch' });
  });

  it('accepts any one of several comma-separated signatures', () => {
    const h = { ...headers, 'x-plivo-signature-v3': `bm90LWl0, ${headers['x-plivo-signature-v3']!}` };
    expect(verifyPlivoSignature({ method: 'POST', url, params, headers: h, authToken: TOKEN })).toMatchObject({ ok: true, scheme: 'V3' });
  });

  it('falls back to Ma-V3 signed with the main-account token', () => {
    const h = signed('POST', url, params, 'subaccount-token', 'main-token');
    expect(verifyPlivoSignature({ method: 'POST', url, params, headers: h, authToken: 'unknown-sub-token', mainAuthToken: 'main-token' })).toMatchObject({ ok: true, scheme: 'Ma-V3' });
  });

  it('uses V2 only when allowed (messaging routes)', () => {
    const onlyV2 = Object.fromEntries(Object.entries(headers).filter(([k]) => !k.includes('v3')));
    expect(verifyPlivoSignature({ method: 'POST', url, params, headers: onlyV2, authToken: TOKEN })).toMatchObject({ ok: false, reason: 'missing_signature' });
    expect(verifyPlivoSignature({ method: 'POST', url, params, headers: onlyV2, authToken: TOKEN, allowV2: true })).toMatchObject({ ok: true, scheme: 'V2' });
    expect(verifyPlivoSignature({ method: 'POST', url, params, headers: onlyV2, authToken: 'OTHERTOKEN', allowV2: true })).toMatchObject({ ok: false, reason: 'mismatch' });
  });

  it('never lets V2 rescue a V3 mismatch (V2 does not cover the body)', () => {
    const tampered = { ...params, Text: 'changed after signing' };
    expect(verifyPlivoSignature({ method: 'POST', url, params: tampered, headers, authToken: TOKEN, allowV2: true })).toMatchObject({ ok: false, reason: 'mismatch' });
  });

  it('explains a missing signature, a missing nonce, an unsupported method', () => {
    expect(verifyPlivoSignature({ method: 'POST', url, params, headers: {}, authToken: TOKEN })).toMatchObject({ ok: false, reason: 'missing_signature' });
    const noNonce = { 'x-plivo-signature-v3': headers['x-plivo-signature-v3']! };
    expect(verifyPlivoSignature({ method: 'POST', url, params, headers: noNonce, authToken: TOKEN })).toMatchObject({ ok: false, reason: 'missing_nonce' });
    expect(verifyPlivoSignature({ method: 'PUT', url, params, headers, authToken: TOKEN })).toMatchObject({ ok: false, reason: 'unsupported_method' });
  });

  it('matches header names case-insensitively', () => {
    const mixed = plivoSignatureHeaders({ method: 'POST', url, params, authToken: TOKEN });
    expect(verifyPlivoSignature({ method: 'POST', url, params, headers: mixed, authToken: TOKEN })).toMatchObject({ ok: true, scheme: 'V3' });
  });
});

describe('verifyPlivoSignature: a forged request is cheap to refuse', () => {
  const url = 'http://127.0.0.1:3000/webhooks/plivo/message';
  const form = (fields: number) => Object.fromEntries(Array.from({ length: fields }, (_, i) => [`F${i}`, String(i)]));
  const bogus = (n: number) => Array.from({ length: n }, (_, i) => Buffer.alloc(32, i + 1).toString('base64'));

  it(`refuses a form of more than ${WEBHOOK_LIMITS.maxFields} fields before computing any HMAC, even a correctly signed one`, () => {
    const big = form(WEBHOOK_LIMITS.maxFields + 1);
    expect(verifyPlivoSignature({ method: 'POST', url, params: big, headers: signed('POST', url, big), authToken: TOKEN })).toEqual({
      ok: false,
      reason: 'too_many_fields',
      detail: expect.any(String),
      hmacs: 0,
    });
    const repeated = { Media: Array.from({ length: WEBHOOK_LIMITS.maxFields + 1 }, (_, i) => String(i)) };
    expect(verifyPlivoSignature({ method: 'POST', url, params: repeated, headers: signed('POST', url, repeated), authToken: TOKEN })).toMatchObject({ reason: 'too_many_fields', hmacs: 0 });
    const query = `${url}?${Array.from({ length: WEBHOOK_LIMITS.maxFields + 1 }, (_, i) => `q${i}=1`).join('&')}`;
    expect(verifyPlivoSignature({ method: 'GET', url: query, params: {}, headers: signed('GET', query, {}), authToken: TOKEN })).toMatchObject({ reason: 'too_many_fields', hmacs: 0 });
    const most = form(WEBHOOK_LIMITS.maxFields);
    expect(verifyPlivoSignature({ method: 'POST', url, params: most, headers: signed('POST', url, most), authToken: TOKEN })).toMatchObject({ ok: true, scheme: 'V3' });
  });

  it(`refuses more than ${WEBHOOK_LIMITS.maxSignaturesPerHeader} signatures in one header before computing any HMAC`, () => {
    const params = form(3);
    const h = signed('POST', url, params);
    const crowd = (n: number) => ({ ...h, 'x-plivo-signature-v3': [...bogus(n - 1), h['x-plivo-signature-v3']!].join(',') });
    expect(verifyPlivoSignature({ method: 'POST', url, params, headers: crowd(WEBHOOK_LIMITS.maxSignaturesPerHeader + 1), authToken: TOKEN })).toMatchObject({
      ok: false,
      reason: 'too_many_signatures',
      hmacs: 0,
    });
    expect(verifyPlivoSignature({ method: 'POST', url, params, headers: crowd(WEBHOOK_LIMITS.maxSignaturesPerHeader), authToken: TOKEN })).toMatchObject({ ok: true, scheme: 'V3' });
  });

  it('computes one HMAC per token, however many candidate signatures the headers carry', () => {
    const params = form(WEBHOOK_LIMITS.maxFields);
    const headers = { 'x-plivo-signature-v3': bogus(3).join(','), 'x-plivo-signature-ma-v3': bogus(3).join(', '), 'x-plivo-signature-v3-nonce': NONCE };
    expect(verifyPlivoSignature({ method: 'POST', url, params, headers, authToken: TOKEN })).toMatchObject({ ok: false, reason: 'mismatch', hmacs: 1 });
    expect(verifyPlivoSignature({ method: 'POST', url, params, headers, authToken: TOKEN, mainAuthToken: 'main-token' })).toMatchObject({ ok: false, reason: 'mismatch', hmacs: 2 });
    const v2 = { 'x-plivo-signature-v2': bogus(4).join(','), 'x-plivo-signature-ma-v2': bogus(4).join(','), 'x-plivo-signature-v2-nonce': NONCE };
    expect(verifyPlivoSignature({ method: 'POST', url, params, headers: v2, authToken: TOKEN, allowV2: true })).toMatchObject({ ok: false, reason: 'mismatch', hmacs: 1 });
  });

  it('returns the nonce that matched, and the nonce of any valid V2 signature (to be claimed once)', () => {
    const params = form(2);
    const h = lower(plivoSignatureHeaders({ method: 'POST', url, params, authToken: TOKEN, v3Nonce: '1'.repeat(20), v2Nonce: '2'.repeat(20) }));
    const verify = (headers: Record<string, string>, allowV2: boolean) => verifyPlivoSignature({ method: 'POST', url, params, headers, authToken: TOKEN, allowV2 });
    expect(verify(h, true)).toMatchObject({ ok: true, scheme: 'V3', nonce: '1'.repeat(20), v2Nonce: '2'.repeat(20) });
    expect(verify(h, false)).toMatchObject({ ok: true, scheme: 'V3', v2Nonce: null });
    const onlyV2 = Object.fromEntries(Object.entries(h).filter(([k]) => !k.includes('v3')));
    expect(verify(onlyV2, true)).toMatchObject({ ok: true, scheme: 'V2', nonce: '2'.repeat(20), v2Nonce: '2'.repeat(20) });
    // A V2 header that does not verify is no nonce to claim (nor a reason to refuse what V3 admits).
    expect(verify({ ...h, 'x-plivo-signature-v2': 'bm90LWl0', 'x-plivo-signature-ma-v2': 'bm90LWl0' }, true)).toMatchObject({ ok: true, scheme: 'V3', v2Nonce: null });
  });
});

describe('verifyPlivoSignature agrees with the SDK validators', () => {
  const key = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,11}$/);
  const value = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('', '0.00000', 'café ☕', 'a=b&c', '+1 (617)'));
  const params = fc.dictionary(key, fc.oneof({ weight: 4, arbitrary: value }, { weight: 1, arbitrary: fc.array(value, { minLength: 1, maxLength: 3 }) }), { maxKeys: 8 });
  const url = fc.constantFrom(
    'http://127.0.0.1:3000/webhooks/plivo/message',
    'https://example.com/sms/inbound?tenant=42',
    'https://example.com:443/a%20b/?x=1&x=0&B=2',
    'http://h:81/x',
  );
  const method = fc.constantFrom('GET' as const, 'POST' as const);
  const token = fc.constantFrom(TOKEN, 'other-token');

  it('for V3: a signature the SDK accepts is accepted, one it refuses is refused', () => {
    fc.assert(
      fc.property(method, url, params, token, fc.boolean(), (m, u, p, signingToken, garble) => {
        const pairs = Object.entries(p).flatMap(([k, v]): Array<[string, string]> => (typeof v === 'string' ? [[k, v]] : v.map((x) => [k, x])));
        const target = m === 'GET' ? `${u}${u.includes('?') ? '&' : '?'}${new URLSearchParams(pairs).toString()}` : u;
        const body = m === 'GET' ? {} : p;
        const h = signed(m, target, body, signingToken);
        const sig = garble ? `${h['x-plivo-signature-v3']!.slice(0, -2)}A=` : h['x-plivo-signature-v3']!;
        const headers = { 'x-plivo-signature-v3': sig, 'x-plivo-signature-v3-nonce': h['x-plivo-signature-v3-nonce']! };
        const sdk = plivo.validateV3Signature(m, target, headers['x-plivo-signature-v3-nonce'], TOKEN, sig, JSON.parse(JSON.stringify(body)));
        expect(verifyPlivoSignature({ method: m, url: target, params: body, headers, authToken: TOKEN }).ok).toBe(sdk);
      }),
      { numRuns: 300 },
    );
  });

  it('for V2: the same answers as validateSignature', () => {
    fc.assert(
      fc.property(url, token, fc.boolean(), (u, signingToken, garble) => {
        const h = signed('POST', u, {}, signingToken);
        const sig = garble ? `${h['x-plivo-signature-v2']!.slice(0, -2)}A=` : h['x-plivo-signature-v2']!;
        const headers = { 'x-plivo-signature-v2': sig, 'x-plivo-signature-v2-nonce': h['x-plivo-signature-v2-nonce']! };
        const sdk = plivo.validateSignature(u, headers['x-plivo-signature-v2-nonce'], sig, TOKEN);
        expect(verifyPlivoSignature({ method: 'POST', url: u, params: {}, headers, authToken: TOKEN, allowV2: true }).ok).toBe(sdk);
      }),
      { numRuns: 100 },
    );
  });
});
