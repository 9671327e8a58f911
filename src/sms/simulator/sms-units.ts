import { analyse } from '../../domain/segments.js';

// How many parts (Plivo's `Units`) a text takes, and Plivo's own length limit (plivo.md §10).
// The encoding rule is the one of src/domain/segments.ts: GSM 03.38 is the same for both sides.

export interface TextSize {
  encoding: 'GSM-7' | 'UCS-2';
  /** Septets (GSM-7) or UTF-16 code units (UCS-2). */
  length: number;
  units: number;
}

export function measureText(text: string): TextSize {
  const a = analyse(text);
  return { encoding: a.encoding, length: a.units, units: Math.max(1, a.segments) };
}

/** Plivo's limits: 1600 GSM-7 characters or 737 UCS-2 units (11 parts). */
export function isTooLong(t: TextSize): boolean {
  return t.encoding === 'GSM-7' ? t.length > 1600 : t.length > 737;
}
