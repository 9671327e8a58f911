import type { ClientSession, Filter } from 'mongodb';
import type { Campaign, CampaignCounts, CampaignKind, CampaignRecipient, ExpansionCursor, Message, RecipientStatus } from '../../domain/types.js';
import { StaleOwnerEpoch, type CampaignHandOff, type CampaignRepo, type NewIdempotencyRecord, type NewRecipient } from '../store.js';
import { AppError, notFound } from '../../errors.js';
import { RECIPIENT_COUNT_KEY, campaignCounts, recipientStatusOf } from '../adapter-rules.js';
import { pageLimit, type MongoContext } from './mongo-context.js';
import { ownerEpochIs, type CampaignCountsDoc, type CampaignDoc, type CampaignRecipientDoc } from './mongo-documents.js';
import { rethrowDuplicate } from './mongo-errors.js';
import type { MongoIdempotencyRepo } from './mongo-idempotency.js';

// Campaigns and their recipients. A recipient's `_id` is its campaign and phone, so one phone can
// never be a campaign's recipient twice, and an expansion batch that inserts them commits with the
// campaign's cursor in one transaction (a re-run after a crash finds the cursor moved on).

const recipientId = (campaignId: string, phone: string): string => JSON.stringify([campaignId, phone]);

// Campaigns stored before scheduled messages existed have no kind: they are campaigns.
const toCampaign = ({ _id, kind, ownerEpoch: _epoch, fenceWrites: _writes, ...rest }: CampaignDoc): Campaign => ({ id: _id, kind: kind ?? 'campaign', ...rest });

/**
 * Inside a transaction: the campaign is still owned by the activation of `ownerEpoch`. A conditional
 * write, not a read: a read in a snapshot transaction does not conflict with a claim committed
 * meanwhile, a write does (and MongoDB skips updates that change nothing, hence the counter).
 */
async function checkFence(m: MongoContext, campaignId: string, ownerEpoch: number, session: ClientSession): Promise<void> {
  const r = await m.c.campaigns.updateOne({ _id: campaignId, ...ownerEpochIs<CampaignDoc>(ownerEpoch) }, { $inc: { fenceWrites: 1 } }, { session });
  if (r.matchedCount === 1) return;
  if ((await m.c.campaigns.countDocuments({ _id: campaignId }, { limit: 1, session })) === 0) throw notFound('Campaign');
  throw new StaleOwnerEpoch(`campaign ${campaignId} is owned by a newer epoch than ${ownerEpoch}`);
}
const toRecipient = ({ _id: _ignored, ...rest }: CampaignRecipientDoc): CampaignRecipient => rest;

type CountMoves = Partial<Record<Exclude<keyof CampaignCountsDoc, '_id'>, number>>;

/** A recipient moving from one status to another: one less in the first count, one more in the second. */
const statusMove = (from: RecipientStatus, to: RecipientStatus, n = 1): CountMoves =>
  from === to ? {} : { [RECIPIENT_COUNT_KEY[from]]: -n, [RECIPIENT_COUNT_KEY[to]]: n };

/**
 * Inside the transaction that changed a campaign's recipients: its counts move with them, in one
 * update, so they commit or roll back together. A campaign stored before counts were kept has no
 * counts document; the update then matches nothing (no upsert, which would start it from zero)
 * and its counts stay those of a scan.
 */
async function moveCounts(m: MongoContext, campaignId: string, moves: CountMoves, session: ClientSession): Promise<void> {
  const $inc = Object.fromEntries(Object.entries(moves).filter(([, n]) => n !== 0)) as CountMoves;
  if (Object.keys($inc).length === 0) return;
  await m.c.campaignCounts.updateOne({ _id: campaignId }, { $inc }, { session });
}

/** The recipients' side of a campaign text, called by the message repository. */
export class MongoCampaignRecipients {
  constructor(private readonly m: MongoContext) {}

