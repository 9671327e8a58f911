import { createActor } from 'xstate';
import { campaignMachine, scheduleRefusal } from '../../actors/campaign/index.js';
import type { Account, Campaign, CampaignCounts, CampaignKind, CampaignSource, CampaignRecipient, CampaignStateName, ContactFilter, RecipientStatus } from '../domain/types.js';
import type { Principal } from '../auth/principal.js';
import type { CoreContext } from '../services/context.js';
import type { Config } from '../config.js';
import type { Idempotency } from '../services/idempotency.js';
import type { ActorRef } from '../actors-runtime/actor-ref.js';
import type { Placement } from '../actors-runtime/placement.js';
import { AppError, notFound, type ErrorCode } from '../errors.js';
import { canAccess, resolveAccountRef } from '../services/account-access.js';
import { contactsOrRefuse, refuseCombinedOptions, refuseGroupAccountOptions, senderIdentity, type ComposeInput } from '../services/messaging-service.js';
import { tagsOrRefuse } from '../domain/contact-fields.js';
import { merge, unknownFields } from '../domain/merge-fields.js';
import { analyse, type SegmentInfo } from '../domain/segments.js';
import { newId } from '../ids.js';
import { EXPANSION_BATCH, estimatedDurationMs } from './campaign-expansion.js';
import { MAX_PHONE_INPUTS, csvRecipients } from './campaign-csv.js';
import type { CampaignCommand, CampaignReply } from './campaign-actor.js';

/** The placement kind of campaign actors. */
export const CAMPAIGN_ACTOR = 'campaign';

// Campaigns as people and integrations use them: create (with an Idempotency-Key), list, read,
// per-recipient status, and start / pause / resume / cancel. Access is the compose rule: whoever
// may send from the account may run its campaigns (docs/access.md); without access a campaign
// does not exist (404). Commands reach the campaign's actor through the actor reference, wherever
// it is placed.

export interface CampaignCreateInput {
  groupAccountCode?: string | undefined;
  name: string;
  text: string;
  recipients: { phones: string[]; contactIds: string[]; csv?: string | undefined; filter?: { customFields?: Record<string, string> | undefined; myStudents: boolean; tags?: string[] | undefined } | undefined };
  scheduledAt?: number | undefined;
  sendAnyway: boolean;
}

export type CampaignPreview = SegmentInfo & { maxLength: number; phone: string; contactId: string | null; text: string; tooLong: boolean };

export interface CampaignView {
  id: string;
  kind: CampaignKind;
  accountId: string;
  name: string;
  text: string;
  state: CampaignStateName;
  pausedReason: 'person' | 'quietHours' | null;
  scheduledAt: number | null;
  counts: CampaignCounts;
  /** What is left at the pool's pacing (on creation: the whole list as given). */
  estimatedDurationMs: number;
  createdBy: { userId: string | null; name: string };
  createdAt: number;
  updatedAt: number;
}

export const CAMPAIGN_CREATED = 201;

type Claim = Parameters<Parameters<Idempotency['once']>[4]>[0];

const EMPTY_COUNTS: CampaignCounts = {
  total: 0, queued: 0, sent: 0, delivered: 0, failed: 0, unknown: 0, skippedOptedOut: 0, skippedDuplicate: 0, skippedInvalid: 0, replies: 0,
};

/** What campaigns (their service and their actor) read from the configuration. */
export type CampaignSettings = Pick<Config, 'defaultTimeZone'> & {
  sending: Pick<Config['sending'], 'maxLength' | 'numberSendIntervalMs' | 'campaignProgressIntervalMs'>;
};

export class CampaignService {
  constructor(
    private readonly c: CoreContext,
    private readonly idempotency: Idempotency,
    private readonly actors: ActorRef<CampaignCommand, CampaignReply>,
    private readonly placement: Placement,
    private readonly settings: CampaignSettings,
  ) {}

