import { areaCode } from './phone.js';

// Which pool number texts a contact (DOMAIN.md "Sending"): the number the contact already texts
// with (sticky sender); else a pool number with the contact's area code; else the least busy one.
// Ties go to the pool's order, so the choice is deterministic.

export interface SenderChoice {
  number: string;
  reason: 'sticky' | 'areaCode' | 'leastBusy';
}

export function chooseSender(
  pool: readonly string[],
  contactPhone: string,
  stickyNumber: string | null,
  load: (number: string) => number,
): SenderChoice | null {
  if (pool.length === 0) return null;
  if (stickyNumber !== null && pool.includes(stickyNumber)) return { number: stickyNumber, reason: 'sticky' };
  const npa = areaCode(contactPhone);
  const local = npa === null ? [] : pool.filter((n) => areaCode(n) === npa);
  if (local.length > 0) return { number: leastBusy(local, load), reason: 'areaCode' };
  return { number: leastBusy(pool, load), reason: 'leastBusy' };
}

function leastBusy(candidates: readonly string[], load: (number: string) => number): string {
  let best = candidates[0]!;
  let bestLoad = load(best);
  for (const n of candidates.slice(1)) {
    const l = load(n);
    if (l < bestLoad) {
      best = n;
      bestLoad = l;
    }
  }
  return best;
}
