import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

// Phone numbers are stored and compared as E.164. Input may be in any common US style
// ("(617) 555-0123", "617.555.0123", "+1 617 555 0123"); numbers without a country code are
// read as US numbers, the deployments this product serves.

export function toE164(input: string): string | null {
  if (input.length > 64) return null;
  const known = cache.get(input);
  if (known !== undefined) return known;
  const trimmed = input.trim();
  let result: string | null = null;
  if (trimmed.length > 0 && trimmed.length <= 32) {
    const parsed = parsePhoneNumberFromString(trimmed, 'US');
    if (parsed?.isValid()) result = parsed.number;
  }
  // Parsing is costly (a tenth of an inbound webhook's CPU) and the same pool and student numbers
  // come back all day: remember the latest answers, oldest forgotten first.
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
  cache.set(input, result);
  return result;
}

const CACHE_SIZE = 10_000;
const cache = new Map<string, string | null>();

/** The NANP area code (NPA) of an E.164 number, or null outside the NANP. */
export function areaCode(e164: string): string | null {
  return /^\+1(\d{3})\d{7}$/.exec(e164)?.[1] ?? null;
}

/** Plivo writes numbers as digits without '+'. */
export function toPlivoDigits(e164: string): string {
  return e164.replace(/^\+/, '');
}

export function fromPlivoDigits(digits: string): string | null {
  return toE164(digits.startsWith('+') ? digits : `+${digits}`);
}
