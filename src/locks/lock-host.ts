import { createActor, type Actor } from 'xstate';
import {
  conversationLockMachine,
  holderConnectionsOf,
  isHeldBy,
  lockView as machineView,
  publicLockView,
  type LockEmitted,
  type LockSnapshot,
} from '../../actors/conversation/index.js';
import type { Account, Message } from '../domain/types.js';
import type { CoreContext } from '../services/context.js';
import { SEND_ACCEPTED, type MessagingService } from '../services/messaging-service.js';
import type { Idempotency, IdempotencyClaim } from '../services/idempotency.js';
import type { LockRecord } from '../store/store.js';
import type { TimerHandle } from '../clock.js';
import type { AccountLockView, OpenResult } from './lock-view.js';
import { AppError, notFound } from '../errors.js';
import { canManageDepartment } from '../auth/access.js';
import { accessibleConversation, lostAccounts } from '../services/account-access.js';
import { personPrincipal, type Principal } from '../auth/principal.js';
import { requireDepartmentAdmin, requireUser } from '../services/auth-service.js';

// The actor host: one XState lock actor per group-account conversation, activated on first use
// and passivated when idle and unwatched. Everything that happens to an actor (a command, or one
// of its own timers firing) goes through that conversation's mailbox, one at a time: the event is
// sent, the new snapshot is saved with a compare-and-set on the fencing token, and only then are
// clients told. The store, not memory, decides: a save that finds another token stops the actor.

type LockActor = Actor<typeof conversationLockMachine>;

interface Entry {
  conversationId: string;
  account: Account;
  actor: LockActor;
  /** The token the store holds for this conversation (what the next save must find). */
  savedToken: number;
  /** Serialises everything done to this actor. */
  mailbox: Promise<unknown>;
  /** Emitted events not yet published (they go out after the save). */
  emitted: LockEmitted[];
  /** The holder's connections as of the last save (a release needs to know whom to tell). */
  holderConnIds: readonly string[];
  lastPublished: string;
  /** Connections that have the conversation open (passivation). */
  viewers: Set<string>;
  /** True while a command runs on the actor (its transitions are saved by the command itself). */
  inCommand: boolean;
  /** Armed while the actor is idle and unwatched: it is stopped when this fires. */
  passivation: TimerHandle | null;
  stopped: boolean;
}

export class LockHost {
  private readonly entries = new Map<string, Entry>();
  private readonly activating = new Map<string, Promise<Entry>>();
  private stopping = false;

  constructor(
    private readonly c: CoreContext,
    private readonly messaging: MessagingService,
    private readonly idempotency: Idempotency,
  ) {}

  /** Re-activates every lock held when the node stopped, so its timers run again. */
  async start(): Promise<void> {
    const accounts = await this.c.store.accounts.listGroup();
    const held = await this.c.store.locks.listActive(accounts.map((a) => a.id));
    for (const record of held) {
      const conversation = await this.c.store.conversations.get(record.conversationId);
      const account = accounts.find((a) => a.id === record.accountId);
      if (!conversation || !account) continue;
      const entry = await this.entryFor(conversation.id, account);
      // The holder's connections were on the process that stopped: they are gone. Their grace
      // starts now, so a holder who reconnects keeps the lock and an absent one loses it.
      for (const connId of holderConnectionsOf(entry.actor.getSnapshot())) {
        await this.run(entry, () => entry.actor.send({ type: 'DISCONNECT', connId, now: this.now() }));
      }
    }
  }

  stop(): void {
    this.stopping = true;
    for (const e of [...this.entries.values()]) this.passivate(e);
  }

  activeCount(): number {
    return this.entries.size;
  }

  /**
   * Resolves once everything queued on the actors so far (commands, activations, transitions of
   * timers that already fired) has been saved and published, including what that work queued in
   * turn. For callers that must know nothing more is on its way, e.g. a test asserting that an
   * event was not announced.
   */
  async settled(): Promise<void> {
    const pendingWork = () => [...this.activating.values(), ...[...this.entries.values()].map((e) => e.mailbox)];
    for (let before = pendingWork(); ; ) {
      await Promise.allSettled(before);
      const after = pendingWork();
      if (after.length === before.length && after.every((p, i) => p === before[i])) return;
      before = after;
    }
  }

  /** Whether the conversation's actor is running on this node. */
  isActive(conversationId: string): boolean {
    return this.entries.has(conversationId);
  }

