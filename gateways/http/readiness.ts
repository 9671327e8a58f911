import { AppError } from '../../src/errors.js';

// Until the node is ready (store migrated, first-start seeding done, locks recovered, Plivo set
// up), the API and the webhooks answer 503 not_ready with Retry-After instead of answers that
// would be wrong: a sign-in before the first owner exists is refused as a bad password, a webhook
// could race the lock recovery. Plivo retries a webhook that got a 503.

export const NOT_READY_RETRY_AFTER_SECONDS = 1;

export function notReady(): AppError {
  return new AppError('not_ready', 'Switchboard is starting; try again in a moment', { retryAfterSeconds: NOT_READY_RETRY_AFTER_SECONDS });
}

/** Refuses paths under the `held` prefixes, except the `always` paths, until `isReady()`. */
export function holdUntilReady(isReady: () => boolean, held: readonly string[], always: readonly string[]): (path: string) => AppError | null {
  return (path) => {
    if (isReady() || always.includes(path)) return null;
    return held.some((prefix) => path === prefix || path.startsWith(`${prefix}/`)) ? notReady() : null;
  };
}
