// Where Plivo reaches us: URL paths are the edge's business. The core only receives the full URLs
// (to point the Plivo application and status callbacks at them).
export const WEBHOOK_PREFIX = '/webhooks';
export const WEBHOOK_PATHS = {
  message: `${WEBHOOK_PREFIX}/plivo/message`,
  status: `${WEBHOOK_PREFIX}/plivo/status`,
  voice: `${WEBHOOK_PREFIX}/plivo/voice`,
} as const;

/** The full webhook URLs under a public base URL. */
export function webhookUrls(base: string): { message: string; status: string; voice: string } {
  return { message: base + WEBHOOK_PATHS.message, status: base + WEBHOOK_PATHS.status, voice: base + WEBHOOK_PATHS.voice };
}