  async open(p: Principal, connId: string, conversationId: string): Promise<OpenResult> {
    const user = requireUser(p);
    return this.onActor(await this.groupAccountOf(p, conversationId), conversationId, (entry) => {
      entry.viewers.add(connId);
      entry.actor.send({ type: 'OPEN', userId: user.id, name: user.name, connId, now: this.now() });
      return this.openResult(entry, user.id);
    });
  }

  async takeOver(p: Principal, connId: string, conversationId: string): Promise<Extract<OpenResult, { granted: true }>> {
    const user = requireUser(p);
    const account = await this.groupAccountOf(p, conversationId);
    if (!canManageDepartment(user, account.departmentId!)) throw new AppError('forbidden', 'Only a department admin can take over a conversation');
    const r = await this.onActor(account, conversationId, (entry) => {
      entry.viewers.add(connId);
      entry.actor.send({ type: 'TAKE_OVER', userId: user.id, name: user.name, connId, now: this.now() });
      return this.openResult(entry, user.id);
    });
    if (!r.granted) throw new AppError('internal', 'take over did not grant the lock');
    return r;
  }

  async activity(p: Principal, connId: string, conversationId: string): Promise<AccountLockView> {
    const user = requireUser(p);
    return this.onActor(await this.groupAccountOf(p, conversationId), conversationId, (entry) => {
      entry.actor.send({ type: 'ACTIVITY', userId: user.id, connId, now: this.now() });
      return this.view(entry);
    });
  }

  async stillWorking(p: Principal, _connId: string, conversationId: string): Promise<AccountLockView> {
    const user = requireUser(p);
    return this.onActor(await this.groupAccountOf(p, conversationId), conversationId, (entry) => {
      entry.actor.send({ type: 'STILL_WORKING', userId: user.id, now: this.now() });
      return this.view(entry);
    });
  }

  async leave(p: Principal, connId: string, conversationId: string): Promise<AccountLockView> {
    const user = requireUser(p);
    return this.onActor(await this.groupAccountOf(p, conversationId), conversationId, (entry) => {
      entry.viewers.delete(connId);
      // This tab leaves; the lock goes with the holder's last tab (another tab keeps it).
      entry.actor.send({ type: 'LEAVE', userId: user.id, connId, now: this.now() });
      return this.view(entry);
    });
  }

  /** A socket closed: the lock's grace period starts for conversations it held. */
  async disconnect(connId: string, conversationIds: string[]): Promise<void> {
    // At shutdown the sockets close after the actors stopped; the next start handles their grace.
    if (this.stopping) return;
    for (const id of conversationIds) {
      const entry = this.entries.get(id);
      if (!entry) continue; // passivated: nobody holds it through this socket
      await this.onActor(entry.account, id, (e) => {
        e.viewers.delete(connId);
        e.actor.send({ type: 'DISCONNECT', connId, now: this.now() });
      });
    }
  }

  /**
   * Access removed (membership, session): the user's locks go at once. All of them, those in one
   * account (`accountId`), or those held only through the given connections (`connIds`: a lock
   * the user also holds through another connection stays with it).
   */
  async revokeUser(userId: string, scope: { accountId?: string; connIds?: readonly string[] }): Promise<void> {
    const only = scope.connIds ? new Set(scope.connIds) : null;
    for (const entry of [...this.entries.values()]) {
      if (scope.accountId !== undefined && entry.account.id !== scope.accountId) continue;
      if (!isHeldBy(entry.actor.getSnapshot(), userId)) continue;
      await this.onActor(entry.account, entry.conversationId, (e) => {
        // Judged in the mailbox, on the holder's connections as they are now.
        const through = holderConnectionsOf(e.actor.getSnapshot());
        if (only && (through.length === 0 || !through.every((id) => only.has(id)))) return;
        e.actor.send({ type: 'REVOKE', userId, now: this.now() });
      });
    }
  }

  /** The person's roles or departments changed: locks in accounts they may no longer use go at once. */
  async revokeLostAccess(userId: string): Promise<void> {
    const accounts = new Map<string, Account>();
    for (const e of this.entries.values()) if (isHeldBy(e.actor.getSnapshot(), userId)) accounts.set(e.account.id, e.account);
    if (accounts.size === 0) return;
    const user = await this.c.store.users.get(userId);
    const lost = user && !user.disabled ? await lostAccounts(this.c, personPrincipal(user), accounts.keys()) : [...accounts.keys()];
    for (const accountId of lost) await this.revokeUser(userId, { accountId });
  }

