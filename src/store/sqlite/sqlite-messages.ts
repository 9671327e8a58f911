import type Database from 'better-sqlite3';
import type { Conversation, Message, MessageStatus, MessageStatusEvent } from '../../domain/types.js';
import type { Fence, MessageRepo, NewIdempotencyRecord, NewInbound, NewOutbound } from '../store.js';
import { AppError, notFound } from '../../errors.js';
import {
  conversationAfterInbound,
  conversationAfterOutbound,
  messageAsRecorded,
  newConversationFor,
  recipientStatusOf,
  staleLockToken,
} from '../adapter-rules.js';
import type { ConversationTable } from './conversation-table.js';
import type { SqliteIdempotencyRepo } from './sqlite-idempotency.js';
import type { CampaignRecipientTable } from './sqlite-campaigns.js';
import { boundedLimit, type SqliteContext } from './sqlite-context.js';
import { rethrowUnique } from './sqlite-errors.js';

const COLUMNS = `id, conversation_id AS conversationId, account_id AS accountId, contact_id AS contactId, direction,
  text, encoding, segments, status, from_number AS fromNumber, to_number AS toNumber,
  sent_by_user_id AS sentByUserId, sent_by_name AS sentByName, provider_id AS providerId,
  status_sequence AS statusSequence, error_code AS errorCode, quiet_hours_time_zone AS quietHoursTimeZone,
  created_at AS createdAt, updated_at AS updatedAt`;

type TransitionChange = Parameters<MessageRepo['transition']>[1];
type ProviderStatusChange = Parameters<MessageRepo['applyProviderStatus']>[1];

export class SqliteMessageRepo implements MessageRepo {
  private readonly insertRow: Database.Statement<[Message]>;
  private readonly saveStatus: Database.Statement<[Message]>;
  private readonly saveStatusAndProvider: Database.Statement<[Message]>;
  private readonly insertEvent: Database.Statement<[MessageStatusEvent]>;
  private readonly byId: Database.Statement<[string], Message>;
  private readonly byProviderId: Database.Statement<[string], Message>;
  private readonly newest: Database.Statement<[{ conversationId: string; limit: number }], Message>;
  private readonly newestBefore: Database.Statement<[{ conversationId: string; limit: number; before: string }], Message>;
  private readonly withStatus: Database.Statement<[{ status: MessageStatus; limit: number }], Message>;
  private readonly withStatusFrom: Database.Statement<
    [{ status: MessageStatus; fromNumber: string; limit: number }],
    Message
  >;
  private readonly events: Database.Statement<[string], MessageStatusEvent>;
  private readonly interrupted: Database.Statement<[], Message>;
  private readonly interruptedFrom: Database.Statement<[string], Message>;

