import type Database from 'better-sqlite3';
import type { Campaign, CampaignCounts, CampaignKind, CampaignRecipient, ExpansionCursor, Message, RecipientStatus } from '../../domain/types.js';
import { StaleOwnerEpoch, type CampaignHandOff, type CampaignRepo, type NewIdempotencyRecord, type NewRecipient } from '../store.js';
import { AppError, notFound } from '../../errors.js';
import { campaignCounts, recipientStatusOf } from '../adapter-rules.js';
import { bit, boundedLimit, jsonList, type SqliteContext } from './sqlite-context.js';
import type { SqliteIdempotencyRepo } from './sqlite-idempotency.js';
import { rethrowUnique } from './sqlite-errors.js';

const CAMPAIGN_COLUMNS = `id, kind, account_id AS accountId, name, text, time_zone AS timeZone, state, paused_reason AS pausedReason,
  scheduled_at AS scheduledAt, send_anyway AS sendAnyway, snapshot, source, expansion, skipped_duplicate AS skippedDuplicate,
  created_by_user_id AS createdByUserId, created_by_name AS createdByName, created_at AS createdAt, updated_at AS updatedAt`;

const RECIPIENT_COLUMNS = `campaign_id AS campaignId, phone, seq, account_id AS accountId, contact_id AS contactId,
  sender_number AS senderNumber, status, message_id AS messageId, handed_at AS handedAt, replied_at AS repliedAt, updated_at AS updatedAt`;

interface CampaignRow extends Omit<Campaign, 'sendAnyway' | 'source' | 'expansion'> {
  sendAnyway: number;
  source: string;
  expansion: string;
}

const toCampaign = (r: CampaignRow): Campaign => ({
  ...r,
  sendAnyway: r.sendAnyway === 1,
  source: JSON.parse(r.source) as Campaign['source'],
  expansion: JSON.parse(r.expansion) as ExpansionCursor,
});

const toParams = (c: Campaign): Record<string, unknown> => ({
  ...c,
  sendAnyway: bit(c.sendAnyway),
  source: JSON.stringify(c.source),
  expansion: JSON.stringify(c.expansion),
});

/**
 * A campaign's counts: one row of campaign_counts, kept by triggers in the write that changes a
 * recipient (migration 9), and the duplicates, kept by the expansion batch that counts them.
 */
export const CAMPAIGN_COUNTS_SQL = `SELECT k.total, k.queued, k.sent, k.delivered, k.failed, k.unknown,
    k.skipped_opted_out AS skippedOptedOut, c.skipped_duplicate AS skippedDuplicate, k.skipped_invalid AS skippedInvalid, k.replies
  FROM campaigns c JOIN campaign_counts k ON k.campaign_id = c.id WHERE c.id = ?`;

/**
 * The recipients' side of a campaign text, inside the message repository's write ops: the text is
 * handed over in the same op that records the message, and the recipient's status follows each
 * status change of its message.
 */
export class CampaignRecipientTable {
  private readonly claim: Database.Statement<[{ campaignId: string; phone: string; messageId: string; at: number }]>;
  private readonly follow: Database.Statement<[{ messageId: string; status: RecipientStatus; at: number }]>;
  private readonly epochOf: Database.Statement<[string], number>;

  constructor(db: Database.Database) {
    this.epochOf = db.prepare<[string], number>('SELECT owner_epoch FROM campaigns WHERE id = ?').pluck();
    this.claim = db.prepare(
      `UPDATE campaign_recipients SET message_id = @messageId, handed_at = @at, updated_at = @at
       WHERE campaign_id = @campaignId AND phone = @phone AND message_id IS NULL AND status = 'queued'`,
    );
    this.follow = db.prepare(
      `UPDATE campaign_recipients SET status = @status, updated_at = @at WHERE message_id = @messageId AND status <> @status`,
    );
  }

  /** The campaign's owner epoch (undefined: no such campaign). */
  ownerEpoch(campaignId: string): number | undefined {
    return this.epochOf.get(campaignId);
  }