  /**
   * A reply: group accounts need the current lock token. The actor checks it (and counts the reply
   * as activity), then the store commits the message only if the conversation's token still is
   * that token (the fence). Personal-account conversations have no lock. With an Idempotency-Key,
   * a retry gets the first reply back before any lock check (the lock may have moved on since).
   */
  reply(p: Principal, conversationId: string, lockToken: number | undefined, text: string, idempotencyKey?: string): Promise<Message> {
    return this.idempotency.once(p, idempotencyKey, { operation: 'reply', conversationId, lockToken, text }, SEND_ACCEPTED, (claim) =>
      this.replyOnce(p, conversationId, lockToken, text, claim),
    );
  }

  private async replyOnce(
    p: Principal,
    conversationId: string,
    lockToken: number | undefined,
    text: string,
    claim: IdempotencyClaim<Message> | undefined,
  ): Promise<Message> {
    const { account } = await accessibleConversation(this.c, p, conversationId);
    if (account.kind !== 'group') return this.messaging.reply(p, conversationId, { text }, claim);
    // A lock is for a person at a keyboard; an integration holds none, so it cannot answer inside
    // a conversation someone may be answering. It sends new texts with compose instead.
    if (p.kind === 'apiKey') {
      throw new AppError('api_key_cannot_reply', 'API keys cannot reply in group-account conversations (replies need the lock); send with POST /api/v1/messages and groupAccountCode');
    }
    if (lockToken === undefined) throw new AppError('lock_required', 'Open the conversation to get its lock, then reply with its lockToken');
    const user = requireUser(p);
    return this.onActor(account, conversationId, async (entry) => {
      const before = entry.emitted.length;
      entry.actor.send({ type: 'REPLY', userId: user.id, token: lockToken, now: this.now() });
      const verdict = entry.emitted.slice(before).find((e) => e.type === 'replyAccepted' || e.type === 'replyRefused');
      if (verdict?.type !== 'replyAccepted') {
        throw new AppError('stale_lock_token', this.refusal(entry, user.id));
      }
      await this.save(entry);
      return this.messaging.reply(p, conversationId, { text, lockToken }, claim);
    });
  }

  /**
   * The locks held in one account now: what a subscriber sees before its events. The caller has
   * checked the person's access to the account (resolveAccountRef). Personal accounts have none.
   */
  async heldIn(account: Account): Promise<AccountLockView[]> {
    if (account.kind !== 'group') return [];
    return (await this.c.store.locks.listActive([account.id])).map(recordView);
  }

  /** The live board's first picture: held locks of the department's group accounts. */
  async board(p: Principal, departmentId: string): Promise<AccountLockView[]> {
    await requireDepartmentAdmin(this.c, requireUser(p), departmentId);
    const accounts = await this.c.store.accounts.listGroup({ departmentId });
    const records = await this.c.store.locks.listActive(accounts.map((a) => a.id));
    return records.map(recordView);
  }

  // --- internals ---------------------------------------------------------------------------

  private now(): number {
    return this.c.clock.now();
  }

  private openResult(entry: Entry, userId: string): OpenResult {
    const snap = entry.actor.getSnapshot();
    const view = this.view(entry);
    return isHeldBy(snap, userId) ? { granted: true, view, lockToken: snap.context.token } : { granted: false, view };
  }

  private refusal(entry: Entry, userId: string): string {
    const v = this.view(entry);
    if (v.holder && v.holder.userId !== userId) return `${v.holder.name} is responding (since ${new Date(v.since!).toISOString()})`;
    return 'Your lock on this conversation has ended; open it again';
  }

  private view(entry: Entry): AccountLockView {
    return { ...publicLockView(entry.actor.getSnapshot()), accountId: entry.account.id };
  }

  /** Access check: the conversation's group account (personal conversations have no lock). */
  private async groupAccountOf(p: Principal, conversationId: string): Promise<Account> {
    const { account } = await accessibleConversation(this.c, p, conversationId);
    if (account.kind !== 'group') throw new AppError('no_lock', 'Personal-account conversations have no lock');
    return account;
  }

