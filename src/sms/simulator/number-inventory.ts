import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

// The simulator's stock of US local numbers: generated, not stored. Any real area code works
// (libphonenumber's metadata decides what is real: 999 or 555 as an area code are not, 800 is toll
// free and 416 is Canadian). The exchange (NXX) starts with 2-9 and is never N11; the numbers for a
// given area code come in a fixed pseudo-random order, so a search returns the same numbers every
// time, minus those already rented.

export interface InventoryQuery {
  /** Digits after the country code that the number must start with (NPA, NPA+NXX, ...). */
  pattern: string;
  limit: number;
  offset: number;
  isOwned(digits: string): boolean;
}

export interface InventoryNumber {
  /** Plivo style: "1" + 10 digits. */
  number: string;
  npa: string;
  nxx: string;
}

// Exchanges a search only returns when asked for by name: 555 is the fiction exchange, 950/958/959
// are carrier access and 976 premium.
const SPECIAL_NXX = new Set(['555', '950', '958', '959', '976']);

// Where an unspecified search starts (pattern shorter than an area code).
const POPULAR_NPAS = ['617', '415', '212', '312', '213', '512', '206', '303', '404', '202'];

// Bounds the work of one search; far above what a 20-result page needs.
const MAX_CANDIDATES = 20_000;

function hash(s: string): number {
  // FNV-1a, 32 bits: stable across processes and versions.
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** A fixed permutation of 0..n-1 (affine: i → (a·i + b) mod n with gcd(a, n) = 1). */
function permutation(n: number, seed: string): (i: number) => number {
  if (n <= 1) return (i) => i;
  const h = hash(seed);
  let a = (h % (n - 1)) + 1;
  while (gcd(a, n) !== 1) a = (a % (n - 1)) + 1;
  const b = hash(`${seed}/offset`) % n;
  return (i) => (a * i + b) % n;
}

function isN11(nxx: string): boolean {
  return nxx[1] === '1' && nxx[2] === '1';
}

/** A plausible local US number: valid, US (not Canada or the Caribbean), geographic, not toll free. */
export function isLocalUsNumber(digits: string): boolean {
  if (!/^1[2-9]\d{2}[2-9]\d{6}$/.test(digits)) return false;
  if (isN11(digits.slice(4, 7))) return false;
  const parsed = parsePhoneNumberFromString(`+${digits}`);
  if (!parsed || !parsed.isValid() || parsed.country !== 'US') return false;
  const type = parsed.getType();
  return type === 'FIXED_LINE' || type === 'MOBILE' || type === 'FIXED_LINE_OR_MOBILE';
}

const areaCodeCache = new Map<string, boolean>();

export function areaCodeExists(npa: string): boolean {
  if (!/^[2-9]\d{2}$/.test(npa) || isN11(npa)) return false;
  let known = areaCodeCache.get(npa);
  if (known === undefined) {
    // A few exchanges: some area codes leave parts of the exchange range unassigned.
    known = ['234', '456', '678', '829', '301'].some((nxx) => isLocalUsNumber(`1${npa}${nxx}1234`));
    areaCodeCache.set(npa, known);
  }
  return known;
}

function exchangesFor(npa: string, nxxPrefix: string): string[] {
  const all: string[] = [];
  for (let n = 200; n <= 999; n++) {
    const nxx = String(n);
    if (!nxx.startsWith(nxxPrefix) || isN11(nxx)) continue;
    // A special exchange only when the caller named it in full.
    if (SPECIAL_NXX.has(nxx) && nxxPrefix !== nxx) continue;
    all.push(nxx);
  }
  const order = permutation(all.length, `nxx/${npa}`);
  return all.map((_, i) => all[order(i)]!);
}

function areaCodesFor(prefix: string): string[] {
  if (prefix.length >= 3) return [prefix.slice(0, 3)];
  const rest: string[] = [];
  for (let n = 200; n <= 999; n++) {
    const npa = String(n);
    if (npa.startsWith(prefix) && !POPULAR_NPAS.includes(npa)) rest.push(npa);
  }
  return [...POPULAR_NPAS.filter((npa) => npa.startsWith(prefix)), ...rest];
}

/** Normalises a Plivo `pattern` for US searches: digits only; a leading 1 is the country code. */
export function normalisePattern(pattern: string): string | null {
  const digits = pattern.replace(/[\s\-()+.]/g, '');
  if (!/^\d*$/.test(digits)) return null;
  const national = digits.startsWith('1') ? digits.slice(1) : digits;
  return national.length <= 10 ? national : null;
}

export function searchInventory(q: InventoryQuery): InventoryNumber[] {
  const pattern = q.pattern;
  const out: InventoryNumber[] = [];
  let skipped = 0;
  let candidates = 0;
  for (const npa of areaCodesFor(pattern)) {
    if (!areaCodeExists(npa)) continue;
    const nxxPrefix = pattern.slice(3, 6);
    const linePrefix = pattern.slice(6);
    if (nxxPrefix.length > 0 && !/^[2-9]/.test(nxxPrefix)) return out;
    const exchanges = exchangesFor(npa, nxxPrefix);
    const lineOrders = new Map<string, (i: number) => number>();
    // Round robin over the exchanges (one line from each per round) spreads an area-code search
    // across exchanges, as a real inventory would be.
    for (let round = 0; round < 10_000; round++) {
      let any = false;
      for (const nxx of exchanges) {
        let order = lineOrders.get(nxx);
        if (!order) {
          order = permutation(10_000, `line/${npa}${nxx}`);
          lineOrders.set(nxx, order);
        }
        const line = String(order(round)).padStart(4, '0');
        any = true;
        if (!line.startsWith(linePrefix)) continue;
        if (++candidates > MAX_CANDIDATES) return out;
        const digits = `1${npa}${nxx}${line}`;
        if (!isLocalUsNumber(digits) || q.isOwned(digits)) continue;
        if (skipped < q.offset) {
          skipped++;
          continue;
        }
        out.push({ number: digits, npa, nxx });
        if (out.length >= q.limit) return out;
      }
      if (!any) break;
    }
  }
  return out;
}
