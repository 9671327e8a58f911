import type { Clock } from '../clock.js';
import { AppError } from '../errors.js';

// Failed sign-ins, counted per account (email) and per client address, so that guessing a
// password costs time (docs/decisions.md has the numbers and the reasoning):
// - `maxFailuresPerAccount` failures lock the account for `lockoutMs`; after that, while the
//   account is still on record, every further failure locks it again for twice as long, up to
//   `maxLockoutMs`. The record is forgiven `windowMs` after its last failure or lock, whichever
//   ends later. `maxFailuresPerAddress` does the same per address, with a larger budget (one
//   office behind one address shares it).
// - A locked key refuses every attempt, a correct password included (otherwise the lock would
//   not stop guessing), without checking the password (no scrypt spent on it) and without
//   counting it (retrying does not lengthen a real user's wait).
// - Checks in progress count against the budget before they finish: a burst of parallel
//   guesses gets no more than the budget through to the password check.
// - A success clears the account's failures that came from the same address (a typo or two),
//   from the account's tally and from the address's; failures from other addresses stay, and so
//   do the address's failures at other accounts, so that signing in to an account one owns does
//   not buy more guesses at another.
// - Memory is bounded: each kind keeps at most `trackedKeys` records and evicts the one touched
//   least recently. The state is per process (each node of a cluster counts on its own).

export interface LoginLimits {
  /** 0: no per-account limit. */
  maxFailuresPerAccount: number;
  /** 0: no per-address limit (e.g. behind a proxy that hides client addresses). */
  maxFailuresPerAddress: number;
  windowMs: number;
  lockoutMs: number;
  maxLockoutMs: number;
  trackedKeys: number;
}

/** One admitted password check; settle it exactly once. */
export interface LoginAttempt {
  succeeded(): void;
  failed(): void;
  /** The check could not be made (e.g. the store failed): it counts neither way. */
  abandoned(): void;
}

interface Tally {
  /** Failures on record (at most the budget). */
  failures: number;
  /** Account tallies: the address of each failure on record, oldest first. */
  sources: Array<string | null>;
  /** Lockouts since the record was last forgiven; the next lasts lockoutMs × 2^strikes. */
  strikes: number;
  lockedUntil: number;
  lastFailureAt: number;
  inFlight: number;
}

class TallyMap {
  private readonly tallies = new Map<string, Tally>();

  constructor(
    readonly budget: number,
    private readonly limits: LoginLimits,
    /** Account tallies remember where each failure came from; address tallies need not. */
    private readonly withSources: boolean,
  ) {}

  get size(): number {
    return this.tallies.size;
  }

  /** The tally of `key` as of `now` (forgiven ones are dropped), without creating one. */
  peek(key: string, now: number): Tally | undefined {
    const t = this.tallies.get(key);
    if (t && t.inFlight === 0 && now >= Math.max(t.lastFailureAt, t.lockedUntil) + this.limits.windowMs) {
      this.tallies.delete(key);
      return undefined;
    }
    return t;
  }

  /** Milliseconds until `key` may try again, or 0. */
  waitMs(key: string, now: number): number {
    const t = this.peek(key, now);
    if (!t) return 0;
    if (t.lockedUntil > now) return t.lockedUntil - now;
    // After a lockout one check at a time; before it, what is left of the budget.
    const left = t.strikes > 0 ? 1 : this.budget - t.failures;
    return t.inFlight >= left ? 1_000 : 0;
  }

  /** The tally of `key`, created when missing and moved to the most recently used end. */
  touch(key: string, now: number): Tally {
    const t = this.peek(key, now) ?? { failures: 0, sources: [], strikes: 0, lockedUntil: 0, lastFailureAt: 0, inFlight: 0 };
    this.tallies.delete(key);
    this.tallies.set(key, t);
    while (this.tallies.size > this.limits.trackedKeys) {
      const oldest = this.tallies.keys().next().value as string;
      this.tallies.delete(oldest);
    }
    return t;
  }

  fail(key: string, now: number, source: string | null): void {
    const t = this.touch(key, now);
    t.inFlight = Math.max(0, t.inFlight - 1);
    t.failures = Math.min(t.failures + 1, this.budget);
    if (this.withSources) {
      t.sources.push(source);
      if (t.sources.length > this.budget) t.sources.shift();
    }
    t.lastFailureAt = now;
    if (t.strikes > 0 || t.failures >= this.budget) {
      t.lockedUntil = now + Math.min(this.limits.lockoutMs * 2 ** t.strikes, this.limits.maxLockoutMs);
      t.strikes++;
    }
  }

