import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { AppError } from '../../src/errors.js';
import { LoginLimiter, addressKey, type LoginLimits } from '../../src/auth/login-limiter.js';

const LIMITS: LoginLimits = {
  maxFailuresPerAccount: 5,
  maxFailuresPerAddress: 50,
  windowMs: 5 * 60_000,
  lockoutMs: 30_000,
  maxLockoutMs: 5 * 60_000,
  trackedKeys: 1_000,
};

function setup(over: Partial<LoginLimits> = {}) {
  const clock = new ManualClock(0);
  const limiter = new LoginLimiter({ ...LIMITS, ...over }, clock);
  /** One whole password check: 'ok', 'wrong', or the seconds to wait when refused. */
  const attempt = (email: string, address: string | null, correct = false): 'ok' | 'wrong' | number => {
    try {
      const a = limiter.admit(email, address);
      if (correct) a.succeeded();
      else a.failed();
      return correct ? 'ok' : 'wrong';
    } catch (e) {
      if (e instanceof AppError && e.code === 'rate_limited') return e.retryAfterSeconds!;
      throw e;
    }
  };
  const fail = (n: number, email: string, address: string | null) => {
    for (let i = 0; i < n; i++) expect(attempt(email, address)).toBe('wrong');
  };
  return { clock, limiter, attempt, fail };
}

