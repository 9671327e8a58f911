import type { Conversation, Message, MessageStatus } from '../domain/types.js';
import { contactForPhone } from '../domain/contact-fields.js';
import type { CoreContext } from './context.js';
import type { Config } from '../config.js';
import type { MessagingService } from './messaging-service.js';
import { optOutScope } from './messaging-service.js';
import { analyse } from '../domain/segments.js';
import { keywordIntent } from '../domain/opt-out.js';
import { newId } from '../ids.js';
import { newConversation } from '../domain/conversation.js';
import { dialXml, speakAndHangUpXml } from '../sms/plivo-xml.js';

// What Plivo tells us: texts from students, delivery reports, and calls. Each handler returns
// only after its effect is durable, because the webhook answers 200 only then (Plivo retries
// anything else, and the retry is deduplicated).

export interface InboundSms {
  from: string;
  to: string;
  text: string;
  providerId: string;
}

export type InboundOutcome =
  | { kind: 'recorded'; message: Message; conversation: Conversation; keyword: 'optOut' | 'optIn' | 'help' | null }
  | { kind: 'duplicate'; message: Message }
  | { kind: 'unknownNumber' };

export interface DeliveryReport {
  providerId: string;
  status: string;
  sequence: number;
  errorCode: string | null;
}

/** Plivo's message states → ours. (`queued` at Plivo is our `submitted`, recorded when Plivo accepted the send.) */
const PROVIDER_STATUS: Record<string, MessageStatus> = {
  sent: 'sent',
  delivered: 'delivered',
  undelivered: 'undelivered',
  failed: 'failed',
  rejected: 'rejected',
};

/** Plivo's error code for "the recipient opted out at the carrier" (plivo.md §9). */
const CARRIER_OPT_OUT_ERROR = '200';

export const NO_FORWARDING_MESSAGE = 'This number does not take calls. Please send a text message instead. Goodbye.';

/** What inbound texts read from the configuration. */
export type InboundSettings = Pick<Config, 'replies'>;

export class InboundService {
  constructor(
    private readonly c: CoreContext,
    private readonly messaging: MessagingService,
    private readonly settings: InboundSettings,
  ) {}

  async receiveSms(sms: InboundSms): Promise<InboundOutcome> {
    const { store, clock, log } = this.c;
    // Fast path for Plivo's retries: a message we already have changes nothing.
    const existing = await store.messages.getByProviderId(sms.providerId);
    if (existing) return { kind: 'duplicate', message: existing };

    const account = await store.accounts.getByNumber(sms.to);
    if (!account) {
      log.warn({ to: sms.to, providerId: sms.providerId }, 'inbound text to a number no account owns; dropped');
      return { kind: 'unknownNumber' };
    }
    const now = clock.now();
    // Most texts come from known students: a read, not a write, finds them.
    const contact = (await store.contacts.getByPhone(sms.from)) ?? await store.contacts.getOrCreateByPhone(contactForPhone(newId(now), sms.from, now));

    // Consent changes are recorded before the message, and are idempotent: if we crash in
    // between, Plivo's retry records the message and the opt-out still holds.
    const keyword = keywordIntent(sms.text);
    const scope = optOutScope(account);
    if (keyword === 'optOut') await store.contacts.setOptOut({ contactId: contact.id, scope, optedOutAt: now, source: 'keyword' });
    if (keyword === 'optIn') await store.contacts.clearOptOut(contact.id, scope);

    const info = analyse(sms.text);
    const conversationId = newId(now);
    const recorded = await store.messages.recordInbound({
      conversation: newConversation({ id: conversationId, accountId: account.id, contactId: contact.id, folder: 'inbox', senderNumber: sms.to, now }),
      message: {
        id: newId(now),
        conversationId,
        accountId: account.id,
        contactId: contact.id,
        direction: 'inbound',
        text: sms.text,
        encoding: info.encoding,
        segments: Math.max(1, info.segments),
        status: 'received',
        fromNumber: sms.from,
        toNumber: sms.to,
        sentByUserId: null,
        sentByName: null,
        providerId: sms.providerId,
        statusSequence: 0,
        errorCode: null,
        quietHoursTimeZone: null,
        createdAt: now,
        updatedAt: now,
      },
    });
    if (recorded.duplicate) return { kind: 'duplicate', message: recorded.message };
    // A reply to a campaign text is counted on that campaign (the message event below tells it).
    // Counting is not worth failing the webhook for: Plivo's retry would be a duplicate anyway.
    await store.campaigns
      .recordReply(account.id, contact.id, now)
      .catch((err: unknown) => log.error({ err, accountId: account.id }, 'could not count a reply on its campaign'));
    this.c.events.emit({ type: 'message', accountId: account.id, message: recorded.message });
    this.c.events.emit({ type: 'conversation', accountId: account.id, conversation: recorded.conversation });

    if (keyword) {
      const replies = this.settings.replies;
      const text = keyword === 'optOut' ? replies.optOut : keyword === 'optIn' ? replies.optIn : replies.help;
      // One confirmation per keyword message (the message is new, so this runs once).
      await this.messaging
        .sendAutomatic(account, contact, recorded.conversation, text)
        .catch((err: unknown) => log.error({ err, conversationId: recorded.conversation.id }, 'could not queue keyword reply'));
    }
    return { kind: 'recorded', message: recorded.message, conversation: recorded.conversation, keyword };
  }

  /** A delivery report; repeated and out-of-order ones (by Sequence) change nothing. */
  async deliveryReport(r: DeliveryReport): Promise<Message | null> {
    const reported = r.status.toLowerCase();
    if (reported === 'queued') return null; // nothing new: we recorded `submitted` when Plivo accepted it
    const status = PROVIDER_STATUS[reported];
    if (!status) {
      this.c.log.warn({ providerId: r.providerId, status: r.status }, 'unknown delivery status ignored');
      return null;
    }
    const now = this.c.clock.now();
    const updated = await this.c.store.messages.applyProviderStatus(r.providerId, {
      status,
      sequence: r.sequence,
      errorCode: r.errorCode && r.errorCode !== '000' ? r.errorCode : null,
      at: now,
    });
    if (!updated) return null;
    if (r.errorCode === CARRIER_OPT_OUT_ERROR) {
      // The carrier says the student opted out (e.g. STOP sent to another number of the campaign):
      // record it so we stop sending, as Plivo asks.
      const account = await this.c.store.accounts.get(updated.accountId);
      if (account) {
        await this.c.store.contacts.setOptOut({ contactId: updated.contactId, scope: optOutScope(account), optedOutAt: now, source: 'provider' });
      }
    }
    this.c.events.emit({ type: 'message', accountId: updated.accountId, message: updated });
    return updated;
  }

  /** Plivo XML for a call to one of our numbers: ring the forwarding number, or say so and hang up. */
  async answerCall(call: { from: string; to: string }): Promise<string> {
    const account = await this.c.store.accounts.getByNumber(call.to);
    if (account?.forwardingNumber) return dialXml(account.forwardingNumber, call.from);
    return speakAndHangUpXml(NO_FORWARDING_MESSAGE);
  }
}
