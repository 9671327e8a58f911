import { describe, expect, it } from 'vitest';
import { MAX_TAGS, MAX_TAG_LENGTH, normaliseTags } from '../../src/domain/contact-fields.js';
import { importColumns, importRow, type ImportRowContext } from '../../src/domain/contact-import.js';

describe('contact tags', () => {
  it('stores tags lowercase, trimmed, with inner white space as one space, each once and sorted', () => {
    expect(normaliseTags([' Transfer ', 'fall-2026', 'TRANSFER', 'First  Gen'])).toEqual({ tags: ['fall-2026', 'first gen', 'transfer'] });
    expect(normaliseTags(['Ünïversité', 'ÜNÏVERSITÉ'])).toEqual({ tags: ['ünïversité'] });
    expect(normaliseTags([])).toEqual({ tags: [] });
  });

  it(`refuses an empty tag, one over ${MAX_TAG_LENGTH} characters, odd characters and more than ${MAX_TAGS} tags`, () => {
    expect(normaliseTags(['   '])).toEqual({ problem: 'a tag cannot be empty' });
    expect(normaliseTags(['x'.repeat(MAX_TAG_LENGTH)])).toEqual({ tags: ['x'.repeat(MAX_TAG_LENGTH)] });
    expect(normaliseTags(['x'.repeat(MAX_TAG_LENGTH + 1)])).toHaveProperty('problem');
    for (const bad of ['a;b', 'a,b', '-lead', 'bell\u0007', '<b>']) expect(normaliseTags([bad]), bad).toHaveProperty('problem');
    const many = Array.from({ length: MAX_TAGS + 1 }, (_, i) => `t${i}`);
    expect(normaliseTags(many)).toEqual({ problem: `${MAX_TAGS + 1} tags; a contact has at most ${MAX_TAGS}` });
    // Repeats are one tag, so they do not count against the limit.
    expect(normaliseTags([...many.slice(0, MAX_TAGS), 'T0'])).toHaveProperty('tags');
  });
});

describe('the Tags column of a contact import', () => {
  const ctx = (): ImportRowContext => ({ staffUser: () => undefined, seen: new Map() });

  it('reads tags separated by ";" as the row’s tags, a blank cell as none, and no column as “leave them”', () => {
    const columns = importColumns(['FirstName', 'Phone', 'Tags', 'Program']);
    expect(columns.custom.map((c) => c.name)).toEqual(['Program']);
    const row = importRow(columns, ['Ana', '617-555-0101', 'Fall-2026; transfer ;;', 'Nursing'], 2, ctx());
    expect(row).toMatchObject({ contact: { tags: ['fall-2026', 'transfer'], customFields: { Program: 'Nursing' } } });
    expect(importRow(columns, ['Ben', '617-555-0102', '', ''], 3, ctx())).toMatchObject({ contact: { tags: [] } });
    const without = importColumns(['FirstName', 'Phone']);
    expect(importRow(without, ['Ana', '617-555-0101'], 2, ctx())).toMatchObject({ contact: { tags: undefined } });
  });

  it('refuses a bad cell with its row, its column and why', () => {
    const columns = importColumns(['Phone', 'Tags']);
    expect(importRow(columns, ['617-555-0101', 'ok;<script>'], 7, ctx())).toEqual({
      issue: { path: 'row 7.Tags', message: '"<script>" may hold only letters, digits, spaces and - _ . / : (starting with a letter or digit)' },
    });
    const tooMany = Array.from({ length: MAX_TAGS + 1 }, (_, i) => `t${i}`).join(';');
    expect(importRow(columns, ['617-555-0102', tooMany], 8, ctx())).toEqual({ issue: { path: 'row 8.Tags', message: `${MAX_TAGS + 1} tags; a contact has at most ${MAX_TAGS}` } });
  });
});
