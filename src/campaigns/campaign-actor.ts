import { createActor, type Actor } from 'xstate';
import { campaignMachine, campaignStatus, type CampaignEmitted, type CampaignEvent, type CampaignSnapshot } from '../../actors/campaign/index.js';
import type { Account, Campaign, CampaignStateName, Contact, ExpansionCursor } from '../domain/types.js';
import { StaleOwnerEpoch, type NewOutbound } from '../store/store.js';
import type { CoreContext } from '../services/context.js';
import type { CampaignSettings } from './campaign-service.js';
import { Passivated, type ActorBehavior, type ActorSelf, type HostedActor } from '../actors-runtime/actor-host.js';
import { claimOwnerEpoch } from '../actors-runtime/owner-epoch.js';
import type { TimerHandle } from '../clock.js';
import type { Logger } from '../logger.js';
import { AppError, notFound } from '../errors.js';
import { merge } from '../domain/merge-fields.js';
import { newOutbound, optOutScope } from '../services/messaging-service.js';
import { nextExpansionBatch } from './campaign-expansion.js';

// The campaign actor on the generic actor host: one activation per campaign (single-active, like a
// conversation's lock), made from the store. It runs the pure machine (actors/campaign/) with its
// deadlines on the node's clock, saves the machine's snapshot after every change, and does the
// campaign's I/O while the machine says `sending`:
// - expansion: the source becomes recipient rows in batches (campaign-expansion.ts), in the
//   background, also while sending (the first recipients go out before the last are read);
// - hand-over: each pool number's queue in the outbox is kept fed with the campaign's next
//   recipients for that number: with pacing lifted, up to 256 ahead; with pacing on, one text
//   just before the number may send it (1 s, or a quarter interval), so a pause holds everything
//   else. The opt-out is checked again at hand-over, right
//   before the text is queued; the message and the recipient's `messageId` commit in one write, so
//   a recipient is handed over once, and the outbox's crash rule (a `sending` message without a
//   provider id becomes `unknown`, never re-sent) covers campaign texts too;
// - progress: a `campaign` event with the counts, at most one per CAMPAIGN_PROGRESS_INTERVAL_MS.
//
// Fencing, as for a conversation's lock (owner-epoch.ts): each activation claims the campaign's
// next owner epoch before its first effect, and every write it makes (its snapshot, an expansion
// batch, skips, a hand-over) is conditional on that epoch. An activation that a newer one replaced
// (its node paused or cut off while placement moved the campaign) has every write refused, and
// stops at the first refusal: it queues no recipient the new owner queues too.

export type CampaignCommand =
  | { type: 'start'; sendAnyway: boolean }
  | { type: 'pause' }
  | { type: 'resume'; sendAnyway: boolean }
  | { type: 'cancel' }
  /** Activates the campaign (start-up recovery, a new campaign's expansion); changes nothing. */
  | { type: 'wake' };

export interface CampaignReply {
  state: CampaignStateName;
  pausedReason: 'person' | 'quietHours' | null;
}

/** Texts handed to a number's queue ahead of its sends when pacing is lifted (with pacing: one). */
const UNPACED_WINDOW = 256;
/** With pacing, a text is handed over this long (at most a quarter interval) before its number may send it. */
const HAND_OVER_LEAD_MS = 1_000;

export class CampaignBehavior implements ActorBehavior<CampaignCommand, CampaignReply> {
  private readonly active = new Map<string, CampaignActor>();
  private readonly stopListening: () => void;

  constructor(
    private readonly c: CoreContext,
    private readonly settings: CampaignSettings,
  ) {
    // A send finished on a number: the campaigns sending from it hand it their next recipients.
    this.stopListening = c.outbox.onSendSettled((number) => {
      for (const actor of this.active.values()) actor.numberSettled(number);
    });
  }

