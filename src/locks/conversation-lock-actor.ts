import { createActor, type Actor } from 'xstate';
import {
  conversationLockMachine,
  holderConnectionsOf,
  isHeldBy,
  lockStateOf,
  lockView,
  nextDeadlineOf,
  persistedSnapshot,
  restorableSnapshot,
  type LockDurations,
  type LockEmitted,
  type LockSnapshot,
  type LockView,
} from '../../actors/conversation/index.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { Account } from '../domain/types.js';
import type { CoreEvent } from '../events.js';
import { LOCK_TOKEN_EPOCH_SPAN, type LockOwnership, type LockRecord, type Store } from '../store/store.js';
import { AppError, notFound } from '../errors.js';
import { Passivated, type ActorBehavior, type ActorSelf, type HostedActor } from '../actors-runtime/actor-host.js';
import { claimOwnerEpoch } from '../actors-runtime/owner-epoch.js';
import { TimerQueue, type QueuedTimer } from '../actors-runtime/timer-queue.js';
import type { LockCommand, LockReply } from './lock-commands.js';
import type { AccountLockView } from './lock-view.js';

// The owner's side of a conversation lock: the XState actor, its persistence and its
// announcements. It runs inside the generic actor host's mailbox, so everything done to one
// conversation happens one step at a time. It trusts its commands: the lock service authorised
// them on the node that received the request.
//
// Within one activation the owner is the single writer: a transition is decided in memory and
// told to the clients at once; its snapshot is saved behind, one save at a time, the newest state
// replacing any not yet saved (coalesced). A crash loses at most the saves in flight, which the
// next activation's epoch makes harmless (old tokens are refused, holders get new ones). What
// must be durable before it is acknowledged is: the activation's epoch (claimed before the first
// grant) and a reply (the reply command waits until the lock state it was checked against is
// saved, and the store commits the message under that fence).

type LockMachineActor = Actor<typeof conversationLockMachine>;

/** A snapshot with its views: the lock's own (with the token) and the one anyone may see. */
interface Viewed {
  snapshot: LockSnapshot;
  lock: LockView;
  view: AccountLockView;
}

export interface ConversationLockDeps {
  store: Store;
  clock: Clock;
  log: Logger;
  durations: LockDurations;
  /** Where lock changes are announced (one place, so the transport can change). */
  emit: (e: CoreEvent) => void;
  /** Which of these connections are still open somewhere (their process runs): the others are gone. */
  liveConnections: (connIds: readonly string[]) => Promise<ReadonlySet<string>>;
}

export class ConversationLockBehavior implements ActorBehavior<LockCommand, LockReply> {
  /** Every lock's deadline timer on this node, on one clock timer (timer-queue.ts). */
  private readonly timers: TimerQueue;

  constructor(private readonly d: ConversationLockDeps) {
    this.timers = new TimerQueue(d.clock);
  }

  async activate(self: ActorSelf): Promise<HostedActor<LockCommand, LockReply>> {
    const conversation = await this.d.store.conversations.get(self.id);
    if (!conversation) throw notFound('Conversation');
    const account = await this.d.store.accounts.get(conversation.accountId);
    if (!account) throw notFound('Account');
    if (account.kind !== 'group') throw new AppError('no_lock', 'Personal-account conversations have no lock');
    // Fencing: this activation takes the next owner epoch, durably, before anything else. From then
    // on the store refuses every write of an older activation (a paused or restarted owner).
    const owned = await claimOwnerEpoch(self, 'Conversation', {
      current: async () => (await this.d.store.locks.ownership(self.id))?.ownerEpoch ?? null,
      claim: (expected) => this.d.store.locks.claimEpoch(self.id, expected),
    });
    // Read after the claim: the last state any older activation managed to save, and no more.
    const record = await this.d.store.locks.get(self.id);
    const lock = new ConversationLock(self, account, this.d, owned, this.timers);
    await lock.start(record);
    return lock;
  }
}

export class ConversationLock implements HostedActor<LockCommand, LockReply> {
  private actor!: LockMachineActor;
  /** Emitted events not yet published (they go out after the save). */
  private emitted: LockEmitted[] = [];
  /** The holder's connections as of the last save (a release needs to know whom to tell). */
  private holderConnIds: readonly string[] = [];
  /** What clients were last told: compared with each new state to decide whether to announce. */
  private readonly published = new PublishedLock();
  /** Connections that have the conversation open (passivation). */
  private readonly viewers = new Set<string>();
  /** The newest state not yet handed to the store. */
  private unsaved: LockRecord | null = null;
  /** The save in flight (one at a time, so saves reach the store in order). */
  private saving: Promise<void> | null = null;
  /** The store refused a save: a newer activation owns the lock, or the store failed. */
  private fenced = false;
  /**
   * The views of the snapshot last looked at: a command's reply, save and announcement share them.
   * Dropped when the command is done: kept until the next command they would outlive a few
   * scavenges and be promoted to the old generation, a few hundred bytes per command.
   */
  private viewed: Viewed | null = null;
  private readonly log: Logger;
  /** Armed for the lock's next deadline (nextDeadlineOf) after every transition; made once. */
  private readonly deadline: QueuedTimer;
  private stopped = false;