  create(p: Principal, input: CampaignCreateInput, idempotencyKey?: string): Promise<CampaignView> {
    return this.idempotency.once(p, idempotencyKey, { operation: 'createCampaign', ...input }, CAMPAIGN_CREATED, (claim) => this.createOnce(p, input, claim));
  }

  /**
   * A compose with `scheduledAt` (POST /messages): a campaign of kind `message` whose recipients
   * are the compose's `to` (contact ids and phones), created `scheduled`; its actor starts it at
   * the time, with the campaign's rules (quiet hours, sendAnyway after 20:00, opt-outs checked
   * when each text is queued). The Idempotency-Key is the compose's: one key, one outcome, sent
   * now or scheduled.
   */
  scheduleMessage(p: Principal, input: ComposeInput & { scheduledAt: number }, idempotencyKey?: string): Promise<CampaignView> {
    return this.idempotency.once(p, idempotencyKey, { operation: 'compose', ...input }, CAMPAIGN_CREATED, (claim) => this.scheduleOnce(p, input, claim));
  }

  private async createOnce(p: Principal, input: CampaignCreateInput, claim: Claim): Promise<CampaignView> {
    const account = await this.sendingAccount(p, input.groupAccountCode);
    const filter = await this.filterOf(p, account, input.recipients.filter);
    // The upload's rows join the phones: at most as many inputs in all as the phones list takes.
    const phones = input.recipients.csv === undefined ? input.recipients.phones : [...input.recipients.phones, ...(await csvRecipients(input.recipients.csv, MAX_PHONE_INPUTS - input.recipients.phones.length))];
    const source = { phones, contactIds: input.recipients.contactIds, filter };
    return this.createRun(p, account, claim, { kind: 'campaign', name: input.name, text: input.text, source, scheduledAt: input.scheduledAt ?? null, sendAnyway: input.sendAnyway });
  }

  private async scheduleOnce(p: Principal, input: ComposeInput & { scheduledAt: number }, claim: Claim): Promise<CampaignView> {
    refuseCombinedOptions(input);
    const account = await this.sendingAccount(p, input.groupAccountCode);
    refuseGroupAccountOptions(account, input);
    // Both pick recipients or senders from the staff assignments as they are when sending at
    // once; a scheduled message goes from this account to the people listed.
    if (input.sendToMyStudentsOnly || input.sendAsStaff) {
      throw new AppError('not_schedulable', `${input.sendToMyStudentsOnly ? 'sendToMyStudentsOnly' : 'sendAsStaff'} cannot be scheduled; send now, or create a campaign with the myStudents filter`);
    }
    const phones = [...new Set(input.to.filter((t) => t.startsWith('+')))];
    const contactIds = [...new Set(input.to.filter((t) => !t.startsWith('+')))];
    // An unknown contact is refused, as in a compose sent at once (a campaign counts it as invalid).
    await contactsOrRefuse(this.c.store, contactIds);
    return this.createRun(p, account, claim, {
      kind: 'message',
      name: messageName(input.text),
      text: input.text,
      source: { phones, contactIds, filter: null },
      scheduledAt: input.scheduledAt,
      sendAnyway: input.sendAnyway,
    });
  }

