import { describe, expect, it } from 'vitest';
import { slugify, uniqueApiCode } from '../../src/domain/api-code.js';

describe('apiCode generation', () => {
  it('makes a URL-safe code from the name', () => {
    expect(slugify('Admissions – Fall 2026')).toBe('admissions-fall-2026');
    expect(slugify('Financial Aid (Évening)')).toBe('financial-aid-evening');
    expect(slugify('!!')).toBe('account-x');
  });

  it('adds a number when the code is taken', async () => {
    const taken = new Set(['advising', 'advising-2']);
    expect(await uniqueApiCode('Advising', async (c) => taken.has(c))).toBe('advising-3');
  });
});
