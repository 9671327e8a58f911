import { describe, expect, it } from 'vitest';
import { analyse } from '../../src/domain/segments.js';

describe('message length and segments', () => {
  it('fits 160 GSM-7 characters in one segment', () => {
    expect(analyse('a'.repeat(160))).toMatchObject({ encoding: 'GSM-7', units: 160, segments: 1, remainingInSegment: 0 });
  });

  it('splits 161 GSM-7 characters into two parts of 153', () => {
    expect(analyse('a'.repeat(161))).toMatchObject({ encoding: 'GSM-7', segments: 2, remainingInSegment: 306 - 161 });
    expect(analyse('a'.repeat(306)).segments).toBe(2);
    expect(analyse('a'.repeat(307)).segments).toBe(3);
  });

  it('counts GSM extension characters twice', () => {
    const info = analyse('{}[]~\\|^€');
    expect(info.encoding).toBe('GSM-7');
    expect(info.units).toBe(18);
    expect(info.characters).toBe(9);
    expect(analyse('€'.repeat(80)).segments).toBe(1);
    expect(analyse('€'.repeat(81)).segments).toBe(2);
  });

  it('switches the whole text to UCS-2 for one character outside GSM-7', () => {
    expect(analyse('a'.repeat(69) + 'ł')).toMatchObject({ encoding: 'UCS-2', units: 70, segments: 1 });
    expect(analyse('a'.repeat(70) + 'ł')).toMatchObject({ encoding: 'UCS-2', segments: 2 });
    expect(analyse('x'.repeat(134) + '✓').segments).toBe(3);
  });

  it('counts an emoji as two UCS-2 units but one character', () => {
    expect(analyse('👍')).toMatchObject({ encoding: 'UCS-2', units: 2, characters: 1, segments: 1 });
  });

  it('treats accented letters of the GSM set as GSM-7', () => {
    expect(analyse('Café à Zürich, señor Ñ').encoding).toBe('GSM-7');
  });

  it('has no segment for an empty text', () => {
    expect(analyse('').segments).toBe(0);
  });
});