  constructor(
    private readonly ctx: SqliteContext,
    private readonly conversations: ConversationTable,
    private readonly idempotency: SqliteIdempotencyRepo,
    private readonly recipients: CampaignRecipientTable,
  ) {
    const { db } = ctx;
    this.insertRow = db.prepare(
      `INSERT INTO messages (id, conversation_id, account_id, contact_id, direction, text, encoding, segments, status,
         from_number, to_number, sent_by_user_id, sent_by_name, provider_id, status_sequence, error_code,
         quiet_hours_time_zone, created_at, updated_at)
       VALUES (@id, @conversationId, @accountId, @contactId, @direction, @text, @encoding, @segments, @status,
         @fromNumber, @toNumber, @sentByUserId, @sentByName, @providerId, @statusSequence, @errorCode,
         @quietHoursTimeZone, @createdAt, @updatedAt)`,
    );
    // SQLite rewrites an index entry whenever its column is SET, changed or not: the provider id
    // (unique index) is set only by the change that brings it, not by the three after it.
    this.saveStatus = db.prepare(
      `UPDATE messages SET status = @status, status_sequence = @statusSequence, error_code = @errorCode, updated_at = @updatedAt
       WHERE id = @id`,
    );
    this.saveStatusAndProvider = db.prepare(
      `UPDATE messages SET status = @status, provider_id = @providerId, status_sequence = @statusSequence,
         error_code = @errorCode, updated_at = @updatedAt
       WHERE id = @id`,
    );
    this.insertEvent = db.prepare(
      'INSERT INTO message_status_events (message_id, status, at, error_code) VALUES (@messageId, @status, @at, @errorCode)',
    );
    this.byId = db.prepare(`SELECT ${COLUMNS} FROM messages WHERE id = ?`);
    this.byProviderId = db.prepare(`SELECT ${COLUMNS} FROM messages WHERE provider_id = ?`);
    // Two statements rather than `(@before IS NULL OR id < @before)`, which would not be a range.
    this.newest = db.prepare(
      `SELECT ${COLUMNS} FROM messages WHERE conversation_id = @conversationId ORDER BY id DESC LIMIT @limit`,
    );
    this.newestBefore = db.prepare(
      `SELECT ${COLUMNS} FROM messages WHERE conversation_id = @conversationId AND id < @before
       ORDER BY id DESC LIMIT @limit`,
    );
    // `direction = 'outbound'` lets the planner use the partial index messages_outbound_by_status.
    this.withStatus = db.prepare(
      `SELECT ${COLUMNS} FROM messages WHERE direction = 'outbound' AND status = @status ORDER BY id LIMIT @limit`,
    );
    this.withStatusFrom = db.prepare(
      `SELECT ${COLUMNS} FROM messages
       WHERE direction = 'outbound' AND status = @status AND from_number = @fromNumber ORDER BY id LIMIT @limit`,
    );
    this.events = db.prepare(
      `SELECT message_id AS messageId, status, at, error_code AS errorCode
       FROM message_status_events WHERE message_id = ? ORDER BY seq`,
    );
    this.interrupted = db.prepare(
      `SELECT ${COLUMNS} FROM messages
       WHERE direction = 'outbound' AND status = 'sending' AND provider_id IS NULL ORDER BY id`,
    );
    this.interruptedFrom = db.prepare(
      `SELECT ${COLUMNS} FROM messages
       WHERE direction = 'outbound' AND status = 'sending' AND provider_id IS NULL AND from_number = ? ORDER BY id`,
    );
  }

  recordInbound(input: NewInbound): Promise<{ message: Message; conversation: Conversation; duplicate: boolean }> {
    return this.ctx.write(() => {
      // The check and the insert share one op, so even concurrent webhook retries insert once.
      const providerId = input.message.providerId;
      const first = providerId === null ? undefined : this.byProviderId.get(providerId);
      if (first) {
        const conversation = this.conversations.get(first.conversationId);
        if (!conversation) throw new AppError('internal', 'A recorded message has no conversation');
        return { message: first, conversation, duplicate: true };
      }
      const existing = this.conversations.getByPair(input.message.accountId, input.message.contactId);
      const base = existing ?? newConversationFor(input.conversation, input.message);
      const message = messageAsRecorded(input.message, base.id, 'received');
      const conversation = conversationAfterInbound(base, message);
      this.saveConversation(existing, conversation);
      this.insertMessage(message);
      return { message, conversation, duplicate: false };
    });
  }

  enqueueOutbound(
    items: NewOutbound[],
    fence?: Fence,
    idempotency?: NewIdempotencyRecord,
  ): Promise<Array<{ message: Message; conversation: Conversation }>> {
    return this.ctx.write(() => {
      if (fence) {
        const fenced = this.conversations.ownership(fence.conversationId);
        if (!fenced) throw notFound('Conversation');
        // Checked and written in one op: no lock change can slip in between.
        if (fenced.lockToken !== fence.lockToken || fenced.ownerEpoch !== fence.ownerEpoch) throw staleLockToken();
      }
      if (idempotency) this.idempotency.claim(idempotency);
      const recorded = items.map((item) => {
        const existing = this.conversations.getByPair(item.message.accountId, item.message.contactId);
        const base = existing ?? newConversationFor(item.conversation, item.message);
        const message = messageAsRecorded(item.message, base.id, 'queued');
        const conversation = conversationAfterOutbound(base, message);
        this.saveConversation(existing, conversation);
        this.insertMessage(message);
        if (item.campaignRecipient) this.recipients.handOff(item.campaignRecipient, message);
        return { message, conversation };
      });
      // The same op: the record and the messages commit together or not at all.
      if (idempotency) this.idempotency.insert(idempotency, idempotency.response(recorded));
      return recorded;
    });
  }

  get(id: string): Promise<Message | null> {
    return this.ctx.read(() => this.byId.get(id) ?? null);
  }

  getByProviderId(providerId: string): Promise<Message | null> {
    return this.ctx.read(() => this.byProviderId.get(providerId) ?? null);
  }