  /**
   * Inside the transaction that records the messages: each recipient gets its message, once. One
   * fence write per campaign and epoch in the batch (a hand-over batch is one campaign's, so one in
   * all), then every recipient in one bulk write; any recipient handed over already or skipped
   * refuses the whole batch, as does a stale epoch.
   */
  async handOff(handOffs: ReadonlyArray<{ recipient: CampaignHandOff; message: Message }>, session: ClientSession): Promise<void> {
    if (handOffs.length === 0) return;
    const fences = new Map(handOffs.map(({ recipient: r }) => [`${r.ownerEpoch}\n${r.campaignId}`, r]));
    for (const r of fences.values()) await checkFence(this.m, r.campaignId, r.ownerEpoch, session);
    const claims = handOffs.map(({ recipient, message }) => ({ _id: recipientId(recipient.campaignId, recipient.phone), phone: recipient.phone, messageId: message.id, at: message.createdAt }));
    const r = await this.m.c.campaignRecipients.bulkWrite(
      claims.map((c) => ({
        updateOne: { filter: { _id: c._id, messageId: null, status: 'queued' }, update: { $set: { messageId: c.messageId, handedAt: c.at, updatedAt: c.at } } },
      })),
      { session, ordered: true },
    );
    if (r.matchedCount === claims.length) return;
    // Which one: the first whose row does not hold its message now (the batch is aborted anyway).
    const held = new Map((await this.m.c.campaignRecipients.find({ _id: { $in: claims.map((c) => c._id) } }, { session, projection: { messageId: 1 } }).toArray()).map((d) => [d._id, d.messageId]));
    const refused = claims.find((c) => held.get(c._id) !== c.messageId) ?? claims[0]!;
    throw new AppError('conflict', `Campaign recipient ${refused.phone} was handed over already or skipped`);
  }

  /**
   * After a message's status changed. Unlike SQLite's single write, this is a second transaction
   * (a message's status change is one document update here, not a transaction): a crash in between
   * leaves the recipient one status behind until its message's next change. The recipient and its
   * campaign's counts change together, so the counts never drift from the rows.
   */
  async followMessage(message: Pick<Message, 'id' | 'direction' | 'status' | 'updatedAt'>): Promise<void> {
    if (message.direction !== 'outbound') return;
    const status = recipientStatusOf(message.status);
    const moves = { messageId: message.id, status: { $ne: status } };
    // Most status changes move no recipient (a compose's texts have none; `sending` still counts as
    // `queued`): one indexed read tells, and only a change that moves one pays for a transaction,
    // which checks again inside.
    if ((await this.m.c.campaignRecipients.findOne(moves, { projection: { _id: 1 } })) === null) return;
    await this.m.tx(async (session) => {
      const before = await this.m.c.campaignRecipients.findOneAndUpdate(
        moves,
        { $set: { status, updatedAt: message.updatedAt } },
        { session, returnDocument: 'before', projection: { campaignId: 1, status: 1 } },
      );
      if (before) await moveCounts(this.m, before.campaignId, statusMove(before.status, status), session);
    });
  }
}

export class MongoCampaignRepo implements CampaignRepo {
  constructor(
    private readonly m: MongoContext,
    private readonly idempotency: MongoIdempotencyRepo,
  ) {}

  create(c: Campaign, idempotency?: NewIdempotencyRecord): Promise<Campaign> {
    return this.m.op(() =>
      this.m.tx(async (session) => {
        if (idempotency) await this.idempotency.claim(idempotency, session);
        const { id, ...rest } = c;
        try {
          await this.m.c.campaigns.insertOne({ _id: id, ...rest }, { session });
        } catch (e) {
          rethrowDuplicate(e, { _id: () => new AppError('conflict', 'The campaign already exists') });
        }
        const { skippedDuplicate: _onTheCampaign, ...zero } = campaignCounts([], 0);
        await this.m.c.campaignCounts.insertOne({ _id: id, ...zero }, { session });
        if (idempotency) await this.idempotency.insert(idempotency, idempotency.response([]), session);
        return c;
      }),
    );
  }

  get(id: string): Promise<Campaign | null> {
    return this.m.op(async () => {
      const doc = await this.m.c.campaigns.findOne({ _id: id });
      return doc ? toCampaign(doc) : null;
    });
  }

