import type { Clock } from '../clock.js';
import type { CoreEvents } from '../events.js';
import type { Logger } from '../logger.js';
import type { Outbox } from '../sms/outbox.js';
import type { SmsProvider } from '../sms/sms-provider.js';
import type { Store } from '../store/store.js';

/**
 * What every service of the core is built from. Settings are not in it: each service takes its own
 * (a small type naming what it reads), built from the configuration in src/core.ts.
 */
export interface CoreContext {
  store: Store;
  provider: SmsProvider;
  clock: Clock;
  log: Logger;
  events: CoreEvents;
  outbox: Outbox;
  /** The Plivo application our numbers route to (made at start-up). */
  providerAppId: () => string;
  /** Public URLs Plivo calls (known once the port is bound). */
  webhookUrls: () => { message: string; status: string; voice: string };
}
