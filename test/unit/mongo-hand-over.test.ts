import type { ClientSession } from 'mongodb';
import { describe, expect, it } from 'vitest';
import type { Message } from '../../src/domain/types.js';
import { MongoCampaignRecipients } from '../../src/store/mongo/mongo-campaigns.js';
import type { MongoContext } from '../../src/store/mongo/mongo-context.js';

// The writes a MongoDB hand-over batch makes, counted on a recording stand-in for the driver's
// collections: no MongoDB server runs on this machine (the store contract suite checks the
// behaviour against a real replica set when MONGODB_URI is set). What is checked here is the cost:
// one fence write per batch, conditional on the owner epoch, and one bulk write of the recipients.

type Doc = { _id: string; messageId: string | null; status: string };

function recordingContext(rows: Doc[], currentEpoch: number) {
  const writes: Array<{ op: string; filter?: unknown; n?: number }> = [];
  const byId = new Map(rows.map((d) => [d._id, d]));
  const campaigns = {
    updateOne: async (filter: { ownerEpoch?: number }) => {
      writes.push({ op: 'fence', filter });
      return { matchedCount: filter.ownerEpoch === currentEpoch ? 1 : 0 };
    },
    countDocuments: async () => 1,
  };
  const campaignRecipients = {
    bulkWrite: async (ops: Array<{ updateOne: { filter: Doc; update: { $set: { messageId: string } } } }>) => {
      writes.push({ op: 'recipients', n: ops.length });
      let matchedCount = 0;
      for (const { updateOne: u } of ops) {
        const row = byId.get(u.filter._id);
        if (!row || row.messageId !== null || row.status !== 'queued') continue;
        row.messageId = u.update.$set.messageId;
        matchedCount++;
      }
      return { matchedCount };
    },
    find: (filter: { _id: { $in: string[] } }) => ({ toArray: async () => filter._id.$in.flatMap((id) => (byId.has(id) ? [byId.get(id)!] : [])) }),
  };
  const m = { c: { campaigns, campaignRecipients } } as unknown as MongoContext;
  return { m, writes };
}

const key = (phone: string) => JSON.stringify(['C1', phone]);
const message = (id: string) => ({ id, createdAt: 1 }) as Message;
const session = {} as ClientSession;
const phones = ['+16175550101', '+16175550102', '+16175550103'];
const batch = (epoch: number) => phones.map((phone, i) => ({ recipient: { campaignId: 'C1', phone, ownerEpoch: epoch }, message: message(`M${i}`) }));

describe('a MongoDB hand-over batch', () => {
  it('makes one fence write, conditional on the owner epoch, and one write of all its recipients', async () => {
    const rows = phones.map((p) => ({ _id: key(p), messageId: null, status: 'queued' }));
    const { m, writes } = recordingContext(rows, 3);
    await new MongoCampaignRecipients(m).handOff(batch(3), session);
    expect(writes).toEqual([
      { op: 'fence', filter: { _id: 'C1', ownerEpoch: 3 } },
      { op: 'recipients', n: 3 },
    ]);
    expect(rows.map((r) => r.messageId)).toEqual(['M0', 'M1', 'M2']);
  });

  it('refuses the batch under a stale epoch before writing any recipient', async () => {
    const rows = phones.map((p) => ({ _id: key(p), messageId: null, status: 'queued' }));
    const { m, writes } = recordingContext(rows, 4);
    await expect(new MongoCampaignRecipients(m).handOff(batch(3), session)).rejects.toMatchObject({ name: 'StaleOwnerEpoch' });
    expect(writes.map((w) => w.op)).toEqual(['fence']);
  });

  it('refuses the batch when one recipient was handed over already, naming it', async () => {
    const rows = phones.map((p, i) => ({ _id: key(p), messageId: i === 1 ? 'EARLIER' : null, status: 'queued' }));
    const { m } = recordingContext(rows, 3);
    await expect(new MongoCampaignRecipients(m).handOff(batch(3), session)).rejects.toMatchObject({
      code: 'conflict',
      message: `Campaign recipient ${phones[1]} was handed over already or skipped`,
    });
  });
});
