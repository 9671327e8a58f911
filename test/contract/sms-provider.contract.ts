import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import type { ApplicationUrls, SmsProvider } from '../../src/sms/sms-provider.js';

// The behaviour every SmsProvider must have, whoever is behind it. Run by
// test/contract/plivo-provider.test.ts with the real SDK against the simulator. It rents and
// releases numbers, so never point it at a live Plivo account.

export interface SmsProviderFixture {
  provider: SmsProvider;
  /** The same backend, reached with a wrong auth token. */
  withBadCredentials: SmsProvider;
  /** Pointed at an address where nothing listens. */
  unreachable: SmsProvider;
  /** Accepts status callbacks with a 2xx. */
  statusCallbackUrl: string;
  /** Webhook URLs for an application called `name`. */
  appUrls(name: string): ApplicationUrls;
  close(): Promise<void>;
}

async function rejection(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    return e as AppError;
  }
  throw new Error('expected the call to fail');
}

export function smsProviderContract(name: string, make: () => Promise<SmsProviderFixture>): void {
  describe(`SmsProvider contract: ${name}`, () => {
    let f: SmsProviderFixture;

    beforeEach(async () => {
      f = await make();
    });
    afterEach(async () => {
      await f.close();
    });

    /** Rents the first available number in the area code and routes it to a fresh application. */
    async function rentOne(areaCode: string, prefix?: string): Promise<{ number: string; appId: string }> {
      const appId = await f.provider.ensureApplication(f.appUrls('switchboard-test'));
      const [first] = await f.provider.searchNumbers({ areaCode, ...(prefix ? { prefix } : {}), limit: 1 });
      expect(first).toBeDefined();
      await f.provider.buyNumber(first!.number, appId);
      return { number: first!.number, appId };
    }

    it('search returns E.164 numbers in the area code, at most `limit`, without duplicates', async () => {
      const found = await f.provider.searchNumbers({ areaCode: '617', limit: 7 });
      expect(found.length).toBeGreaterThan(0);
      expect(found.length).toBeLessThanOrEqual(7);
      for (const n of found) {
        expect(n.number).toMatch(/^\+1617[2-9]\d{6}$/);
        expect(n.smsEnabled).toBe(true);
      }
      expect(new Set(found.map((n) => n.number)).size).toBe(found.length);
    });

    it('search honours the exchange prefix', async () => {
      const found = await f.provider.searchNumbers({ areaCode: '415', prefix: '253', limit: 5 });
      expect(found.length).toBeGreaterThan(0);
      for (const n of found) expect(n.number).toMatch(/^\+1415253\d{4}$/);
    });

    it('search is stable and leaves out numbers already rented', async () => {
      const before = await f.provider.searchNumbers({ areaCode: '312', limit: 5 });
      expect(await f.provider.searchNumbers({ areaCode: '312', limit: 5 })).toEqual(before);
      const appId = await f.provider.ensureApplication(f.appUrls('switchboard-test'));
      await f.provider.buyNumber(before[0]!.number, appId);
      const after = await f.provider.searchNumbers({ areaCode: '312', limit: 5 });
      expect(after.map((n) => n.number)).not.toContain(before[0]!.number);
      for (const n of after) expect(n.number).toMatch(/^\+1312/);
    });

    it('an area code that does not exist finds nothing', async () => {
      expect(await f.provider.searchNumbers({ areaCode: '999', limit: 5 })).toEqual([]);
      expect(await f.provider.searchNumbers({ areaCode: '555', limit: 5 })).toEqual([]);
    });

    it('a bought number is listed, routed to the application', async () => {
      const { number, appId } = await rentOne('617', '262');
      expect(await f.provider.listOwnedNumbers()).toContainEqual({ number, appId });
    });

    it('buying the same number twice fails', async () => {
      const { number, appId } = await rentOne('206');
      const err = await rejection(f.provider.buyNumber(number, appId));
      expect(err.code).toBe('provider_rejected');
    });

    it('routes an owned number to another application', async () => {
      const { number } = await rentOne('303');
      const other = await f.provider.ensureApplication(f.appUrls('switchboard-other'));
      await f.provider.routeNumber(number, other);
      expect(await f.provider.listOwnedNumbers()).toContainEqual({ number, appId: other });
    });

    it('releases a number: no longer listed, and releasing it again fails', async () => {
      const { number } = await rentOne('404');
      await f.provider.releaseNumber(number);
      expect((await f.provider.listOwnedNumbers()).map((n) => n.number)).not.toContain(number);
      expect((await rejection(f.provider.releaseNumber(number))).code).toBe('provider_rejected');
    });

    it('lists every owned number, past the first page', async () => {
      const appId = await f.provider.ensureApplication(f.appUrls('switchboard-test'));
      const found = await f.provider.searchNumbers({ areaCode: '512', limit: 20 });
      const more = await f.provider.searchNumbers({ areaCode: '213', limit: 3 });
      const wanted = [...found, ...more].map((n) => n.number);
      expect(wanted.length).toBeGreaterThan(20);
      for (const n of wanted) await f.provider.buyNumber(n, appId);
      const owned = (await f.provider.listOwnedNumbers()).map((n) => n.number);
      expect(owned).toEqual(expect.arrayContaining(wanted));
    });

    it('ensureApplication is idempotent and keeps the id when the URLs change', async () => {
      const urls = f.appUrls('switchboard-idem');
      const first = await f.provider.ensureApplication(urls);
      expect(first).toMatch(/\S/);
      expect(await f.provider.ensureApplication(urls)).toBe(first);
      const moved = { ...urls, messageUrl: `${urls.messageUrl}?v=2`, answerUrl: `${urls.answerUrl}?v=2` };
      expect(await f.provider.ensureApplication(moved)).toBe(first);
      expect(await f.provider.ensureApplication(f.appUrls('switchboard-idem-2'))).not.toBe(first);
    });

    it('send resolves with the provider message id', async () => {
      const { number } = await rentOne('617');
      const { providerId } = await f.provider.send({ from: number, to: '+16175550123', text: 'Hello from the contract', statusCallbackUrl: f.statusCallbackUrl });
      expect(providerId).toMatch(/\S{8,}/);
      const second = await f.provider.send({ from: number, to: '+16175550124', text: 'Again', statusCallbackUrl: f.statusCallbackUrl });
      expect(second.providerId).not.toBe(providerId);
    });

    it('send from a number that is not ours is rejected, without echoing the text', async () => {
      const err = await rejection(f.provider.send({ from: '+16175550100', to: '+16175550123', text: 'secret words', statusCallbackUrl: f.statusCallbackUrl }));
      expect(err.code).toBe('provider_rejected');
      expect(err.message).not.toContain('secret words');
      expect(err.message).not.toContain('6175550123');
    });

    it('a wrong credential is provider_auth', async () => {
      expect((await rejection(f.withBadCredentials.listOwnedNumbers())).code).toBe('provider_auth');
      expect((await rejection(f.withBadCredentials.searchNumbers({ areaCode: '617', limit: 1 }))).code).toBe('provider_auth');
      expect((await rejection(f.withBadCredentials.ensureApplication(f.appUrls('switchboard-test')))).code).toBe('provider_auth');
      const send = f.withBadCredentials.send({ from: '+16175550100', to: '+16175550123', text: 'x', statusCallbackUrl: f.statusCallbackUrl });
      expect((await rejection(send)).code).toBe('provider_auth');
    });

    it('a server that is down is provider_unavailable', async () => {
      expect((await rejection(f.unreachable.listOwnedNumbers())).code).toBe('provider_unavailable');
      expect((await rejection(f.unreachable.ensureApplication(f.appUrls('switchboard-test')))).code).toBe('provider_unavailable');
      const send = f.unreachable.send({ from: '+16175550100', to: '+16175550123', text: 'x', statusCallbackUrl: f.statusCallbackUrl });
      expect((await rejection(send)).code).toBe('provider_unavailable');
    });
  });
}