  /** Forgets the failures that came from `source` (account tallies); resolves how many. */
  clearSource(key: string, now: number, source: string | null): number {
    const t = this.peek(key, now);
    if (!t) return 0;
    const before = t.sources.length;
    t.sources = t.sources.filter((s) => s !== source);
    return this.forgive(t, before - t.sources.length);
  }

  /** Ends a check in progress, forgiving `forgiven` failures. */
  settle(key: string, now: number, forgiven: number): void {
    const t = this.peek(key, now);
    if (!t) return;
    t.inFlight = Math.max(0, t.inFlight - 1);
    this.forgive(t, forgiven);
    if (t.inFlight === 0 && t.failures === 0 && t.lockedUntil <= now) this.tallies.delete(key);
  }

  private forgive(t: Tally, n: number): number {
    const forgiven = Math.min(n, t.failures);
    t.failures -= forgiven;
    if (t.failures === 0) t.strikes = 0;
    return forgiven;
  }
}

export class LoginLimiter {
  private readonly accounts: TallyMap;
  private readonly addresses: TallyMap;

  constructor(
    limits: LoginLimits,
    private readonly clock: Clock,
  ) {
    this.accounts = new TallyMap(limits.maxFailuresPerAccount, limits, true);
    this.addresses = new TallyMap(limits.maxFailuresPerAddress, limits, false);
  }

  /**
   * Admits one password check for the account `email` from `address` (null: not known, e.g. a
   * signed-in person confirming their password), or throws `rate_limited` with
   * `retryAfterSeconds`.
   */
  admit(email: string, address: string | null): LoginAttempt {
    const now = this.clock.now();
    const account = email.toLowerCase();
    const source = address === null ? null : addressKey(address);
    const kinds: Array<[TallyMap, string]> = [];
    if (this.accounts.budget > 0) kinds.push([this.accounts, account]);
    if (this.addresses.budget > 0 && source !== null) kinds.push([this.addresses, source]);

    const waitMs = Math.max(0, ...kinds.map(([map, key]) => map.waitMs(key, now)));
    if (waitMs > 0) {
      const retryAfterSeconds = Math.ceil(waitMs / 1000);
      throw new AppError('rate_limited', `Too many failed sign-ins; try again in ${retryAfterSeconds} s`, { retryAfterSeconds });
    }
    for (const [map, key] of kinds) map.touch(key, now).inFlight++;

    let settled = false;
    const settle = (outcome: 'succeeded' | 'failed' | 'abandoned') => {
      if (settled) return;
      settled = true;
      const at = this.clock.now();
      if (outcome === 'failed') {
        for (const [map, key] of kinds) map.fail(key, at, source);
        return;
      }
      // A success forgives the account's failures from this address, on both tallies.
      const forgiven = outcome === 'succeeded' && this.accounts.budget > 0 ? this.accounts.clearSource(account, at, source) : 0;
      for (const [map, key] of kinds) map.settle(key, at, map === this.addresses ? forgiven : 0);
    };
    return { succeeded: () => settle('succeeded'), failed: () => settle('failed'), abandoned: () => settle('abandoned') };
  }

  /** How many keys are on record (accounts, addresses): for tests and metrics. */
  tracked(): { accounts: number; addresses: number } {
    return { accounts: this.accounts.size, addresses: this.addresses.size };
  }
}

/**
 * The key an address is counted under: an IPv4 address as is (also when written IPv4-mapped),
 * an IPv6 address by its /64 prefix, because one subscriber usually holds a whole /64 and could
 * otherwise spread guesses over 2^64 addresses.
 */
export function addressKey(address: string): string {
  const a = address.trim().toLowerCase();
  if (!a.includes(':')) return a;
  let hostname: string;
  try {
    hostname = new URL(`http://[${a.replace(/^\[|\]$/g, '')}]/`).hostname.slice(1, -1);
  } catch {
    return a;
  }
  const groups = expandIpv6(hostname);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join('.');
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of a canonical (URL-normalised, so no dotted tail) IPv6 address. */
function expandIpv6(canonical: string): number[] {
  const [head = '', tail] = canonical.split('::');
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  return [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
}