  constructor(
    private readonly self: ActorSelf,
    private readonly account: Account,
    private readonly d: ConversationLockDeps,
    private readonly owned: LockOwnership,
    /** The node's queue of lock deadlines, where this lock keeps its one timer. */
    private readonly timers: TimerQueue,
  ) {
    this.log = d.log.child({ conversationId: self.id, ownerEpoch: owned.ownerEpoch });
    this.deadline = timers.timer(() => this.tick());
  }

  async start(record: LockRecord | null): Promise<void> {
    const input = { conversationId: this.self.id, ...this.d.durations, token: this.owned.lockToken };
    // The last saved state goes on under this epoch's first token: a holder keeps the lock and gets
    // a new token; every token of an older activation is refused from now on.
    let restored: LockSnapshot | undefined;
    try {
      restored = record ? rebased(JSON.parse(record.snapshot) as LockSnapshot, this.owned.lockToken) : undefined;
      this.actor = createActor(conversationLockMachine, { input, ...(restored ? { snapshot: restored } : {}) });
    } catch (err) {
      // A snapshot that cannot be restored must not wedge the conversation: start free. The old
      // holder's replies are refused by the fresh actor (nobody holds it), so nothing is lost but
      // the lock itself.
      this.log.error({ err }, 'lock snapshot could not be restored; starting the conversation unlocked');
      restored = undefined;
      this.actor = createActor(conversationLockMachine, { input });
    }
    this.holderConnIds = restored ? holderConnectionsOf(restored) : [];
    // What clients already know: the lock as it was saved, under its old token. A restored holder
    // has a new token now, and is told it (wherever their socket is) once the activation resumes.
    const known = restored && record ? (JSON.parse(record.snapshot) as LockSnapshot) : this.actor.getSnapshot();
    this.published.update(lockView(known), holderConnectionsOf(known));
    this.actor.on('*', (e) => this.emitted.push(e as LockEmitted));
    this.actor.subscribe({
      error: (err) => {
        // A failing actor is contained: dropped here, re-activated from the store on next use.
        this.log.error({ err }, 'lock actor failed; passivated');
        this.self.passivate();
      },
    });
    this.actor.start();
    if (!restored) return;
    try {
      // The holder's connections of a process that is gone (this node's earlier run, a node that
      // died) will not come back as they were: their reload grace starts now. Those on live
      // processes keep the lock and are told its new token.
      const through = holderConnectionsOf(restored);
      const live = through.length > 0 ? await this.d.liveConnections(through) : new Set<string>();
      await this.command(() => {
        this.actor.send({ type: 'RESUME', now: this.now() });
        for (const connId of through) if (!live.has(connId)) this.actor.send({ type: 'DISCONNECT', connId, now: this.now() });
      });
    } catch (e) {
      this.halt(); // the host never saw this activation: its timer must not run on
      throw e;
    }
  }

  receive(c: LockCommand): Promise<LockReply> {
    switch (c.type) {
      case 'open':
      case 'takeOver':
        return this.command(() => {
          this.viewers.add(c.connId);
          this.actor.send({ type: c.type === 'open' ? 'OPEN' : 'TAKE_OVER', userId: c.userId, name: c.name, connId: c.connId, now: this.now() });
          return this.lockReply(c.userId);
        });
      case 'activity':
        return this.command(() => {
          this.actor.send({ type: 'ACTIVITY', userId: c.userId, connId: c.connId, now: this.now() });
          return this.lockReply(c.userId);
        });
      case 'stillWorking':
        return this.command(() => {
          this.actor.send({ type: 'STILL_WORKING', userId: c.userId, now: this.now() });
          return this.lockReply(c.userId);
        });
      case 'leave':
        return this.command(() => {
          this.viewers.delete(c.connId);
          // This tab leaves; the lock goes with the holder's last tab (another tab keeps it).
          this.actor.send({ type: 'LEAVE', userId: c.userId, connId: c.connId, now: this.now() });
          return this.lockReply(c.userId);
        });
      case 'disconnect':
        return this.command(() => {
          this.viewers.delete(c.connId);
          this.actor.send({ type: 'DISCONNECT', connId: c.connId, now: this.now() });
          return { type: 'done' };
        });
      case 'revoke':
        return this.command(() => {
          // Judged in the mailbox, on the holder's connections as they are now.
          const snapshot = this.actor.getSnapshot();
          if (!isHeldBy(snapshot, c.userId)) return { type: 'done' };
          const through = holderConnectionsOf(snapshot);
          if (c.onlyThrough && (through.length === 0 || !through.every((id) => c.onlyThrough!.includes(id)))) return { type: 'done' };
          this.actor.send({ type: 'REVOKE', userId: c.userId, now: this.now() });
          return { type: 'done' };
        });
      case 'recover':
        // The activation itself did the work (see start): its timers run, gone holders' grace started.
        return Promise.resolve({ type: 'done' });
      case 'reply':
        return this.reply(c.userId, c.lockToken);
    }
  }

