import type { NonceClaim, WebhookNonceRepo } from '../store.js';
import type { MongoContext } from './mongo-context.js';
import { duplicateKeyOn } from './mongo-errors.js';

export class MongoWebhookNonceRepo implements WebhookNonceRepo {
  constructor(private readonly m: MongoContext) {}

  claim(c: NonceClaim): Promise<boolean> {
    return this.m.op(async () => {
      const record = { fingerprint: c.fingerprint, seenAt: c.seenAt, keepUntil: new Date(c.keepUntil) };
      // One atomic upsert decides: the filter matches a retry (same fingerprint) or an expired
      // record, which are updated; with no record at all it inserts one; a record for another
      // request matches nothing, so the upsert's insert collides on _id: a replay. The server does
      // not retry such an upsert (its filter is more than the _id), so a collision is looked at:
      // two identical requests racing each other both get in, as they would on SQLite.
      for (let attempt = 0; ; attempt++) {
        try {
          await this.m.c.webhookNonces.updateOne(
            { _id: c.nonce, $or: [{ fingerprint: c.fingerprint }, { keepUntil: { $lt: new Date(c.seenAt) } }] },
            { $set: record },
            { upsert: true },
          );
          return true;
        } catch (e) {
          if (duplicateKeyOn(e) !== '_id') throw e;
        }
        const existing = await this.m.c.webhookNonces.findOne({ _id: c.nonce });
        // Gone in between (the TTL monitor): claim again, once.
        if (existing === null && attempt === 0) continue;
        return existing?.fingerprint === c.fingerprint;
      }
    });
  }
}
