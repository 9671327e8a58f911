import type { Encoding } from './types.js';

// SMS length rules (GSM 03.38). A text is GSM-7 when every character is in the basic set or the
// extension set (extension characters take two septets: an escape plus the character); otherwise
// the whole text is UCS-2, counted in UTF-16 code units (an emoji counts 2).
// Single segment: 160 septets / 70 units. Concatenated: 153 / 67 per part (the rest is the UDH).

const GSM_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM_EXTENSION = '^{}\\[~]|€\f';

const basic = new Set(GSM_BASIC);
const extension = new Set(GSM_EXTENSION);

export interface SegmentInfo {
  encoding: Encoding;
  /** Septets (GSM-7) or UTF-16 code units (UCS-2). */
  units: number;
  segments: number;
  /** Characters as a person counts them (code points). */
  characters: number;
  /** Units left in the last segment before another one is needed. */
  remainingInSegment: number;
}

export function analyse(text: string): SegmentInfo {
  let septets = 0;
  let gsm = true;
  for (const ch of text) {
    if (basic.has(ch)) septets += 1;
    else if (extension.has(ch)) septets += 2;
    else {
      gsm = false;
      break;
    }
  }
  const characters = [...text].length;
  if (gsm) return summarise('GSM-7', septets, 160, 153, characters);
  return summarise('UCS-2', text.length, 70, 67, characters);
}

function summarise(encoding: Encoding, units: number, single: number, multi: number, characters: number): SegmentInfo {
  if (units === 0) return { encoding, units, segments: 0, characters, remainingInSegment: single };
  if (units <= single) return { encoding, units, segments: 1, characters, remainingInSegment: single - units };
  const segments = Math.ceil(units / multi);
  return { encoding, units, segments, characters, remainingInSegment: segments * multi - units };
}