  /**
   * Inside a write op: the campaign is still owned by the activation of `ownerEpoch`. Checked and
   * written in one op of the single writer, so no claim can slip in between.
   */
  checkFence(campaignId: string, ownerEpoch: number): void {
    const epoch = this.epochOf.get(campaignId);
    if (epoch === undefined) throw notFound('Campaign');
    if (epoch !== ownerEpoch) throw new StaleOwnerEpoch(`campaign ${campaignId} is owned by epoch ${epoch}, not ${ownerEpoch}`);
  }

  handOff(recipient: CampaignHandOff, m: Message): void {
    this.checkFence(recipient.campaignId, recipient.ownerEpoch);
    const r = this.claim.run({ campaignId: recipient.campaignId, phone: recipient.phone, messageId: m.id, at: m.createdAt });
    if (r.changes !== 1) throw new AppError('conflict', `Campaign recipient ${recipient.phone} was handed over already or skipped`);
  }

  followMessage(m: Message): void {
    if (m.direction !== 'outbound') return;
    this.follow.run({ messageId: m.id, status: recipientStatusOf(m.status), at: m.updatedAt });
  }
}

export class SqliteCampaignRepo implements CampaignRepo {
  private readonly insertCampaign: Database.Statement<[Record<string, unknown>]>;
  private readonly byId: Database.Statement<[string], CampaignRow>;
  private readonly newest: Database.Statement<[{ accountId: string; limit: number; before: string }], CampaignRow>;
  private readonly newestOfKind: Database.Statement<[{ accountId: string; limit: number; before: string; kind: CampaignKind }], CampaignRow>;
  private readonly unfinished: Database.Statement<[], CampaignRow>;
  private readonly updateState: Database.Statement<[{ id: string; state: string; pausedReason: string | null; snapshot: string; at: number }]>;
  private readonly cursorOf: Database.Statement<[string], string>;
  private readonly advance: Database.Statement<[{ id: string; expansion: string; duplicates: number; at: number }]>;
  private readonly insertRecipient: Database.Statement<[Record<string, unknown>]>;
  private readonly countsOf: Database.Statement<[string], CampaignCounts>;
  private readonly toHandOff: Database.Statement<[{ campaignId: string; senderNumber: string; limit: number }], CampaignRecipient>;
  private readonly skipRows: Database.Statement<[{ campaignId: string; phones: string; status: string; at: number }]>;
  private readonly page: Database.Statement<[{ campaignId: string; after: number; limit: number }], CampaignRecipient>;
  private readonly pageByStatus: Database.Statement<[{ campaignId: string; status: string; after: number; limit: number }], CampaignRecipient>;
  private readonly latestText: Database.Statement<[{ accountId: string; contactId: string; at: number }], { campaignId: string; phone: string; repliedAt: number | null }>;
  private readonly markReplied: Database.Statement<[{ campaignId: string; phone: string; at: number }]>;
  private readonly claimOwner: Database.Statement<[{ id: string; expected: number; epoch: number }]>;

