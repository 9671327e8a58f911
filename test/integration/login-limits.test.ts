import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { createOwner } from '../../src/services/bootstrap.js';
import { startTestSwitchboard, type TestSwitchboard } from '../helpers/switchboard.js';
import { PASSWORD } from '../helpers/org.js';

// Guessing passwords over REST, against the real server with its clock simulated: failed
// sign-ins are limited per account and per client address, and the answer says when to retry.
// All requests come from 127.0.0.1, so each test ends by letting every record be forgiven.

const clock = new ManualClock(Date.parse('2026-01-05T10:00:00-05:00'));
let t: TestSwitchboard;

beforeAll(async () => {
  t = await startTestSwitchboard({ LOGIN_MAX_FAILURES_PER_ADDRESS: '12' }, { clock });
  await createOwner(t.sb.core, { email: 'owner@college.edu', name: 'Olivia Owner', password: PASSWORD, departmentIds: [], areaCode: '617' });
});
afterAll(async () => t?.close());
afterEach(() => clock.advance(5 * 60_000 + 5 * 60_000));

const signIn = (email: string, password: string) => t.http.post('/api/v1/sessions', { email, password });

describe('failed sign-ins', () => {
  it('answers 429 with Retry-After after 5 wrong passwords, refuses even the right one while locked, then lets it in', async () => {
    for (let i = 0; i < 5; i++) expect((await signIn('owner@college.edu', `wrong-${i}-password`)).status).toBe(401);
    const locked = await signIn('owner@college.edu', PASSWORD);
    expect(locked.status).toBe(429);
    expect(locked.body.error.code).toBe('rate_limited');
    expect(locked.headers.get('retry-after')).toBe('30');

    clock.advance(20_000);
    expect((await signIn('owner@college.edu', PASSWORD)).headers.get('retry-after')).toBe('10');
    clock.advance(10_000);
    expect((await signIn('owner@college.edu', PASSWORD)).status).toBe(201);
  });

  it('lets no more than 5 of 200 parallel guesses reach the password check', async () => {
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => signIn('owner@college.edu', `guess-${i}-password`)));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(195);
    expect(answers.every((a) => a.status !== 429 || Number(a.headers.get('retry-after')) >= 1)).toBe(true);
    expect((await signIn('owner@college.edu', PASSWORD)).status).toBe(429);
  });

  it('limits one address spraying many accounts, unknown emails included', async () => {
    for (let i = 0; i < 12; i++) expect((await signIn(`nobody${i}@college.edu`, 'wrong password')).status).toBe(401);
    const refused = await signIn('owner@college.edu', PASSWORD);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('30');
  });

  it('forgets a typo once the person signs in', async () => {
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 4; i++) expect((await signIn('owner@college.edu', 'typo typo typo')).status).toBe(401);
      expect((await signIn('owner@college.edu', PASSWORD)).status).toBe(201);
    }
  });
});