  listForConversation(conversationId: string, page: { limit: number; before?: string }): Promise<Message[]> {
    return this.ctx.read(() => {
      const rows =
        page.before === undefined
          ? this.newest.all({ conversationId, limit: boundedLimit(page.limit) })
          : this.newestBefore.all({ conversationId, limit: boundedLimit(page.limit), before: page.before });
      return rows.reverse();
    });
  }

  listByStatus(status: MessageStatus, filter: { fromNumber?: string; limit?: number } = {}): Promise<Message[]> {
    // LIMIT -1 is SQLite for "no limit".
    const limit = filter.limit === undefined ? -1 : boundedLimit(filter.limit);
    return this.ctx.read(() =>
      filter.fromNumber === undefined
        ? this.withStatus.all({ status, limit })
        : this.withStatusFrom.all({ status, fromNumber: filter.fromNumber, limit }),
    );
  }

  transition(id: string, change: TransitionChange, from?: MessageStatus[]): Promise<Message | null> {
    return this.ctx.write(() => {
      const current = this.byId.get(id);
      if (!current) throw notFound('Message');
      if (from !== undefined && !from.includes(current.status)) return null;
      const next = messageAfterTransition(current, change);
      this.saveMessageStatus(current, next, change.errorCode ?? null);
      return next;
    });
  }

  applyProviderStatus(providerId: string, change: ProviderStatusChange): Promise<Message | null> {
    return this.ctx.write(() => {
      // Unknown is an error, not null: the callback can beat our own record of the provider id,
      // and failing it makes the provider retry it later instead of losing it.
      const current = this.byProviderId.get(providerId);
      if (!current) throw notFound('Message');
      if (change.sequence <= current.statusSequence) return null;
      const next = messageAfterProviderStatus(current, change);
      this.saveMessageStatus(current, next, change.errorCode);
      return next;
    });
  }

  history(messageId: string): Promise<MessageStatusEvent[]> {
    return this.ctx.read(() => this.events.all(messageId));
  }

  markInterruptedSendsUnknown(at: number, filter: { fromNumber?: string } = {}): Promise<string[]> {
    return this.ctx.write(() =>
      (filter.fromNumber === undefined ? this.interrupted.all() : this.interruptedFrom.all(filter.fromNumber)).map((m) => {
        this.saveMessageStatus(m, messageAfterTransition(m, { status: 'unknown', at }), null);
        return m.id;
      }),
    );
  }

  private saveConversation(existing: Conversation | null, next: Conversation): void {
    if (existing) this.conversations.save(next);
    else this.conversations.insert(next);
  }

  private insertMessage(m: Message): void {
    try {
      this.insertRow.run(m);
    } catch (e) {
      rethrowUnique(e, {
        'messages.id': () => new AppError('conflict', 'The message already exists'),
        'messages.provider_id': () => providerIdTaken(m.providerId),
      });
    }
    this.insertEvent.run({ messageId: m.id, status: m.status, at: m.createdAt, errorCode: m.errorCode });
  }

  private saveMessageStatus(previous: Message, m: Message, errorCode: string | null): void {
    if (m.providerId === previous.providerId) {
      this.saveStatus.run(m);
    } else {
      try {
        this.saveStatusAndProvider.run(m);
      } catch (e) {
        rethrowUnique(e, { 'messages.provider_id': () => providerIdTaken(m.providerId) });
      }
    }
    this.insertEvent.run({ messageId: m.id, status: m.status, at: m.updatedAt, errorCode });
    // A campaign recipient's status is its message's, coarser (queued and sending are both
    // `queued`, submitted and sent both `sent`): half of a text's changes leave it as it is, and
    // are not written.
    if (recipientStatusOf(previous.status) !== recipientStatusOf(m.status)) this.recipients.followMessage(m);
  }
}

/** MessageRepo.transition's change applied to a message: an absent providerId or errorCode stays. */
function messageAfterTransition(m: Message, change: TransitionChange): Message {
  return {
    ...m,
    status: change.status,
    providerId: change.providerId ?? m.providerId,
    errorCode: change.errorCode === undefined ? m.errorCode : change.errorCode,
    updatedAt: change.at,
  };
}

/** MessageRepo.applyProviderStatus's change applied to a message (the sequence check is the caller's). */
function messageAfterProviderStatus(m: Message, change: ProviderStatusChange): Message {
  return { ...m, status: change.status, statusSequence: change.sequence, errorCode: change.errorCode, updatedAt: change.at };
}

const providerIdTaken = (providerId: string | null): AppError =>
  new AppError('conflict', `Another message already has the provider id ${providerId ?? ''}`);
