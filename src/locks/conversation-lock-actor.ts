import { createActor, type Actor } from 'xstate';
import {
  conversationLockMachine,
  holderConnectionsOf,
  isHeldBy,
  lockView,
  publicLockView,
  type LockDurations,
  type LockEmitted,
  type LockSnapshot,
} from '../../actors/conversation/index.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { Account } from '../domain/types.js';
import type { CoreEvent } from '../events.js';
import { LOCK_TOKEN_EPOCH_SPAN, type LockOwnership, type LockRecord, type Store } from '../store/store.js';
import { AppError, notFound } from '../errors.js';
import { Passivated, type ActorBehavior, type ActorSelf, type HostedActor } from '../actors-runtime/actor-host.js';
import type { LockCommand, LockReply } from './lock-commands.js';
import type { AccountLockView } from './lock-view.js';

// The owner's side of a conversation lock: the XState actor, its persistence and its
// announcements. It runs inside the generic actor host's mailbox, so everything done to one
// conversation happens one step at a time. It trusts its commands: the lock service authorised
// them on the node that received the request.

type LockMachineActor = Actor<typeof conversationLockMachine>;

export interface ConversationLockDeps {
  store: Store;
  clock: Clock;
  log: Logger;
  durations: LockDurations;
  /** Where lock changes are announced (one place, so the transport can change). */
  emit: (e: CoreEvent) => void;
}

export class ConversationLockBehavior implements ActorBehavior<LockCommand, LockReply> {
  constructor(private readonly d: ConversationLockDeps) {}