describe('the sign-in limiter', () => {
  it('locks an account for 30 s after 5 failures, refusing even the right password, then doubles the lock up to 5 minutes', () => {
    const { clock, attempt, fail } = setup();
    fail(5, 'dana@x.edu', '10.0.0.1');
    expect(attempt('dana@x.edu', '10.0.0.1', true)).toBe(30);
    // The lock applies to the account from any address.
    expect(attempt('dana@x.edu', '10.0.0.2', true)).toBe(30);
    clock.advance(29_001);
    expect(attempt('dana@x.edu', '10.0.0.1')).toBe(1);
    clock.advance(999);
    // After a lock, each further failure locks again, twice as long, up to the cap.
    const locks: number[] = [];
    for (let i = 0; i < 6; i++) {
      expect(attempt('dana@x.edu', '10.0.0.1')).toBe('wrong');
      const wait = attempt('dana@x.edu', '10.0.0.1') as number;
      locks.push(wait);
      clock.advance(wait * 1000);
    }
    expect(locks).toEqual([60, 120, 240, 300, 300, 300]);
    expect(attempt('dana@x.edu', '10.0.0.1', true)).toBe('ok');
  });

  it('does not lengthen a lock for attempts it refused', () => {
    const { clock, attempt, fail } = setup();
    fail(5, 'dana@x.edu', '10.0.0.1');
    for (let i = 0; i < 20; i++) expect(attempt('dana@x.edu', '10.0.0.1', true)).toBe(30);
    clock.advance(30_000);
    expect(attempt('dana@x.edu', '10.0.0.1', true)).toBe('ok');
  });

  it('forgives an account 5 minutes after its last failure or lock', () => {
    const { clock, attempt, fail } = setup();
    fail(4, 'dana@x.edu', '10.0.0.1');
    clock.advance(5 * 60_000);
    fail(4, 'dana@x.edu', '10.0.0.1');
    expect(attempt('dana@x.edu', '10.0.0.1')).toBe('wrong');
    expect(attempt('dana@x.edu', '10.0.0.1')).toBe(30);
    // Forgiven after the lock plus a quiet window: the next lock is the first one again.
    clock.advance(30_000 + 5 * 60_000);
    fail(5, 'dana@x.edu', '10.0.0.1');
    expect(attempt('dana@x.edu', '10.0.0.1')).toBe(30);
  });

  it("clears an account's failures from the address that signed in, and only those", () => {
    const { attempt, fail } = setup();
    fail(3, 'dana@x.edu', '10.0.0.1');
    expect(attempt('dana@x.edu', '10.0.0.1', true)).toBe('ok');
    fail(4, 'dana@x.edu', '10.0.0.1');
    expect(attempt('dana@x.edu', '10.0.0.1', true)).toBe('ok');
    // Failures from elsewhere stay on record: a success does not buy an attacker more guesses.
    fail(4, 'dana@x.edu', '192.0.2.9');
    expect(attempt('dana@x.edu', '10.0.0.1', true)).toBe('ok');
    expect(attempt('dana@x.edu', '192.0.2.9')).toBe('wrong');
    expect(attempt('dana@x.edu', '10.0.0.1', true)).toBe(30);
  });

  it('limits one address across many accounts, and signing in to one account does not reset it', () => {
    const { attempt } = setup();
    for (let i = 0; i < 49; i++) expect(attempt(`guess${i}@x.edu`, '10.0.0.7')).toBe('wrong');
    expect(attempt('mine@x.edu', '10.0.0.7', true)).toBe('ok');
    expect(attempt('guess49@x.edu', '10.0.0.7')).toBe('wrong');
    expect(attempt('someone@x.edu', '10.0.0.7', true)).toBe(30);
    // Other addresses are not affected.
    expect(attempt('someone@x.edu', '10.0.0.8', true)).toBe('ok');
  });

  it("forgives the address too for an account's typos, so an office behind one address does not add them up", () => {
    const { attempt, fail } = setup({ maxFailuresPerAddress: 10 });
    for (let i = 0; i < 20; i++) {
      fail(3, `person${i}@x.edu`, '10.0.0.7');
      expect(attempt(`person${i}@x.edu`, '10.0.0.7', true)).toBe('ok');
    }
  });

  it('counts checks in progress against the budget, so a parallel burst gets no more than 5 guesses through', () => {
    const { limiter } = setup();
    const admitted = [];
    let refused = 0;
    for (let i = 0; i < 200; i++) {
      try {
        admitted.push(limiter.admit('dana@x.edu', `10.0.${i}.1`));
      } catch (e) {
        expect((e as AppError).retryAfterSeconds).toBe(1);
        refused++;
      }
    }
    expect([admitted.length, refused]).toEqual([5, 195]);
    admitted.forEach((a) => a.failed());
    expect(() => limiter.admit('dana@x.edu', '10.0.0.1')).toThrow(expect.objectContaining({ code: 'rate_limited', retryAfterSeconds: 30 }));
  });

  it('counts a check that could not be made neither way', () => {
    const { limiter, attempt, fail } = setup();
    fail(4, 'dana@x.edu', '10.0.0.1');
    for (let i = 0; i < 10; i++) limiter.admit('dana@x.edu', '10.0.0.1').abandoned();
    expect(attempt('dana@x.edu', '10.0.0.1')).toBe('wrong');
    expect(attempt('dana@x.edu', '10.0.0.1')).toBe(30);
  });

  it('limits a person confirming their own password (no address) by the account alone', () => {
    const { attempt, fail } = setup();
    fail(5, 'dana@x.edu', null);
    expect(attempt('dana@x.edu', '10.0.0.1', true)).toBe(30);
    expect(attempt('sam@x.edu', '10.0.0.1', true)).toBe('ok');
  });

  it('compares emails without case', () => {
    const { attempt, fail } = setup();
    fail(5, 'Dana@X.edu', '10.0.0.1');
    expect(attempt('dana@x.edu', '10.0.0.1', true)).toBe(30);
  });

  it('can be switched off per kind with a budget of 0', () => {
    const { attempt, fail } = setup({ maxFailuresPerAccount: 0, maxFailuresPerAddress: 0 });
    fail(100, 'dana@x.edu', '10.0.0.1');
    expect(attempt('dana@x.edu', '10.0.0.1', true)).toBe('ok');
  });

  it('keeps at most trackedKeys records per kind, evicting the least recently touched', () => {
    const { limiter, attempt, fail } = setup({ trackedKeys: 100, maxFailuresPerAddress: 1_000_000 });
    fail(5, 'victim@x.edu', '10.0.0.1');
    expect(limiter.tracked()).toEqual({ accounts: 1, addresses: 1 });
    for (let i = 0; i < 10_000; i++) attempt(`spray${i}@x.edu`, `198.51.${i >> 8}.${i & 0xff}`);
    expect(limiter.tracked()).toEqual({ accounts: 100, addresses: 100 });
    // The oldest record went first.
    expect(attempt('victim@x.edu', '10.0.0.1', true)).toBe('ok');
  });

  it('drops records once forgiven and keeps none for clean sign-ins', () => {
    const { clock, limiter, attempt, fail } = setup();
    for (let i = 0; i < 20; i++) attempt(`user${i}@x.edu`, '10.0.0.1', true);
    expect(limiter.tracked()).toEqual({ accounts: 0, addresses: 0 });
    fail(2, 'dana@x.edu', '10.0.0.1');
    clock.advance(5 * 60_000);
    attempt('sam@x.edu', '10.0.0.2', true);
    expect(attempt('dana@x.edu', '10.0.0.1', true)).toBe('ok');
    expect(limiter.tracked()).toEqual({ accounts: 0, addresses: 0 });
  });
});

describe('the address a failure is counted under', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['0000:0000:0000:0000:0000:ffff:cb00:7107', '203.0.113.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['not an address', 'not an address'],
  ])('%s → %s', (address, key) => {
    expect(addressKey(address)).toBe(key);
  });
});
