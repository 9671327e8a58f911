import type { Core } from '../../src/core.js';
import type { Logger } from '../../src/logger.js';
import type { Router } from '../http/router.js';
import type { HttpRequest, HttpResult } from '../http/types.js';
import { text } from '../http/types.js';
import { validate } from '../rest/parse.js';
import { AppError } from '../../src/errors.js';
import { WEBHOOK_PATHS } from './webhook-paths.js';
import { fromPlivoDigits } from '../../src/domain/phone.js';
import { DeliveryReportForm, InboundMessageForm, VoiceCallForm } from '../../src/schemas/webhooks.js';
import { WEBHOOK_LIMITS } from '../../src/sms/plivo-signature.js';

// Plivo's webhooks: no bearer token, a Plivo signature instead, checked by the core against the
// URL as configured (PUBLIC_URL), never against the Host header. Forged, unsigned or replayed
// requests get 403 and a log line saying why; bodies past WEBHOOK_MAX_BODY_BYTES or 200 fields get
// 413 before any hashing. Plivo retries non-2xx answers, so 200 goes out only once the effect is
// durable; retries are deduplicated by the core.

export interface WebhookOptions {
  publicUrl: () => string;
  authToken: () => string;
  /** Bodies over this are refused (413) before they are read: Plivo's forms are a few KB. */
  maxBodyBytes: number;
  log: Logger;
}

export function plivoWebhookRoutes(r: Router, core: Core, o: WebhookOptions): void {
  const limits = { maxBodyBytes: o.maxBodyBytes };
  // Parses the form, has the core admit the request, and runs `handle` only if it does.
  const admitted = async (req: HttpRequest, kind: string, allowV2: boolean, handle: (params: Record<string, string>) => Promise<HttpResult>) => {
    const params = formParams(req);
    const url = o.publicUrl() + req.path + (req.rawQuery ? `?${req.rawQuery}` : '');
    const request = { method: req.method, url, params, headers: req.headers, authToken: o.authToken(), allowV2 };
    const result = await core.webhooks.admit(request, () => handle(params));
    if (result.ok) return result.value;
    core.metrics.webhooks.inc({ kind, outcome: result.reason === 'replayed_nonce' ? 'replayed' : 'forged' });
    o.log.warn({ kind, reason: result.reason, detail: result.detail, remote: req.remoteAddress() }, 'webhook refused: bad signature');
    if (result.reason === 'too_many_fields') throw tooManyFields();
    throw new AppError('invalid_signature', 'The Plivo signature does not match');
  };

  r.post(
    WEBHOOK_PATHS.message,
    (req) =>
      admitted(req, 'message', true, async (params) => {
        const form = validate(InboundMessageForm, params, 'webhook');
        const outcome = await core.inbound.receiveSms({
          from: form.From,
          to: form.To,
          // MMS carry their text in Body; SMS in Text.
          text: form.Text !== '' ? form.Text : (form.Body ?? ''),
          providerId: form.MessageUUID,
        });
        core.metrics.webhooks.inc({ kind: 'message', outcome: outcome.kind });
        return text(200, '');
      }),
    limits,
  );

  r.post(
    WEBHOOK_PATHS.status,
    (req) =>
      admitted(req, 'status', true, async (params) => {
        const form = validate(DeliveryReportForm, params, 'webhook');
        const updated = await core.inbound.deliveryReport({
          providerId: form.MessageUUID,
          status: form.Status,
          sequence: form.Sequence,
          errorCode: form.ErrorCode ?? null,
        });
        core.metrics.webhooks.inc({ kind: 'status', outcome: updated ? 'applied' : 'ignored' });
        return text(200, '');
      }),
    limits,
  );

  r.post(
    WEBHOOK_PATHS.voice,
    (req) =>
      admitted(req, 'voice', false, async (params) => {
        const form = validate(VoiceCallForm, params, 'webhook');
        const from = fromPlivoDigits(form.From) ?? form.From;
        core.metrics.webhooks.inc({ kind: 'voice', outcome: 'answered' });
        return text(200, await core.inbound.answerCall({ from, to: form.To }), 'application/xml');
      }),
    limits,
  );
}

const tooManyFields = () => new AppError('payload_too_large', `A Plivo webhook has at most ${WEBHOOK_LIMITS.maxFields} fields`);

const AMPERSAND = 0x26;

/**
 * Form fields as Plivo sent them (every value a string, empty ones kept: they are signed too),
 * parsed once. The fields are counted on the raw bytes first, so a form of thousands of fields is
 * refused for the price of one scan, not a parse.
 */
function formParams(req: HttpRequest): Record<string, string> {
  if (req.method === 'GET') return Object.fromEntries(req.query);
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/x-www-form-urlencoded\b/i.test(type)) {
    throw new AppError('unsupported_media_type', 'Plivo webhooks are form-encoded');
  }
  let separators = 0;
  for (let i = req.body.indexOf(AMPERSAND); i >= 0; i = req.body.indexOf(AMPERSAND, i + 1)) {
    if (++separators >= WEBHOOK_LIMITS.maxFields) throw tooManyFields();
  }
  return Object.fromEntries(new URLSearchParams(req.body.toString('utf8')));
}
