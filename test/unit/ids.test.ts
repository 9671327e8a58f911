import { decodeTime, isValid } from 'ulidx';
import { describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';

describe('sortable ids', () => {
  it('are ULIDs that carry the time they were made at', () => {
    const at = Date.UTC(2026, 0, 5, 15, 0, 0);
    const id = newId(at);
    expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(isValid(id)).toBe(true);
    expect(decodeTime(id)).toBe(at);
  });

  it('sort in creation order, also within one millisecond and when the clock steps back', () => {
    const at = Date.UTC(2026, 0, 5, 15, 0, 1);
    const ids = [newId(at), newId(at), newId(at), newId(at - 5), newId(at + 1), newId(at + 1)];
    for (let i = 0; i < 2000; i++) ids.push(newId(at + 2));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
