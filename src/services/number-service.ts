import type { AvailableNumber } from '../sms/sms-provider.js';
import type { Principal } from '../auth/principal.js';
import type { CoreContext } from './context.js';
import { AppError, forbidden } from '../errors.js';
import { isAdmin } from '../auth/access.js';
import { requireUser } from './auth-service.js';

// Numbers come from the provider: search what is available, rent what a person chose, route it to
// our application (so texts and calls reach our webhooks), and give it back when an account goes.

export class NumberService {
  constructor(private readonly c: CoreContext) {}

  async searchAvailable(p: Principal, q: { areaCode: string; prefix?: string; limit: number }): Promise<AvailableNumber[]> {
    if (!isAdmin(requireUser(p))) throw forbidden('Only an owner or a department admin can search numbers');
    const found = await this.c.provider.searchNumbers(q);
    const taken = new Set(await this.c.store.accounts.numbersInUse(found.map((n) => n.number)));
    return found.filter((n) => !taken.has(n.number));
  }

  /** Rents the numbers and routes them to our application; all or nothing. */
  async acquire(numbers: string[]): Promise<void> {
    const appId = this.c.providerAppId();
    const done: string[] = [];
    try {
      for (const n of numbers) {
        try {
          await this.c.provider.buyNumber(n, appId);
        } catch (e) {
          // Already ours at the provider (e.g. freed from a deleted account and not yet released):
          // route it to our application instead of renting it twice.
          const owned = await this.c.provider.listOwnedNumbers().catch(() => []);
          if (!owned.some((o) => o.number === n)) throw e;
          await this.c.provider.routeNumber(n, appId);
        }
        done.push(n);
      }
    } catch (e) {
      await this.release(done);
      if (e instanceof AppError && e.code === 'provider_rejected') {
        throw new AppError('number_taken', `A number could not be rented: ${e.message}`, { cause: e });
      }
      throw e;
    }
  }

  /** Gives numbers back to the provider; failures are logged, not thrown (the account is gone either way). */
  async release(numbers: string[]): Promise<void> {
    for (const n of numbers) {
      await this.c.provider.releaseNumber(n).catch((err: unknown) => this.c.log.warn({ err, number: n }, 'could not release number'));
    }
  }

  /** The first available number in an area code, rented and routed (personal accounts). */
  async acquireAny(areaCode: string): Promise<string> {
    const found = await this.c.provider.searchNumbers({ areaCode, limit: 20 });
    const taken = new Set(await this.c.store.accounts.numbersInUse(found.map((n) => n.number)));
    const pick = found.find((n) => !taken.has(n.number));
    if (!pick) throw new AppError('no_sender_number', `No number is available in area code ${areaCode}`);
    await this.acquire([pick.number]);
    return pick.number;
  }
}
