import { describe, expect, it } from 'vitest';
import { parseIdempotencyKey } from '../../src/services/idempotency.js';

// The Idempotency-Key header value: the draft's quoted string, or a bare value as many clients send.

describe('parsing an Idempotency-Key header', () => {
  it('takes a quoted string, unescaping \\" and \\\\', () => {
    expect(parseIdempotencyKey('"8e03978e-40d5-43e8-bc93-6894a57f9324"')).toBe('8e03978e-40d5-43e8-bc93-6894a57f9324');
    expect(parseIdempotencyKey('"say \\"hi\\" \\\\ bye"')).toBe('say "hi" \\ bye');
  });

  it('takes a bare value of visible ASCII as the same key', () => {
    expect(parseIdempotencyKey('8e03978e-40d5')).toBe(parseIdempotencyKey('"8e03978e-40d5"'));
    expect(parseIdempotencyKey('  padded  ')).toBe('padded');
  });

  it('is absent when the header is', () => {
    expect(parseIdempotencyKey(undefined)).toBeUndefined();
  });

  it('takes up to 255 characters', () => {
    expect(parseIdempotencyKey('k'.repeat(255))).toHaveLength(255);
    expect(parseIdempotencyKey(`"${'k'.repeat(255)}"`)).toHaveLength(255);
  });

  it.each([
    ['empty', ''],
    ['an empty quoted string', '""'],
    ['256 characters', 'k'.repeat(256)],
    ['256 characters quoted', `"${'k'.repeat(256)}"`],
    ['an unterminated quote', '"abc'],
    ['an unknown escape', '"a\\nb"'],
    ['a bare value with a space', 'two words'],
    ['a control character', 'bell\x07'],
    ['DEL', 'del\x7f'],
    ['a non-ASCII character', 'café'],
    ['a quoted non-ASCII character', '"café"'],
  ])('refuses %s with idempotency_key_invalid (400)', (_what, value) => {
    expect(() => parseIdempotencyKey(value)).toThrow(expect.objectContaining({ code: 'idempotency_key_invalid', status: 400 }));
  });
});
