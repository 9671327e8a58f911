import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

// Phone numbers are stored and compared as E.164. Input may be in any common US style
// ("(617) 555-0123", "617.555.0123", "+1 617 555 0123"); numbers without a country code are
// read as US numbers, the deployments this product serves.

export function toE164(input: string, defaultCountry: 'US' = 'US'): string | null {
  const trimmed = input.trim();
  if (trimmed.length === 0 || trimmed.length > 32) return null;
  const parsed = parsePhoneNumberFromString(trimmed, defaultCountry);
  if (!parsed || !parsed.isValid()) return null;
  return parsed.number;
}

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