  /**
   * The token checks out in memory; the reply is then fenced in the store on this epoch and that
   * token, so the lock state it was checked against must be saved first (it holds the mailbox
   * meanwhile: nothing can move the lock in between).
   */
  private async reply(userId: string, lockToken: number): Promise<LockReply> {
    const verdict = await this.command(() => {
      const before = this.emitted.length;
      this.actor.send({ type: 'REPLY', userId, token: lockToken, now: this.now() });
      return this.emitted.slice(before).find((e) => e.type === 'replyAccepted' || e.type === 'replyRefused');
    });
    if (verdict?.type !== 'replyAccepted') return { type: 'replyRefused', view: this.view() };
    await this.settled();
    return { type: 'replyAccepted', fence: { conversationId: this.self.id, ownerEpoch: this.owned.ownerEpoch, lockToken } };
  }

  /** Resolves once every change so far is saved; Passivated when the store refused one. */
  async settled(): Promise<void> {
    while (this.saving) await this.saving;
    if (this.fenced) throw new Passivated();
  }

  isIdle(): boolean {
    return this.viewers.size === 0 && lockStateOf(this.actor.getSnapshot()) === 'idle';
  }

  /** Stops the machine; resolves when the saves already decided are done. */
  stop(): Promise<void> {
    this.halt();
    return this.settled().catch(() => undefined);
  }

  private halt(): void {
    this.stopped = true;
    this.timers.disarm(this.deadline);
    this.actor.stop();
  }

  /** The next deadline came: the machine hears the time, in mailbox order, and what it did is told and saved. */
  private tick(): void {
    this.self
      .enqueue(async () => {
        if (this.stopped) return;
        await this.command(() => this.actor.send({ type: 'TICK', now: this.now() }));
      })
      .then(
        () => this.self.changed(),
        (err: unknown) => {
          // Passivated: the activation stopped meanwhile (this node no longer owns the lock, a save
          // was refused); the next activation re-arms from the store.
          if (!(err instanceof Passivated)) this.log.error({ err }, 'a timed lock transition failed');
        },
      );
  }

  /** One timer per lock, for whichever deadline comes first; none while nobody holds it. */
  private armDeadline(snapshot: LockSnapshot): void {
    const at = nextDeadlineOf(snapshot);
    if (at === null) this.timers.disarm(this.deadline);
    else if (!this.deadline.armed || this.deadline.at !== at) this.timers.arm(this.deadline, at);
  }

  /** Whether `userId` holds the lock now (a read without the mailbox, to pick whom to revoke). */
  isHeldBy(userId: string): boolean {
    return isHeldBy(this.actor.getSnapshot(), userId);
  }

  get accountId(): string {
    return this.account.id;
  }

  private now(): number {
    return this.d.clock.now();
  }

  /** The lock as its watchers were last told it (saved or not). */
  currentView(): AccountLockView {
    return this.view();
  }

  private view(): AccountLockView {
    return this.viewsOf(this.actor.getSnapshot()).view;
  }

  /** The lock's views of `snapshot`, made once per snapshot (they are read-only wherever they go). */
  private viewsOf(snapshot: LockSnapshot): Viewed {
    if (this.viewed?.snapshot !== snapshot) {
      const lock = lockView(snapshot);
      const { token: _secret, ...shared } = lock;
      this.viewed = { snapshot, lock, view: { ...shared, accountId: this.account.id } };
    }
    return this.viewed;
  }

  private lockReply(userId: string): LockReply {
    const snapshot = this.actor.getSnapshot();
    return { type: 'lock', view: this.viewsOf(snapshot).view, lockToken: isHeldBy(snapshot, userId) ? snapshot.context.token : null };
  }

  /** Runs a command on the machine, then tells what it did at once and saves it behind. */
  private async command<T>(fn: () => T): Promise<T> {
    const result = fn();
    if (this.actor.getSnapshot().status === 'error') {
      // The machine threw: contain it (this conversation only) and let the next use re-activate.
      this.self.passivate();
      throw new AppError('internal', 'The conversation lock failed; try again');
    }
    if (this.fenced) throw new Passivated(); // a save of this activation was refused: start afresh
    this.changed();
    return result;
  }