  list(accountId: string, page: { limit: number; before?: string; kind?: CampaignKind }): Promise<Campaign[]> {
    return this.m.op(async () => {
      const limit = pageLimit(page.limit);
      if (limit === null) return [];
      // Kind 'campaign' also matches the documents written before kinds existed (no field).
      const kind: Filter<CampaignDoc> = page.kind === undefined ? {} : page.kind === 'campaign' ? { kind: { $ne: 'message' } } : { kind: page.kind };
      const docs = await this.m.c.campaigns
        .find({ accountId, ...kind, ...(page.before === undefined ? {} : { _id: { $lt: page.before } }) })
        .sort({ _id: -1 })
        .limit(limit)
        .toArray();
      return docs.map(toCampaign);
    });
  }

  listUnfinished(): Promise<Campaign[]> {
    return this.m.op(async () => (await this.m.c.campaigns.find({ state: { $nin: ['completed', 'cancelled'] } }).sort({ _id: 1 }).toArray()).map(toCampaign));
  }

  ownerEpoch(id: string): Promise<number | null> {
    return this.m.op(async () => {
      const doc = await this.m.c.campaigns.findOne({ _id: id }, { projection: { ownerEpoch: 1 } });
      return doc ? (doc.ownerEpoch ?? 0) : null;
    });
  }

  claimEpoch(id: string, expectedEpoch: number): Promise<number | null> {
    const ownerEpoch = expectedEpoch + 1;
    return this.m.op(async () => {
      // One conditional update: two activations claiming at once cannot both succeed.
      const r = await this.m.c.campaigns.updateOne({ _id: id, ...ownerEpochIs<CampaignDoc>(expectedEpoch) }, { $set: { ownerEpoch } });
      if (r.matchedCount === 1) return ownerEpoch;
      if ((await this.m.c.campaigns.countDocuments({ _id: id }, { limit: 1 })) === 0) throw notFound('Campaign');
      return null;
    });
  }

  saveState(id: string, change: Pick<Campaign, 'state' | 'pausedReason' | 'snapshot'> & { at: number }, ownerEpoch: number): Promise<Campaign> {
    return this.m.op(async () => {
      const doc = await this.m.c.campaigns.findOneAndUpdate(
        { _id: id, ...ownerEpochIs<CampaignDoc>(ownerEpoch) },
        { $set: { state: change.state, pausedReason: change.pausedReason, snapshot: change.snapshot, updatedAt: change.at } },
        { returnDocument: 'after' },
      );
      if (doc) return toCampaign(doc);
      if ((await this.m.c.campaigns.countDocuments({ _id: id }, { limit: 1 })) === 0) throw notFound('Campaign');
      throw new StaleOwnerEpoch(`campaign ${id} is owned by a newer epoch than ${ownerEpoch}`);
    });
  }

  addRecipients(
    campaignId: string,
    from: ExpansionCursor,
    to: ExpansionCursor,
    rows: NewRecipient[],
    at: number,
    ownerEpoch: number,
  ): Promise<{ inserted: number; duplicates: number } | null> {
    return this.m.op(() =>
      this.m.tx(async (session) => {
        await checkFence(this.m, campaignId, ownerEpoch, session);
        const campaign = await this.m.c.campaigns.findOne({ _id: campaignId }, { session, projection: { accountId: 1, expansion: 1 } });
        if (!campaign) throw notFound('Campaign');
        if (JSON.stringify(campaign.expansion) !== JSON.stringify(from)) return null;
        // The earliest row of each phone wins, as SQLite's ON CONFLICT DO NOTHING keeps it.
        const fresh = new Map<string, NewRecipient>();
        for (const row of rows) if (!fresh.has(row.phone)) fresh.set(row.phone, row);
        const existing = await this.m.c.campaignRecipients
          .find({ _id: { $in: [...fresh.keys()].map((p) => recipientId(campaignId, p)) } }, { session, projection: { phone: 1 } })
          .toArray();
        for (const d of existing) fresh.delete(d.phone);
        const docs: CampaignRecipientDoc[] = [...fresh.values()].map((row) => ({
          _id: recipientId(campaignId, row.phone),
          campaignId,
          accountId: campaign.accountId,
          ...row,
          messageId: null,
          handedAt: null,
          repliedAt: null,
          updatedAt: at,
        }));
        if (docs.length > 0) await this.m.c.campaignRecipients.insertMany(docs, { session, ordered: true });
        const duplicates = rows.length - docs.length;
        // Conditional on the cursor: a concurrent batch from the same cursor conflicts here.
        const moved = await this.m.c.campaigns.updateOne(
          { _id: campaignId, expansion: campaign.expansion },
          { $set: { expansion: to, updatedAt: at }, $inc: { skippedDuplicate: duplicates } },
          { session },
        );
        if (moved.matchedCount !== 1) return null;
        const moves: CountMoves = { total: docs.length };
        for (const d of docs) moves[RECIPIENT_COUNT_KEY[d.status]] = (moves[RECIPIENT_COUNT_KEY[d.status]] ?? 0) + 1;
        await moveCounts(this.m, campaignId, moves, session);
        return { inserted: docs.length, duplicates };
      }),
    );
  }