  async activate(self: ActorSelf): Promise<HostedActor<CampaignCommand, CampaignReply>> {
    const { store } = this.c;
    const before = await store.campaigns.get(self.id);
    if (!before) throw notFound('Campaign');
    const account = await store.accounts.get(before.accountId);
    if (!account) throw notFound('Account');
    const ownerEpoch = await claimOwnerEpoch(self, 'Campaign', {
      current: () => store.campaigns.ownerEpoch(self.id),
      claim: (expected) => store.campaigns.claimEpoch(self.id, expected),
    });
    // Read after the claim: the last state any older activation managed to write, and no more.
    const campaign = await store.campaigns.get(self.id);
    if (!campaign) throw notFound('Campaign');
    const actor = new CampaignActor(self, campaign, account, this.c, this.settings, ownerEpoch, () => this.active.delete(self.id));
    try {
      await actor.start();
    } catch (e) {
      // The host never saw this activation (e.g. a newer one refused its first save): its timers must not run on.
      await actor.stop();
      throw e;
    }
    this.active.set(self.id, actor);
    return actor;
  }

  close(): void {
    this.stopListening();
  }
}

export class CampaignActor implements HostedActor<CampaignCommand, CampaignReply> {
  private actor!: Actor<typeof campaignMachine>;
  private savedSnapshot: string;
  private refused: CampaignEmitted[] = [];
  private inCommand = false;
  private stopped = false;
  private expansion: Promise<void> | null = null;
  private readonly pumping = new Map<string, Promise<void>>();
  private readonly pumpAgain = new Set<string>();
  private completing = false;
  private completeAgain = false;
  private progressTimer: TimerHandle | null = null;
  private progressDirty = false;
  private unwatch: () => void = () => undefined;
  private readonly log: Logger;
  private readonly numbers: Set<string>;
  private readonly window: number;

  constructor(
    private readonly self: ActorSelf,
    private campaign: Campaign,
    private readonly account: Account,
    private readonly c: CoreContext,
    private readonly settings: CampaignSettings,
    private readonly ownerEpoch: number,
    private readonly onStop: () => void,
  ) {
    this.log = c.log.child({ campaignId: campaign.id, ownerEpoch });
    this.savedSnapshot = campaign.snapshot;
    this.numbers = new Set(account.numbers);
    this.window = settings.sending.numberSendIntervalMs > 0 ? 1 : UNPACED_WINDOW;
  }

  async start(): Promise<void> {
    const clock = { setTimeout: (fn: () => void, ms: number) => this.c.clock.setTimeout(fn, ms), clearTimeout: (h: unknown) => this.c.clock.clearTimeout(h as never) };
    const snapshot = JSON.parse(this.campaign.snapshot) as CampaignSnapshot;
    const input = { campaignId: this.campaign.id, timeZone: this.campaign.timeZone, scheduledAt: this.campaign.scheduledAt, now: this.now() };
    this.actor = createActor(campaignMachine, { input, clock, snapshot });
    this.actor.on('refused', (e) => this.refused.push(e));
    let started = false;
    this.actor.subscribe({
      next: () => {
        // A timer fired (22:00, 06:00, the scheduled start): save and act on it, in mailbox order.
        if (!started || this.inCommand) return;
        this.self.enqueue(() => this.afterTransition()).catch((err: unknown) => {
          if (!this.replaced(err)) this.log.error({ err }, 'a timed campaign transition failed');
        });
      },
      error: (err) => {
        this.log.error({ err }, 'campaign actor failed; passivated');
        this.self.passivate();
      },
    });
    this.actor.start();
    started = true;
    // Applies what happened while nobody ran the campaign, and re-arms its timers.
    await this.command({ type: 'TICK', now: this.now() });
    // Whatever changes in the account (a status report, a reply) may change the counts.
    this.unwatch = this.c.events.watch({ kind: 'account', accountId: this.account.id }, (e) => {
      if (e.type === 'message') this.touch();
    });
    if (this.campaign.expansion.phase !== 'done') this.expansion = this.expand().finally(() => (this.expansion = null));
    this.touch();
  }