  /**
   * Runs `fn` on the conversation's actor through its mailbox, activating it when needed. An
   * actor passivated while the command waited (idle and unwatched, or superseded) is replaced by a
   * fresh activation from the store and the command runs there.
   */
  private async onActor<T>(account: Account, conversationId: string, fn: (entry: Entry) => Promise<T> | T): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const entry = await this.entryFor(conversationId, account);
      try {
        const result = await this.run(entry, () => fn(entry));
        this.passivateIfIdle(entry);
        return result;
      } catch (e) {
        if (e instanceof Passivated && attempt < 3) continue;
        throw e instanceof Passivated ? new AppError('conflict', 'The conversation is busy; try again') : e;
      }
    }
  }

  private async entryFor(conversationId: string, account: Account): Promise<Entry> {
    const live = this.entries.get(conversationId);
    if (live && !live.stopped) return live;
    let pending = this.activating.get(conversationId);
    if (!pending) {
      pending = this.activate(conversationId, account).finally(() => this.activating.delete(conversationId));
      this.activating.set(conversationId, pending);
    }
    return pending;
  }

  private async activate(conversationId: string, account: Account): Promise<Entry> {
    const conversation = await this.c.store.conversations.get(conversationId);
    if (!conversation) throw notFound('Conversation');
    const record = await this.c.store.locks.get(conversationId);
    const { lock } = this.c.config;
    const input = {
      conversationId,
      idleWarningMs: lock.idleWarningMs,
      releaseAfterWarningMs: lock.releaseAfterWarningMs,
      disconnectGraceMs: lock.disconnectGraceMs,
      token: conversation.lockToken,
    };
    const clock = { setTimeout: (fn: () => void, ms: number) => this.c.clock.setTimeout(fn, ms), clearTimeout: (h: unknown) => this.c.clock.clearTimeout(h as never) };
    const log = this.c.log.child({ conversationId });
    // A snapshot from an older activation is only trusted if the store's token still is its token.
    let restored: LockSnapshot | undefined;
    let actor: LockActor;
    try {
      restored = record && record.token === conversation.lockToken ? (JSON.parse(record.snapshot) as LockSnapshot) : undefined;
      actor = createActor(conversationLockMachine, { input, clock, ...(restored ? { snapshot: restored } : {}) });
    } catch (err) {
      // A snapshot that cannot be restored must not wedge the conversation: start free. The old
      // holder's replies are refused by the fresh actor (nobody holds it), so nothing is lost but
      // the lock itself.
      log.error({ err }, 'lock snapshot could not be restored; starting the conversation unlocked');
      restored = undefined;
      actor = createActor(conversationLockMachine, { input, clock });
    }
    const entry: Entry = {
      conversationId,
      account,
      actor,
      savedToken: conversation.lockToken,
      mailbox: Promise.resolve(),
      emitted: [],
      holderConnIds: restored ? holderConnectionsOf(restored) : [],
      // What clients already know: nothing new to say about a freshly activated actor.
      lastPublished: publishKey(actor.getSnapshot()),
      viewers: new Set(),
      inCommand: false,
      passivation: null,
      stopped: false,
    };
    actor.on('*', (e) => entry.emitted.push(e as LockEmitted));
    let started = false;
    actor.subscribe({
      next: () => {
        // A timer fired (commands are saved by `run`; the start itself is nothing new): save and
        // tell, in mailbox order.
        if (!started || entry.inCommand) return;
        this.enqueue(entry, () => this.save(entry)).then(
          () => this.passivateIfIdle(entry),
          (err: unknown) => {
            if (!(err instanceof Passivated)) log.error({ err }, 'saving a timed lock transition failed');
          },
        );
      },
      error: (err) => {
        // A failing actor is contained: dropped here, re-activated from the store on next use.
        log.error({ err }, 'lock actor failed; passivated');
        this.passivate(entry);
      },
    });
    actor.start();
    started = true;
    if (restored) await this.run(entry, () => actor.send({ type: 'RESUME', now: this.now() }));
    this.entries.set(conversationId, entry);
    return entry;
  }

  private enqueue<T>(entry: Entry, fn: () => Promise<T> | T): Promise<T> {
    const next = entry.mailbox.then(fn, fn);
    entry.mailbox = next.catch(() => undefined);
    return next;
  }

  /** Runs a command on the actor, then saves and publishes what it did. */
  private run<T>(entry: Entry, fn: () => Promise<T> | T): Promise<T> {
    return this.enqueue(entry, async () => {
      if (entry.stopped) throw new Passivated();
      entry.inCommand = true;
      let result: T;
      try {
        result = await fn();
      } finally {
        entry.inCommand = false;
      }
      if (entry.actor.getSnapshot().status === 'error') {
        // The machine threw: contain it (this conversation only) and let the next use re-activate.
        this.passivate(entry);
        throw new AppError('internal', 'The conversation lock failed; try again');
      }
      await this.save(entry);
      return result;
    });
  }

  /** Compare-and-set the snapshot and token; then publish. */
  private async save(entry: Entry): Promise<void> {
    if (entry.stopped) return;
    const snapshot = entry.actor.getSnapshot();
    const v = machineView(snapshot);
    const record: LockRecord = {
      conversationId: entry.conversationId,
      accountId: entry.account.id,
      snapshot: JSON.stringify(entry.actor.getPersistedSnapshot()),
      token: v.token,
      state: v.state,
      holderUserId: v.holder?.userId ?? null,
      holderName: v.holder?.name ?? null,
      since: v.since ?? null,
      releaseAt: v.releaseAt ?? null,
      updatedAt: this.now(),
    };
    const key = publishKey(snapshot);
    if (key !== entry.lastPublished || entry.emitted.length > 0) {
      const ok = await this.c.store.locks.save(record, entry.savedToken);
      if (!ok) {
        this.c.log.warn({ conversationId: entry.conversationId }, 'lock moved on elsewhere; stopping this activation');
        this.passivate(entry);
        throw new Passivated();
      }
      entry.savedToken = record.token;
    }
    this.publish(entry, snapshot, key);
  }

  private publish(entry: Entry, snapshot: LockSnapshot, key: string): void {
    const emitted = entry.emitted.splice(0);
    const previousHolderConns = entry.holderConnIds;
    entry.holderConnIds = holderConnectionsOf(snapshot);
    const base = { conversationId: entry.conversationId, accountId: entry.account.id };
    for (const e of emitted) {
      if (e.type === 'idleWarning') {
        this.c.events.emit({ type: 'lockIdleWarning', ...base, userId: e.userId, connIds: [...entry.holderConnIds], releaseAt: e.releaseAt });
      } else if (e.type === 'released') {
        const v = machineView(snapshot);
        const by = e.reason === 'takenOver' && v.holder ? v.holder : undefined;
        this.c.events.emit({ type: 'lockReleased', ...base, userId: e.userId, connIds: [...previousHolderConns], reason: e.reason, ...(by ? { by } : {}) });
      }
    }
    if (key === entry.lastPublished) return;
    entry.lastPublished = key;
    const v = machineView(snapshot);
    this.c.events.emit({
      type: 'lock',
      view: this.view(entry),
      departmentId: entry.account.departmentId,
      holderConnIds: [...entry.holderConnIds],
      lockToken: v.holder ? v.token : null,
    });
  }

  /**
   * Idle and unwatched for LOCK_PASSIVATE_AFTER_MS: stop the actor (checked again when the time
   * comes, in the mailbox after what is queued). Keeping it that long spares the next open of a
   * busy conversation a re-activation from the store.
   */
  private passivateIfIdle(entry: Entry): void {
    const idle = () => !entry.stopped && entry.viewers.size === 0 && machineView(entry.actor.getSnapshot()).state === 'idle';
    if (!idle()) {
      if (entry.passivation) this.c.clock.clearTimeout(entry.passivation);
      entry.passivation = null;
      return;
    }
    if (entry.passivation) return;
    entry.passivation = this.c.clock.setTimeout(() => {
      entry.passivation = null;
      void this.enqueue(entry, () => {
        if (idle()) this.passivate(entry);
      });
    }, this.c.config.lock.passivateAfterMs);
  }

  private passivate(entry: Entry): void {
    if (entry.stopped) return;
    if (entry.passivation) this.c.clock.clearTimeout(entry.passivation);
    entry.passivation = null;
    entry.stopped = true;
    entry.actor.stop();
    if (this.entries.get(entry.conversationId) === entry) this.entries.delete(entry.conversationId);
  }
}

/** Changes clients must hear about: token, state, holder, deadline, the holder's connections. */
function publishKey(snapshot: LockSnapshot): string {
  const v = machineView(snapshot);
  return `${v.token}|${v.state}|${v.holder?.userId ?? ''}|${v.releaseAt ?? ''}|${holderConnectionsOf(snapshot).join(',')}`;
}

/** The actor was stopped before a queued command reached it; the command retries elsewhere. */
class Passivated extends Error {
  override name = 'Passivated';
}

function recordView(r: LockRecord): AccountLockView {
  return {
    conversationId: r.conversationId,
    accountId: r.accountId,
    state: r.state,
    ...(r.holderUserId ? { holder: { userId: r.holderUserId, name: r.holderName ?? '' } } : {}),
    ...(r.since !== null ? { since: r.since } : {}),
    ...(r.releaseAt !== null ? { releaseAt: r.releaseAt } : {}),
  };
}