  counts(campaignId: string): Promise<CampaignCounts> {
    return this.m.op(async () => {
      const [kept, campaign] = await Promise.all([
        this.m.c.campaignCounts.findOne({ _id: campaignId }),
        this.m.c.campaigns.findOne({ _id: campaignId }, { projection: { skippedDuplicate: 1 } }),
      ]);
      const skippedDuplicate = campaign?.skippedDuplicate ?? 0;
      if (kept) {
        const { _id: _ignored, ...counts } = kept;
        return { ...counts, skippedDuplicate };
      }
      // A campaign stored before counts were kept (or none at all): counted from its rows.
      const tallies = await this.m.c.campaignRecipients
        .aggregate<{ _id: string; n: number; replied: number }>([
          { $match: { campaignId } },
          { $group: { _id: '$status', n: { $sum: 1 }, replied: { $sum: { $cond: [{ $eq: ['$repliedAt', null] }, 0, 1] } } } },
        ])
        .toArray();
      return campaignCounts(tallies.map((t) => ({ status: t._id, n: t.n, replied: t.replied })), skippedDuplicate);
    });
  }

  nextToHandOff(campaignId: string, senderNumber: string, limit: number): Promise<CampaignRecipient[]> {
    return this.m.op(async () => {
      const n = pageLimit(limit);
      if (n === null) return [];
      const docs = await this.m.c.campaignRecipients.find({ campaignId, senderNumber, messageId: null, status: 'queued' }).sort({ seq: 1 }).limit(n).toArray();
      return docs.map(toRecipient);
    });
  }

  skip(campaignId: string, phones: string[], status: 'skipped_opted_out' | 'skipped_invalid', at: number, ownerEpoch: number): Promise<void> {
    return this.m.op(() =>
      this.m.tx(async (session) => {
        await checkFence(this.m, campaignId, ownerEpoch, session);
        const r = await this.m.c.campaignRecipients.updateMany(
          { _id: { $in: phones.map((p) => recipientId(campaignId, p)) }, messageId: null, status: 'queued' },
          { $set: { status, updatedAt: at } },
          { session },
        );
        await moveCounts(this.m, campaignId, statusMove('queued', status, r.modifiedCount), session);
      }),
    );
  }

  listRecipients(campaignId: string, filter: { status?: RecipientStatus; limit: number; after?: number }): Promise<CampaignRecipient[]> {
    return this.m.op(async () => {
      const n = pageLimit(filter.limit);
      if (n === null) return [];
      const docs = await this.m.c.campaignRecipients
        .find({ campaignId, seq: { $gt: filter.after ?? -1 }, ...(filter.status === undefined ? {} : { status: filter.status }) })
        .sort({ seq: 1 })
        .limit(n)
        .toArray();
      return docs.map(toRecipient);
    });
  }

  recordReply(accountId: string, contactId: string, at: number): Promise<string | null> {
    return this.m.op(() =>
      this.m.tx(async (session) => {
        const [latest] = await this.m.c.campaignRecipients
          .find({ accountId, contactId, messageId: { $type: 'string' }, handedAt: { $lte: at } }, { session })
          .sort({ handedAt: -1 })
          .limit(1)
          .toArray();
        if (!latest || latest.repliedAt !== null) return null;
        const r = await this.m.c.campaignRecipients.updateOne({ _id: latest._id, repliedAt: null }, { $set: { repliedAt: at, updatedAt: at } }, { session });
        if (r.modifiedCount !== 1) return null;
        await moveCounts(this.m, latest.campaignId, { replies: 1 }, session);
        return latest.campaignId;
      }),
    );
  }
}