  constructor(
    private readonly ctx: SqliteContext,
    private readonly idempotency: SqliteIdempotencyRepo,
    private readonly recipients: CampaignRecipientTable,
  ) {
    const { db } = ctx;
    this.claimOwner = db.prepare('UPDATE campaigns SET owner_epoch = @epoch WHERE id = @id AND owner_epoch = @expected');
    this.insertCampaign = db.prepare(
      `INSERT INTO campaigns (id, kind, account_id, name, text, time_zone, state, paused_reason, scheduled_at, send_anyway, snapshot,
         source, expansion, skipped_duplicate, created_by_user_id, created_by_name, created_at, updated_at)
       VALUES (@id, @kind, @accountId, @name, @text, @timeZone, @state, @pausedReason, @scheduledAt, @sendAnyway, @snapshot,
         @source, @expansion, @skippedDuplicate, @createdByUserId, @createdByName, @createdAt, @updatedAt)`,
    );
    this.byId = db.prepare(`SELECT ${CAMPAIGN_COLUMNS} FROM campaigns WHERE id = ?`);
    // Ranges of campaigns_by_account and campaigns_by_account_kind, newest first.
    this.newest = db.prepare(
      `SELECT ${CAMPAIGN_COLUMNS} FROM campaigns WHERE account_id = @accountId AND id < @before ORDER BY id DESC LIMIT @limit`,
    );
    this.newestOfKind = db.prepare(
      `SELECT ${CAMPAIGN_COLUMNS} FROM campaigns WHERE account_id = @accountId AND kind = @kind AND id < @before ORDER BY id DESC LIMIT @limit`,
    );
    this.unfinished = db.prepare(`SELECT ${CAMPAIGN_COLUMNS} FROM campaigns WHERE state NOT IN ('completed', 'cancelled') ORDER BY id`);
    this.updateState = db.prepare(
      'UPDATE campaigns SET state = @state, paused_reason = @pausedReason, snapshot = @snapshot, updated_at = @at WHERE id = @id',
    );
    this.cursorOf = db.prepare<[string], string>('SELECT expansion FROM campaigns WHERE id = ?').pluck();
    this.advance = db.prepare(
      'UPDATE campaigns SET expansion = @expansion, skipped_duplicate = skipped_duplicate + @duplicates, updated_at = @at WHERE id = @id',
    );
    this.insertRecipient = db.prepare(
      `INSERT INTO campaign_recipients (campaign_id, phone, seq, account_id, contact_id, sender_number, status, message_id,
         handed_at, replied_at, updated_at)
       VALUES (@campaignId, @phone, @seq, @accountId, @contactId, @senderNumber, @status, NULL, NULL, NULL, @at)
       ON CONFLICT (campaign_id, phone) DO NOTHING`,
    );
    this.countsOf = db.prepare(CAMPAIGN_COUNTS_SQL);
    this.toHandOff = db.prepare(
      `SELECT ${RECIPIENT_COLUMNS} FROM campaign_recipients
       WHERE campaign_id = @campaignId AND sender_number = @senderNumber AND message_id IS NULL AND status = 'queued'
       ORDER BY seq LIMIT @limit`,
    );
    this.skipRows = db.prepare(
      `UPDATE campaign_recipients SET status = @status, updated_at = @at
       WHERE campaign_id = @campaignId AND phone IN (SELECT value FROM json_each(@phones)) AND message_id IS NULL AND status = 'queued'`,
    );
    this.page = db.prepare(
      `SELECT ${RECIPIENT_COLUMNS} FROM campaign_recipients WHERE campaign_id = @campaignId AND seq > @after ORDER BY seq LIMIT @limit`,
    );
    this.pageByStatus = db.prepare(
      `SELECT ${RECIPIENT_COLUMNS} FROM campaign_recipients
       WHERE campaign_id = @campaignId AND status = @status AND seq > @after ORDER BY seq LIMIT @limit`,
    );
    this.latestText = db.prepare(
      `SELECT campaign_id AS campaignId, phone, replied_at AS repliedAt FROM campaign_recipients
       WHERE account_id = @accountId AND contact_id = @contactId AND message_id IS NOT NULL AND handed_at <= @at
       ORDER BY handed_at DESC LIMIT 1`,
    );
    this.markReplied = db.prepare(
      'UPDATE campaign_recipients SET replied_at = @at, updated_at = @at WHERE campaign_id = @campaignId AND phone = @phone',
    );
  }

  create(c: Campaign, idempotency?: NewIdempotencyRecord): Promise<Campaign> {
    return this.ctx.write(() => {
      if (idempotency) this.idempotency.claim(idempotency);
      try {
        this.insertCampaign.run(toParams(c));
      } catch (e) {
        rethrowUnique(e, { 'campaigns.id': () => new AppError('conflict', 'The campaign already exists') });
      }
      if (idempotency) this.idempotency.insert(idempotency, idempotency.response([]));
      return c;
    });
  }