  /** The checks every campaign passes (text, recipients, merge fields, schedule), then the campaign stored and its actor woken. */
  private async createRun(
    p: Principal,
    account: Account,
    claim: Claim,
    input: { kind: CampaignKind; name: string; text: string; source: CampaignSource; scheduledAt: number | null; sendAnyway: boolean },
  ): Promise<CampaignView> {
    const { store, clock } = this.c;
    const config = this.settings;
    const { phones, contactIds, filter } = input.source;
    if (input.text.trim().length === 0) throw fieldRefusal('message_empty', 'The text is empty', 'text');
    if ([...input.text].length > config.sending.maxLength) {
      throw fieldRefusal('message_too_long', `The text is over ${config.sending.maxLength} characters`, 'text');
    }
    const recipientsField = input.kind === 'message' ? 'to' : 'recipients';
    if (phones.length === 0 && contactIds.length === 0 && filter === null) throw fieldRefusal('no_recipients', input.kind === 'message' ? 'Nobody to send to' : 'Give phones, contactIds or a filter', recipientsField);
    await this.checkMergeFields(input.text, contactIds, filter);

    const now = clock.now();
    const timeZone = await this.timeZoneOf(account, p);
    const { scheduledAt } = input;
    if (scheduledAt !== null) {
      const refusal = scheduleRefusal(now, scheduledAt, timeZone, input.sendAnyway);
      if (refusal) throw fieldRefusal(refusal.code, refusal.message, 'scheduledAt');
    }
    const id = newId(now);
    const machine = createActor(campaignMachine, { input: { campaignId: id, timeZone, scheduledAt, now } }).start();
    const snapshot = JSON.stringify(machine.getPersistedSnapshot());
    const state = machine.getSnapshot().value === 'scheduled' ? 'scheduled' : 'draft';
    machine.stop();
    const sender = senderIdentity(p);
    const campaign: Campaign = {
      id,
      kind: input.kind,
      accountId: account.id,
      name: input.name,
      text: input.text,
      timeZone,
      state,
      pausedReason: null,
      scheduledAt,
      sendAnyway: input.sendAnyway,
      snapshot,
      source: input.source,
      expansion: { phase: 'phones', offset: 0, afterContactId: null, ordinal: 0 },
      skippedDuplicate: 0,
      createdByUserId: sender.userId,
      createdByName: sender.name,
      createdAt: now,
      updatedAt: now,
    };
    const expected = phones.length + contactIds.length + (filter ? await this.countMatching(filter) : 0);
    const answer = this.view(campaign, EMPTY_COUNTS, expected, account);
    await store.campaigns.create(campaign, claim?.record(() => answer));
    // The actor expands the recipients in the background (and starts at scheduledAt), on the node
    // placement gives it.
    this.actors.ask(id, { type: 'wake' }).catch((err: unknown) => this.c.log.error({ err, campaignId: id }, 'activating a new campaign failed'));
    return answer;
  }

  async list(p: Principal, accountRef: string, page: { limit: number; before?: string | undefined; kind?: CampaignKind | undefined }): Promise<CampaignView[]> {
    const account = await resolveAccountRef(this.c, p, accountRef);
    const campaigns = await this.c.store.campaigns.list(account.id, {
      limit: page.limit,
      ...(page.before === undefined ? {} : { before: page.before }),
      ...(page.kind === undefined ? {} : { kind: page.kind }),
    });
    return Promise.all(campaigns.map(async (campaign) => this.liveView(campaign, account)));
  }

  async get(p: Principal, id: string): Promise<CampaignView> {
    const { campaign, account } = await this.accessible(p, id);
    return this.liveView(campaign, account);
  }

  async recipients(p: Principal, id: string, q: { status?: RecipientStatus | undefined; limit: number; after?: number | undefined }): Promise<CampaignRecipient[]> {
    const { campaign } = await this.accessible(p, id);
    return this.c.store.campaigns.listRecipients(campaign.id, {
      limit: q.limit,
      ...(q.status === undefined ? {} : { status: q.status }),
      ...(q.after === undefined ? {} : { after: q.after }),
    });
  }

  /**
   * The campaign's text as one recipient would get it, measured: the contact by id, or the one on
   * file with that phone (none yet: empty name fields, as a new contact made from the phone).
   * Whoever may see the campaign may preview it; the contact read is only the one asked about.
   */
  async preview(p: Principal, id: string, who: { phone?: string; contactId?: string }): Promise<CampaignPreview> {
    const { campaign } = await this.accessible(p, id);
    const contact = who.contactId !== undefined ? await this.c.store.contacts.get(who.contactId) : await this.c.store.contacts.getByPhone(who.phone!);
    if (who.contactId !== undefined && !contact) throw notFound('Contact');
    const phone = contact?.phone ?? who.phone!;
    const text = merge(campaign.text, contact ?? { firstName: '', lastName: '', phone, customFields: {} });
    const info = analyse(text);
    const maxLength = this.settings.sending.maxLength;
    return { ...info, maxLength, phone, contactId: contact?.id ?? null, text, tooLong: info.characters > maxLength };
  }