  /** What changed is told now and saved behind. */
  private changed(): void {
    const snapshot = this.actor.getSnapshot();
    this.armDeadline(snapshot);
    const views = this.viewsOf(snapshot);
    const news = !this.published.matches(views.lock, holderConnectionsOf(snapshot));
    if (news || this.emitted.length > 0) this.saveBehind(this.record(views.lock));
    this.publish(snapshot, news, views);
    this.viewed = null;
  }

  private record(v: LockView): LockRecord {
    return {
      conversationId: this.self.id,
      accountId: this.account.id,
      snapshot: JSON.stringify(persistedSnapshot(this.actor.getSnapshot())),
      token: v.token,
      ownerEpoch: this.owned.ownerEpoch,
      state: v.state,
      holderUserId: v.holder?.userId ?? null,
      holderName: v.holder?.name ?? null,
      since: v.since ?? null,
      releaseAt: v.releaseAt ?? null,
      updatedAt: this.now(),
    };
  }

  /** Coalesced: the newest state replaces one not yet saved; one save in flight at a time. */
  private saveBehind(record: LockRecord): void {
    this.unsaved = record;
    this.saving ??= this.drain().finally(() => (this.saving = null));
  }

  private async drain(): Promise<void> {
    for (let record = this.unsaved; record !== null && !this.fenced; record = this.unsaved) {
      this.unsaved = null;
      let saved: boolean;
      try {
        saved = await this.d.store.locks.save(record);
        if (!saved) this.log.warn('a newer activation owns the lock; stopping this one');
      } catch (err) {
        // The store failed: what clients were told may not be saved, so this activation stops and
        // the next one starts from what the store has, under a new epoch.
        this.log.error({ err }, 'saving the lock failed; stopping this activation');
        saved = false;
      }
      if (!saved) {
        this.fenced = true;
        this.self.passivate();
        return;
      }
      // An epoch's tokens end where the next epoch's begin: near the end, the next command
      // activates afresh under a new epoch (the holder keeps the lock with a new token).
      if (record.token >= (this.owned.ownerEpoch + 1) * LOCK_TOKEN_EPOCH_SPAN - 2) this.self.passivate();
    }
  }

  /** Every announcement of a lock change leaves from here. */
  private publish(snapshot: LockSnapshot, news: boolean, { lock: v, view }: Viewed): void {
    const emitted = this.emitted.splice(0);
    const previousHolderConns = this.holderConnIds;
    this.holderConnIds = holderConnectionsOf(snapshot);
    const base = { conversationId: this.self.id, accountId: this.account.id };
    for (const e of emitted) {
      if (e.type === 'idleWarning') {
        this.d.emit({ type: 'lockIdleWarning', ...base, userId: e.userId, connIds: [...this.holderConnIds], releaseAt: e.releaseAt });
      } else if (e.type === 'released') {
        const by = e.reason === 'takenOver' && v.holder ? v.holder : undefined;
        this.d.emit({ type: 'lockReleased', ...base, userId: e.userId, connIds: [...previousHolderConns], reason: e.reason, ...(by ? { by } : {}) });
      }
    }
    if (!news) return;
    this.published.update(v, this.holderConnIds);
    this.d.emit({
      type: 'lock',
      view,
      departmentId: this.account.departmentId,
      holderConnIds: [...this.holderConnIds],
      lockToken: v.holder ? v.token : null,
    });
  }
}

/** A persisted snapshot carried over to a new activation, whose tokens start at `token`. */
function rebased(snapshot: LockSnapshot, token: number): LockSnapshot {
  return restorableSnapshot({ ...snapshot, context: { ...snapshot.context, token } } as LockSnapshot);
}

/**
 * What clients were last told of a lock: token, state, holder, deadline, the holder's connections
 * (the snapshot's own array, never changed in place). Kept in fields that each announcement
 * overwrites, so the comparison every command makes leaves nothing behind.
 */
class PublishedLock {
  private token = -1;
  private state = '';
  private holderUserId = '';
  private releaseAt = -1;
  private connIds: readonly string[] = [];

  matches(v: LockView, connIds: readonly string[]): boolean {
    return (
      v.token === this.token &&
      v.state === this.state &&
      (v.holder?.userId ?? '') === this.holderUserId &&
      (v.releaseAt ?? -1) === this.releaseAt &&
      sameIds(connIds, this.connIds)
    );
  }

  update(v: LockView, connIds: readonly string[]): void {
    this.token = v.token;
    this.state = v.state;
    this.holderUserId = v.holder?.userId ?? '';
    this.releaseAt = v.releaseAt ?? -1;
    this.connIds = connIds;
  }
}

function sameIds(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