  async receive(cmd: CampaignCommand): Promise<CampaignReply> {
    const now = this.now();
    switch (cmd.type) {
      case 'wake':
        break;
      case 'start':
        await this.command({ type: 'START', now, sendAnyway: cmd.sendAnyway });
        break;
      case 'resume':
        await this.command({ type: 'RESUME', now, sendAnyway: cmd.sendAnyway });
        break;
      case 'pause':
        await this.command({ type: 'PAUSE', now });
        break;
      case 'cancel':
        await this.command({ type: 'CANCEL', now });
        break;
    }
    return this.reply();
  }

  isIdle(): boolean {
    const { state, pausedReason } = this.status();
    // A campaign waiting for a deadline keeps its timer, so it stays active.
    const waiting = state === 'scheduled' || state === 'sending' || (state === 'paused' && pausedReason === 'quietHours');
    return !waiting && this.expansion === null && this.pumping.size === 0;
  }

  async settled(): Promise<void> {
    for (;;) {
      const pending = [this.expansion, ...this.pumping.values()].filter((p) => p !== null);
      if (pending.length === 0) return;
      await Promise.allSettled(pending);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.actor?.stop(); // absent when start() failed before it made the machine
    this.unwatch();
    if (this.progressTimer) this.c.clock.clearTimeout(this.progressTimer);
    this.progressTimer = null;
    for (const timer of this.wakeTimers.values()) this.c.clock.clearTimeout(timer);
    this.wakeTimers.clear();
    this.onStop();
    await this.settled();
  }

  /** A send from `number` finished: the counts moved, and that number may take the next recipients. */
  numberSettled(number: string): void {
    if (!this.numbers.has(number) || this.stopped) return;
    this.touch();
    this.pump(number);
  }

  private status() {
    return campaignStatus(this.actor.getSnapshot());
  }

  private reply(): CampaignReply {
    const { state, pausedReason } = this.status();
    return { state, pausedReason };
  }

  private now(): number {
    return this.c.clock.now();
  }

  /** Sends one event; a refusal is thrown as the error with its code, anything else is saved and acted on. */
  private async command(event: CampaignEvent): Promise<void> {
    this.refused = [];
    this.inCommand = true;
    try {
      this.actor.send(event);
    } finally {
      this.inCommand = false;
    }
    const [refusal] = this.refused;
    if (refusal) throw new AppError(refusal.code, refusal.message);
    try {
      await this.afterTransition();
    } catch (err) {
      // A newer activation owns the campaign: this one stops, and the command runs again there.
      if (this.replaced(err)) throw new Passivated();
      throw err;
    }
  }

  /**
   * A write was refused for a newer owner epoch: this activation stops at once (nothing more of it
   * reaches the store). True when `err` was that refusal, or work of this activation that found it
   * stopped for it.
   */
  private replaced(err: unknown): boolean {
    if (err instanceof Passivated && this.stopped) return true;
    if (!(err instanceof StaleOwnerEpoch)) return false;
    if (!this.stopped) {
      this.log.warn('a newer activation owns the campaign; stopping this one');
      this.stopped = true;
      this.self.passivate();
    }
    return true;
  }

  /** Saves a changed snapshot (durable before anyone is told), tells the subscribers, and sends while sending. */
  private async afterTransition(): Promise<void> {
    if (this.stopped) return;
    const snapshot = JSON.stringify(this.actor.getPersistedSnapshot());
    if (snapshot !== this.savedSnapshot) {
      const { state, pausedReason } = this.status();
      this.campaign = await this.c.store.campaigns.saveState(this.campaign.id, { state, pausedReason, snapshot, at: this.now() }, this.ownerEpoch);
      this.savedSnapshot = snapshot;
      this.touch(true);
    }
    if (this.status().state === 'sending') for (const n of this.numbers) this.pump(n);
    this.self.changed();
  }

  private async expand(): Promise<void> {
    const load = new Map<string, number>();
    let cursor: ExpansionCursor = this.campaign.expansion;
    try {
      while (!this.stopped) {
        const batch = await nextExpansionBatch(this.c, this.campaign, this.account, cursor, load);
        if (!batch || this.stopped) break;
        const written = await this.c.store.campaigns.addRecipients(this.campaign.id, cursor, batch.to, batch.rows, this.now(), this.ownerEpoch);
        if (written === null) {
          // The cursor moved under us (another activation): go on from where it is now.
          const fresh = await this.c.store.campaigns.get(this.campaign.id);
          if (!fresh) return;
          cursor = fresh.expansion;
        } else {
          cursor = batch.to;
        }
        this.campaign = { ...this.campaign, expansion: cursor };
        this.touch();
        if (this.status().state === 'sending') for (const n of this.numbers) this.pump(n);
        if (cursor.phase === 'done') {
          this.touch(true);
          break;
        }
      }
    } catch (err) {
      // The next activation resumes from the last batch that committed.
      if (!this.replaced(err)) this.log.error({ err }, 'expanding the campaign failed; it resumes at its next activation');
    }
    this.self.changed();
  }

  /** Feeds one number's queue; runs once at a time per number, again if asked meanwhile. */
  private pump(number: string): void {
    if (this.stopped) return;
    if (this.pumping.has(number)) {
      this.pumpAgain.add(number);
      return;
    }
    const run = this.handOff(number)
      .catch((err: unknown) => {
        if (!this.replaced(err)) this.log.error({ err, from: number }, 'handing campaign texts to the number queue failed');
      })
      .finally(() => {
        this.pumping.delete(number);
        if (this.pumpAgain.delete(number)) this.pump(number);
        else this.self.changed();
      });
    this.pumping.set(number, run);
  }

  private async handOff(number: string): Promise<void> {
    const { store, outbox } = this.c;
    if (this.stopped || this.status().state !== 'sending') return;
    const depth = outbox.depth(number);
    // Refill when half the window is gone, so that a batch is worth its write.
    if (depth > Math.floor(this.window / 2)) return;
    const next = await store.campaigns.nextToHandOff(this.campaign.id, number, this.window - depth);
    if (next.length === 0) {
      await this.completeIfExhausted();
      return;
    }
    if (this.window === 1) {
      // Paced: hand a number its next text just before it may send it (the hand-over's write
      // must not delay the send), so that a pause holds everything else; nothing else waits in
      // the queue for the interval to pass.
      const interval = this.settings.sending.numberSendIntervalMs;
      const handAt = outbox.readyAt(number) - Math.min(Math.floor(interval / 4), HAND_OVER_LEAD_MS);
      if (handAt > this.now()) {
        this.wakeAt(number, handAt);
        return;
      }
    }
    // A pause or cancel that came in meanwhile stops here.
    if (this.stopped || this.status().state !== 'sending') return;
    const now = this.now();
    const contactIds = next.flatMap((r) => (r.contactId ? [r.contactId] : []));
    const contacts = new Map((await store.contacts.getMany(contactIds)).map((x) => [x.id, x]));
    // Opt-outs are checked again now: a student may have texted STOP since the expansion.
    const optedOut = await store.contacts.optedOut(contactIds, optOutScope(this.account));
    const skipOptedOut: string[] = [];
    const skipInvalid: string[] = [];
    const items: NewOutbound[] = [];
    const sender = { userId: this.campaign.createdByUserId, name: this.campaign.createdByName };
    for (const r of next) {
      const contact: Contact | undefined = r.contactId ? contacts.get(r.contactId) : undefined;
      if (!contact) {
        skipInvalid.push(r.phone);
        continue;
      }
      if (optedOut.has(contact.id)) {
        skipOptedOut.push(r.phone);
        continue;
      }
      const text = merge(this.campaign.text, contact);
      if ([...text].length > this.settings.sending.maxLength || text.trim().length === 0) {
        skipInvalid.push(r.phone);
        continue;
      }
      const existing = await store.conversations.getByPair(this.account.id, contact.id);
      // The campaign's quiet hours hold these in the number queue too, should one still wait at 22:00.
      const item = newOutbound(this.account, contact, existing, number, text, sender, now, this.campaign.timeZone, 'archived');
      items.push({ ...item, campaignRecipient: { campaignId: this.campaign.id, phone: r.phone, ownerEpoch: this.ownerEpoch } });
    }
    if (skipOptedOut.length > 0) await store.campaigns.skip(this.campaign.id, skipOptedOut, 'skipped_opted_out', now, this.ownerEpoch);
    if (skipInvalid.length > 0) await store.campaigns.skip(this.campaign.id, skipInvalid, 'skipped_invalid', now, this.ownerEpoch);
    if (items.length > 0) {
      const done = await store.messages.enqueueOutbound(items);
      outbox.enqueue(done.map((d) => d.message));
      for (const d of done) {
        this.c.events.emit({ type: 'message', accountId: d.message.accountId, message: d.message });
        this.c.events.emit({ type: 'conversation', accountId: d.conversation.accountId, conversation: d.conversation });
      }
    }
    this.touch();
    // Only skips, or the queue is still short: look again.
    if (items.length === 0 || outbox.depth(number) <= Math.floor(this.window / 2)) this.pumpAgain.add(number);
  }

  private readonly wakeTimers = new Map<string, TimerHandle>();

  /** Looks at `number` again when its pacing lets it send. */
  private wakeAt(number: string, at: number): void {
    if (this.wakeTimers.has(number)) return;
    this.wakeTimers.set(
      number,
      this.c.clock.setTimeout(() => {
        this.wakeTimers.delete(number);
        this.pump(number);
      }, at - this.now()),
    );
  }

  /** Every recipient read and none left queued (handed over ones count until they are sent): done. */
  private async completeIfExhausted(): Promise<void> {
    if (this.campaign.expansion.phase !== 'done') return;
    // Several numbers finish at once: one check at a time, and one more after it if asked meanwhile
    // (the last send may have settled while the check before it was reading).
    if (this.completing) {
      this.completeAgain = true;
      return;
    }
    this.completing = true;
    try {
      do {
        this.completeAgain = false;
        const counts = await this.c.store.campaigns.counts(this.campaign.id);
        if (counts.queued === 0 && !this.stopped) {
          await this.self.enqueue(() => this.command({ type: 'EXHAUSTED', now: this.now() }));
          return;
        }
      } while (this.completeAgain);
    } finally {
      this.completing = false;
    }
  }

  /**
   * The counts changed: a `campaign` event now, or at the end of the current interval. A new state
   * and the end of the expansion are told at once (`now`): they are rare, and a person waits on them.
   */
  private touch(now = false): void {
    this.progressDirty = true;
    if (this.progressTimer === null || now) this.publishProgress();
  }

  private publishProgress(): void {
    if (this.stopped || !this.progressDirty) return;
    this.progressDirty = false;
    if (this.progressTimer !== null) this.c.clock.clearTimeout(this.progressTimer);
    const { state, pausedReason } = this.status();
    const { id, kind, accountId } = this.campaign;
    this.c.store.campaigns.counts(id).then(
      (counts) => this.c.events.emit({ type: 'campaign', accountId, campaign: { id, kind, state, pausedReason, counts } }),
      (err: unknown) => this.log.error({ err }, 'reading campaign counts failed'),
    );
    this.progressTimer = this.c.clock.setTimeout(() => {
      this.progressTimer = null;
      this.publishProgress();
    }, this.settings.sending.campaignProgressIntervalMs);
  }
}