  /** start | pause | resume | cancel, judged by the campaign's actor; answers the campaign as it is then. */
  async command(p: Principal, id: string, cmd: Exclude<CampaignCommand, { type: 'wake' }>): Promise<CampaignView> {
    const { account } = await this.accessible(p, id);
    await this.actors.ask(id, cmd);
    const campaign = await this.c.store.campaigns.get(id);
    if (!campaign) throw notFound('Campaign');
    return this.liveView(campaign, account);
  }

  /**
   * Start-up, and after another node's lease lapsed: every unfinished campaign that placement gives
   * this node (nobody runs it, or its owner is gone) is activated (its timers, its sending); the
   * ones other live nodes run are left to them.
   */
  async recover(): Promise<number> {
    let n = 0;
    for (const campaign of await this.c.store.campaigns.listUnfinished()) {
      try {
        if ((await this.placement.resolve(CAMPAIGN_ACTOR, campaign.id)) !== this.placement.nodeId) continue;
      } catch (err) {
        this.c.log.warn({ err, campaignId: campaign.id }, 'placement could not say where a campaign runs; it is resumed when placement answers');
        continue;
      }
      try {
        await this.actors.ask(campaign.id, { type: 'wake' });
        n++;
      } catch (err) {
        this.c.log.error({ err, campaignId: campaign.id }, 'a campaign could not be resumed at start-up');
      }
    }
    return n;
  }

  private async accessible(p: Principal, id: string): Promise<{ campaign: Campaign; account: Account }> {
    const campaign = await this.c.store.campaigns.get(id);
    const account = campaign ? await this.c.store.accounts.get(campaign.accountId) : null;
    if (!campaign || !account || !(await canAccess(this.c, p, account))) throw notFound('Campaign');
    return { campaign, account };
  }

  private async sendingAccount(p: Principal, groupAccountCode: string | undefined): Promise<Account> {
    if (groupAccountCode !== undefined) {
      const found = await this.c.store.accounts.getByApiCode(groupAccountCode);
      if (!found || found.kind !== 'group' || !(await canAccess(this.c, p, found))) throw notFound('Group account');
      return found;
    }
    if (p.kind !== 'user') throw new AppError('validation_failed', 'An API key sends from a group account: give groupAccountCode');
    const personal = await this.c.store.accounts.getPersonal(p.user.id);
    if (!personal) throw new AppError('no_sender_number', 'You have no personal number yet');
    return personal;
  }

  private async filterOf(p: Principal, account: Account, given: CampaignCreateInput['recipients']['filter']): Promise<ContactFilter | null> {
    if (!given) return null;
    const filter: ContactFilter = {};
    if (given.customFields && Object.keys(given.customFields).length > 0) filter.customFields = given.customFields;
    // Normalised as contacts store them; the scan walks the first tag's index range.
    if (given.tags && given.tags.length > 0) filter.tags = tagsOrRefuse(given.tags, 'recipients.filter.tags');
    if (given.myStudents) {
      // Staff assignments are a personal-account feature (DOMAIN.md "Group accounts").
      if (account.kind === 'group' || p.kind !== 'user') {
        throw new AppError('group_account_option', 'myStudents works with a personal account only; group accounts do not use staff assignments');
      }
      filter.staffId = p.user.id;
    }
    if (filter.customFields === undefined && filter.staffId === undefined && filter.tags === undefined) {
      throw new AppError('validation_failed', 'A filter needs customFields, tags or myStudents', { details: [{ path: 'recipients.filter', message: 'empty filter' }] });
    }
    return filter;
  }

