import { createHash } from 'node:crypto';
import type { CoreContext } from './context.js';
import type { Config } from '../config.js';
import { verifyPlivoSignature, type SignatureParams, type VerifyRequest, type VerifyResult } from '../sms/plivo-signature.js';

// Whether a webhook comes from Plivo. V3 signs the URL, the body and a nonce, so a replayed V3
// request is the same delivery again, which the handlers already take as a retry (by MessageUUID,
// by Sequence). V2, the scheme Plivo documents for messaging, signs only the URL and the nonce: a
// captured V2 signature could be sent again with any body (a STOP in a student's name). So a V2
// nonce is bound, durably, to the request it first came with, and admits only that request again:
// Plivo's retry, should it reuse the nonce, and the retry after a crash between this claim and
// the message's own write (the claim is not undone, but it still admits the same request).
// - A request admitted by V2 runs only once its nonce is claimed.
// - A request admitted by V3 that carries a valid V2 signature too (Plivo may send both families)
//   has that V2 nonce claimed alongside its effect, in the same group commit: otherwise its V2
//   half, stripped of the V3 headers, could be replayed once with another body.
// The binding is kept WEBHOOK_NONCE_RETENTION_MS (24 h: Plivo's retries end within minutes, or
// within 24 h by its other account of them).
// Where V2 is not accepted (WEBHOOK_SIGNATURE_V2=refuse, the default with the simulator), none of
// this happens: V3 admits alone, and no nonce is recorded at all.

export type WebhookRefusal =
  | Extract<VerifyResult, { ok: false }>
  | { ok: false; reason: 'replayed_nonce'; detail: string; hmacs: number };

/** What webhook admission reads from the configuration. */
export type WebhookSettings = { webhooks: Pick<Config['webhooks'], 'nonceRetentionMs' | 'acceptV2'> };

export class WebhookService {
  constructor(
    private readonly c: CoreContext,
    private readonly settings: WebhookSettings,
  ) {}

  /** Verifies the request and runs `effect` if it is admitted; resolves with what `effect` resolved. */
  async admit<T>(req: VerifyRequest, effect: () => Promise<T>): Promise<{ ok: true; value: T } | WebhookRefusal> {
    // Where V2 is not accepted, a request is V3's to admit alone, and no V2 nonce is ever claimed.
    const result = verifyPlivoSignature({ ...req, allowV2: req.allowV2 === true && this.settings.webhooks.acceptV2 });
    if (!result.ok) return result;
    if (result.v2Nonce === null) return { ok: true, value: await effect() };
    const claim = this.claim(result.v2Nonce, req);
    if (result.scheme === 'V2' || result.scheme === 'Ma-V2') {
      if (!(await claim)) {
        return { ok: false, reason: 'replayed_nonce', detail: 'This V2 signature nonce came with another request before', hmacs: result.hmacs };
      }
      return { ok: true, value: await effect() };
    }
    // V3 vouches for this body: the claim only closes the V2 door, whatever it answers.
    const [, value] = await Promise.all([claim, effect()]);
    return { ok: true, value };
  }

  private claim(nonce: string, req: VerifyRequest): Promise<boolean> {
    const now = this.c.clock.now();
    return this.c.store.webhookNonces.claim({
      nonce,
      fingerprint: requestFingerprint(req.method, req.url, req.params),
      seenAt: now,
      keepUntil: now + this.settings.webhooks.nonceRetentionMs,
    });
  }
}

/** A digest of everything a request carried: the same for a genuine retry, different for any other body. */
export function requestFingerprint(method: string, url: string, params: SignatureParams): string {
  const fields = Object.entries(params)
    .flatMap(([k, v]) => (typeof v === 'string' ? [[k, v]] : v.map((x) => [k, x])))
    .sort(([ka = '', va = ''], [kb = '', vb = '']) => (ka !== kb ? (ka < kb ? -1 : 1) : va < vb ? -1 : va > vb ? 1 : 0));
  return createHash('sha256').update(JSON.stringify([method.toUpperCase(), url, fields])).digest('base64url');
}
