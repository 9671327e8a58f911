import type { NonceClaim, WebhookNonceRepo } from '../store.js';
import type { MongoContext } from './mongo-context.js';
import { duplicateKeyOn } from './mongo-errors.js';

export class MongoWebhookNonceRepo implements WebhookNonceRepo {
  constructor(private readonly m: MongoContext) {}

  claim(c: NonceClaim): Promise<boolean> {
    return this.m.op(async () => {
      const record = { fingerprint: c.fingerprint, seenAt: c.seenAt, keepUntil: new Date(c.keepUntil) };
      for (let attempt = 0; ; attempt++) {
        try {
          // Inserts a new nonce or replaces an expired record (the TTL monitor may not have come
          // by yet), atomically. A live record matches nothing, so the upsert's insert collides
          // on _id, and the record decides: a retry (same fingerprint) or a replay.
          await this.m.c.webhookNonces.updateOne({ _id: c.nonce, keepUntil: { $lt: new Date(c.seenAt) } }, { $set: record }, { upsert: true });
          return true;
        } catch (e) {
          if (duplicateKeyOn(e) !== '_id') throw e;
        }
        const existing = await this.m.c.webhookNonces.findOne({ _id: c.nonce });
        // Expired and removed in between: claim again, once.
        if (existing === null && attempt === 0) continue;
        return existing?.fingerprint === c.fingerprint;
      }
    });
  }
}
