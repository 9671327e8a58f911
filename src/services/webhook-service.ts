import { createHash } from 'node:crypto';
import type { CoreContext } from './context.js';
import { verifyPlivoSignature, type SignatureParams, type VerifyRequest, type VerifyResult } from '../sms/plivo-signature.js';

// Whether a webhook comes from Plivo. V3 signs the URL, the body and a nonce, so a replayed V3
// request is the same delivery again, which the handlers already take as a retry (by MessageUUID,
// by Sequence). V2, the scheme Plivo documents for messaging, signs only the URL and the nonce: a
// captured V2 request could be sent again with any body (a STOP in a student's name). So a V2
// nonce is bound, durably and before anything else happens, to the request it first came with,
// and lets in only that request again: Plivo's retry, should it reuse the nonce, and the retry
// after a crash between this claim and the message's own write (the claim is not undone, but it
// still admits the same request). The binding is kept WEBHOOK_NONCE_RETENTION_MS (24 h: Plivo's
// retries end within minutes, or within 24 h by its other account of them).

export type WebhookCheck = VerifyResult | { ok: false; reason: 'replayed_nonce'; detail: string; hmacs: number };

export class WebhookService {
  constructor(private readonly c: CoreContext) {}

  async verify(req: VerifyRequest): Promise<WebhookCheck> {
    const result = verifyPlivoSignature(req);
    if (!result.ok || (result.scheme !== 'V2' && result.scheme !== 'Ma-V2')) return result;
    const now = this.c.clock.now();
    const fresh = await this.c.store.webhookNonces.claim({
      nonce: result.nonce,
      fingerprint: requestFingerprint(req.method, req.url, req.params),
      seenAt: now,
      keepUntil: now + this.c.config.webhooks.nonceRetentionMs,
    });
    if (fresh) return result;
    return { ok: false, reason: 'replayed_nonce', detail: 'This V2 signature nonce came with another request before', hmacs: result.hmacs };
  }
}

/** A digest of everything a request carried: the same for a genuine retry, different for any other body. */
export function requestFingerprint(method: string, url: string, params: SignatureParams): string {
  const fields = Object.entries(params)
    .flatMap(([k, v]) => (typeof v === 'string' ? [[k, v]] : v.map((x) => [k, x])))
    .sort(([ka = '', va = ''], [kb = '', vb = '']) => (ka !== kb ? (ka < kb ? -1 : 1) : va < vb ? -1 : va > vb ? 1 : 0));
  return createHash('sha256').update(JSON.stringify([method.toUpperCase(), url, fields])).digest('base64url');
}