  /**
   * A merge field must be built in or a custom field the recipients can have: one of the listed
   * contacts', one the filter names, or one of the first page of the filter's contacts. A typo such
   * as {FirstNmae} is refused before anything is sent, as in a compose.
   */
  private async checkMergeFields(text: string, contactIds: string[], filter: ContactFilter | null): Promise<void> {
    const known = new Set<string>(Object.keys(filter?.customFields ?? {}));
    for (let i = 0; i < contactIds.length; i += EXPANSION_BATCH) {
      for (const contact of await this.c.store.contacts.getMany(contactIds.slice(i, i + EXPANSION_BATCH))) {
        for (const k of Object.keys(contact.customFields)) known.add(k);
      }
    }
    if (filter) {
      const page = await this.c.store.contacts.scanByFilter({ filter, afterId: null, limit: EXPANSION_BATCH });
      for (const contact of page.matches) for (const k of Object.keys(contact.customFields)) known.add(k);
    }
    const unknown = unknownFields(text, known);
    if (unknown.length > 0) {
      throw new AppError('validation_failed', `Unknown merge field(s): ${unknown.map((f) => `{${f}}`).join(', ')}`, {
        details: unknown.map((f) => ({ path: 'text', message: `no field {${f}}` })),
      });
    }
  }

  /** How many contacts the filter matches now, read a page at a time. */
  private async countMatching(filter: ContactFilter): Promise<number> {
    let n = 0;
    let afterId: string | null = null;
    do {
      const page: { matches: unknown[]; last: string | null } = await this.c.store.contacts.scanByFilter({ filter, afterId, limit: EXPANSION_BATCH });
      n += page.matches.length;
      afterId = page.last;
    } while (afterId !== null);
    return n;
  }

  private async timeZoneOf(account: Account, p: Principal): Promise<string> {
    const deptId = account.departmentId ?? (p.kind === 'user' ? p.user.departmentIds[0] : p.apiKey.departmentId);
    const dept = deptId ? await this.c.store.departments.get(deptId) : null;
    return dept?.timeZone ?? this.settings.defaultTimeZone;
  }

  private async liveView(campaign: Campaign, account: Account): Promise<CampaignView> {
    const counts = await this.c.store.campaigns.counts(campaign.id);
    const finished = campaign.state === 'completed' || campaign.state === 'cancelled';
    return this.view(campaign, counts, finished ? 0 : counts.queued, account);
  }

  private view(campaign: Campaign, counts: CampaignCounts, remaining: number, account: Account): CampaignView {
    return {
      id: campaign.id,
      kind: campaign.kind,
      accountId: campaign.accountId,
      name: campaign.name,
      text: campaign.text,
      state: campaign.state,
      pausedReason: campaign.pausedReason,
      scheduledAt: campaign.scheduledAt,
      counts,
      estimatedDurationMs: estimatedDurationMs(remaining, new Set(account.numbers).size, this.settings.sending.numberSendIntervalMs),
      createdBy: { userId: campaign.createdByUserId, name: campaign.createdByName },
      createdAt: campaign.createdAt,
      updatedAt: campaign.updatedAt,
    };
  }
}

/** A scheduled message's name in lists: the start of its text's first line. */
function messageName(text: string): string {
  const line = text.trim().split('\n')[0]!.trim();
  const chars = [...line];
  return chars.length <= MESSAGE_NAME_CHARS ? line : `${chars.slice(0, MESSAGE_NAME_CHARS - 1).join('')}…`;
}

const MESSAGE_NAME_CHARS = 60;

/** A refusal that names the request field it is about (`details[].path`), so a form can show it next to that field. */
function fieldRefusal(code: ErrorCode, message: string, path: string): AppError {
  return new AppError(code, message, { details: [{ path, message }] });
}