  async activate(self: ActorSelf): Promise<HostedActor<LockCommand, LockReply>> {
    const conversation = await this.d.store.conversations.get(self.id);
    if (!conversation) throw notFound('Conversation');
    const account = await this.d.store.accounts.get(conversation.accountId);
    if (!account) throw notFound('Account');
    if (account.kind !== 'group') throw new AppError('no_lock', 'Personal-account conversations have no lock');
    // Fencing: this activation takes the next owner epoch, durably, before anything else. From then
    // on the store refuses every write of an older activation (a paused or restarted owner).
    const before = await this.d.store.locks.ownership(self.id);
    if (!before) throw notFound('Conversation');
    const owned = await this.d.store.locks.claimEpoch(self.id, before.ownerEpoch);
    if (!owned) throw new Passivated(); // another activation claimed it first: the command retries
    // Read after the claim: the last state any older activation managed to save, and no more.
    const record = await this.d.store.locks.get(self.id);
    const lock = new ConversationLock(self, account, this.d, owned);
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
  private lastPublished = '';
  /** Connections that have the conversation open (passivation). */
  private readonly viewers = new Set<string>();
  /** True while a command runs on the actor (its transitions are saved by the command itself). */
  private inCommand = false;
  private readonly log: Logger;

  constructor(
    private readonly self: ActorSelf,
    private readonly account: Account,
    private readonly d: ConversationLockDeps,
    private readonly owned: LockOwnership,
  ) {
    this.log = d.log.child({ conversationId: self.id, ownerEpoch: owned.ownerEpoch });
  }

  async start(record: LockRecord | null): Promise<void> {
    const input = { conversationId: this.self.id, ...this.d.durations, token: this.owned.lockToken };
    const clock = { setTimeout: (fn: () => void, ms: number) => this.d.clock.setTimeout(fn, ms), clearTimeout: (h: unknown) => this.d.clock.clearTimeout(h as never) };
    // The last saved state goes on under this epoch's first token: a holder keeps the lock and gets
    // a new token; every token of an older activation is refused from now on.
    let restored: LockSnapshot | undefined;
    try {
      restored = record ? rebased(JSON.parse(record.snapshot) as LockSnapshot, this.owned.lockToken) : undefined;
      this.actor = createActor(conversationLockMachine, { input, clock, ...(restored ? { snapshot: restored } : {}) });
    } catch (err) {
      // A snapshot that cannot be restored must not wedge the conversation: start free. The old
      // holder's replies are refused by the fresh actor (nobody holds it), so nothing is lost but
      // the lock itself.
      this.log.error({ err }, 'lock snapshot could not be restored; starting the conversation unlocked');
      restored = undefined;
      this.actor = createActor(conversationLockMachine, { input, clock });
    }
    this.holderConnIds = restored ? holderConnectionsOf(restored) : [];
    // What clients already know: nothing new to say about a freshly activated actor.
    this.lastPublished = publishKey(this.actor.getSnapshot());
    this.actor.on('*', (e) => this.emitted.push(e as LockEmitted));
    let started = false;
    this.actor.subscribe({
      next: () => {
        // A timer fired (commands are saved by `receive`; the start itself is nothing new): save
        // and tell, in mailbox order.
        if (!started || this.inCommand) return;
        this.self.enqueue(() => this.save()).then(
          () => this.self.changed(),
          (err: unknown) => {
            if (!(err instanceof Passivated)) this.log.error({ err }, 'saving a timed lock transition failed');
          },
        );
      },
      error: (err) => {
        // A failing actor is contained: dropped here, re-activated from the store on next use.
        this.log.error({ err }, 'lock actor failed; passivated');
        this.self.passivate();
      },
    });
    this.actor.start();
    started = true;
    if (!restored) return;
    try {
      await this.command(() => this.actor.send({ type: 'RESUME', now: this.now() }));
    } catch (e) {
      this.actor.stop(); // the host never saw this activation: its timers must not run on
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
        return this.command(() => {
          for (const connId of holderConnectionsOf(this.actor.getSnapshot())) this.actor.send({ type: 'DISCONNECT', connId, now: this.now() });
          return { type: 'done' };
        });
      case 'reply':
        return this.command(() => {
          const before = this.emitted.length;
          this.actor.send({ type: 'REPLY', userId: c.userId, token: c.lockToken, now: this.now() });
          const verdict = this.emitted.slice(before).find((e) => e.type === 'replyAccepted' || e.type === 'replyRefused');
          if (verdict?.type !== 'replyAccepted') return { type: 'replyRefused', view: this.view() };
          return { type: 'replyAccepted', fence: { conversationId: this.self.id, ownerEpoch: this.owned.ownerEpoch, lockToken: c.lockToken } };
        });
    }
  }

  isIdle(): boolean {
    return this.viewers.size === 0 && lockView(this.actor.getSnapshot()).state === 'idle';
  }

  stop(): void {
    this.actor.stop();
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

  private view(): AccountLockView {
    return { ...publicLockView(this.actor.getSnapshot()), accountId: this.account.id };
  }

  private lockReply(userId: string): LockReply {
    const snapshot = this.actor.getSnapshot();
    return { type: 'lock', view: this.view(), lockToken: isHeldBy(snapshot, userId) ? snapshot.context.token : null };
  }

  /** Runs a command on the machine, then saves and publishes what it did. */
  private async command<T>(fn: () => T): Promise<T> {
    this.inCommand = true;
    let result: T;
    try {
      result = fn();
    } finally {
      this.inCommand = false;
    }
    if (this.actor.getSnapshot().status === 'error') {
      // The machine threw: contain it (this conversation only) and let the next use re-activate.
      this.self.passivate();
      throw new AppError('internal', 'The conversation lock failed; try again');
    }
    await this.save();
    return result;
  }

  /** Compare-and-set the snapshot and token; then publish. */
  private async save(): Promise<void> {
    const snapshot = this.actor.getSnapshot();
    const v = lockView(snapshot);
    const key = publishKey(snapshot);
    if (key !== this.lastPublished || this.emitted.length > 0) {
      const record: LockRecord = {
        conversationId: this.self.id,
        accountId: this.account.id,
        snapshot: JSON.stringify(this.actor.getPersistedSnapshot()),
        token: v.token,
        ownerEpoch: this.owned.ownerEpoch,
        state: v.state,
        holderUserId: v.holder?.userId ?? null,
        holderName: v.holder?.name ?? null,
        since: v.since ?? null,
        releaseAt: v.releaseAt ?? null,
        updatedAt: this.now(),
      };
      const ok = await this.d.store.locks.save(record);
      if (!ok) {
        this.log.warn('a newer activation owns the lock; stopping this one');
        this.self.passivate();
        throw new Passivated();
      }
      // An epoch's tokens end where the next epoch's begin: near the end, the next command
      // activates afresh under a new epoch (the holder keeps the lock with a new token).
      if (record.token >= (this.owned.ownerEpoch + 1) * LOCK_TOKEN_EPOCH_SPAN - 2) this.self.passivate();
    }
    this.publish(snapshot, key);
  }

  /** Every announcement of a lock change leaves from here. */
  private publish(snapshot: LockSnapshot, key: string): void {
    const emitted = this.emitted.splice(0);
    const previousHolderConns = this.holderConnIds;
    this.holderConnIds = holderConnectionsOf(snapshot);
    const base = { conversationId: this.self.id, accountId: this.account.id };
    for (const e of emitted) {
      if (e.type === 'idleWarning') {
        this.d.emit({ type: 'lockIdleWarning', ...base, userId: e.userId, connIds: [...this.holderConnIds], releaseAt: e.releaseAt });
      } else if (e.type === 'released') {
        const v = lockView(snapshot);
        const by = e.reason === 'takenOver' && v.holder ? v.holder : undefined;
        this.d.emit({ type: 'lockReleased', ...base, userId: e.userId, connIds: [...previousHolderConns], reason: e.reason, ...(by ? { by } : {}) });
      }
    }
    if (key === this.lastPublished) return;
    this.lastPublished = key;
    const v = lockView(snapshot);
    this.d.emit({
      type: 'lock',
      view: this.view(),
      departmentId: this.account.departmentId,
      holderConnIds: [...this.holderConnIds],
      lockToken: v.holder ? v.token : null,
    });
  }
}

/** A persisted snapshot carried over to a new activation, whose tokens start at `token`. */
function rebased(snapshot: LockSnapshot, token: number): LockSnapshot {
  return { ...snapshot, context: { ...snapshot.context, token } } as LockSnapshot;
}

/** Changes clients must hear about: token, state, holder, deadline, the holder's connections. */
function publishKey(snapshot: LockSnapshot): string {
  const v = lockView(snapshot);
  return `${v.token}|${v.state}|${v.holder?.userId ?? ''}|${v.releaseAt ?? ''}|${holderConnectionsOf(snapshot).join(',')}`;
}