  get(id: string): Promise<Campaign | null> {
    return this.ctx.read(() => {
      const row = this.byId.get(id);
      return row ? toCampaign(row) : null;
    });
  }

  list(accountId: string, page: { limit: number; before?: string; kind?: CampaignKind }): Promise<Campaign[]> {
    // Ids are ULIDs (digits and capitals): "~" sorts after every one of them.
    const params = { accountId, limit: boundedLimit(page.limit), before: page.before ?? '~' };
    return this.ctx.read(() => (page.kind === undefined ? this.newest.all(params) : this.newestOfKind.all({ ...params, kind: page.kind })).map(toCampaign));
  }

  listUnfinished(): Promise<Campaign[]> {
    return this.ctx.read(() => this.unfinished.all().map(toCampaign));
  }

  ownerEpoch(id: string): Promise<number | null> {
    return this.ctx.read(() => this.recipients.ownerEpoch(id) ?? null);
  }

  claimEpoch(id: string, expectedEpoch: number): Promise<number | null> {
    return this.ctx.write(() => {
      const epoch = expectedEpoch + 1;
      if (this.claimOwner.run({ id, expected: expectedEpoch, epoch }).changes === 1) return epoch;
      if (this.recipients.ownerEpoch(id) === undefined) throw notFound('Campaign');
      return null;
    });
  }

  saveState(id: string, change: Pick<Campaign, 'state' | 'pausedReason' | 'snapshot'> & { at: number }, ownerEpoch: number): Promise<Campaign> {
    return this.ctx.write(() => {
      this.recipients.checkFence(id, ownerEpoch);
      this.updateState.run({ id, state: change.state, pausedReason: change.pausedReason, snapshot: change.snapshot, at: change.at });
      return toCampaign(this.byId.get(id)!);
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
    return this.ctx.write(() => {
      this.recipients.checkFence(campaignId, ownerEpoch);
      const stored = this.cursorOf.get(campaignId);
      if (stored === undefined) throw notFound('Campaign');
      if (stored !== JSON.stringify(from)) return null;
      const campaign = this.byId.get(campaignId)!;
      let inserted = 0;
      for (const row of rows) inserted += this.insertRecipient.run({ ...row, campaignId, accountId: campaign.accountId, at }).changes;
      const duplicates = rows.length - inserted;
      this.advance.run({ id: campaignId, expansion: JSON.stringify(to), duplicates, at });
      return { inserted, duplicates };
    });
  }

  counts(campaignId: string): Promise<CampaignCounts> {
    return this.ctx.read(() => this.countsOf.get(campaignId) ?? campaignCounts([], 0));
  }

  nextToHandOff(campaignId: string, senderNumber: string, limit: number): Promise<CampaignRecipient[]> {
    return this.ctx.read(() => this.toHandOff.all({ campaignId, senderNumber, limit: boundedLimit(limit) }));
  }

  skip(campaignId: string, phones: string[], status: 'skipped_opted_out' | 'skipped_invalid', at: number, ownerEpoch: number): Promise<void> {
    return this.ctx.write(() => {
      this.recipients.checkFence(campaignId, ownerEpoch);
      this.skipRows.run({ campaignId, phones: jsonList(phones), status, at });
    });
  }

  listRecipients(campaignId: string, filter: { status?: RecipientStatus; limit: number; after?: number }): Promise<CampaignRecipient[]> {
    const params = { campaignId, after: filter.after ?? -1, limit: boundedLimit(filter.limit) };
    return this.ctx.read(() => (filter.status === undefined ? this.page.all(params) : this.pageByStatus.all({ ...params, status: filter.status })));
  }

  recordReply(accountId: string, contactId: string, at: number): Promise<string | null> {
    return this.ctx.write(() => {
      const latest = this.latestText.get({ accountId, contactId, at });
      if (!latest || latest.repliedAt !== null) return null;
      this.markReplied.run({ campaignId: latest.campaignId, phone: latest.phone, at });
      return latest.campaignId;
    });
  }
}
