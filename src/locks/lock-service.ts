import type { Account, Message } from '../domain/types.js';
import type { CoreContext } from '../services/context.js';
import { SEND_ACCEPTED, type MessagingService } from '../services/messaging-service.js';
import type { Idempotency, IdempotencyClaim } from '../services/idempotency.js';
import type { LockRecord } from '../store/store.js';
import type { ActorRef } from '../actors-runtime/actor-ref.js';
import type { Placement } from '../actors-runtime/placement.js';
import type { AccountLockView, OpenResult } from './lock-view.js';
import { CONVERSATION_ACTOR, type LockCommand, type LockReply } from './lock-commands.js';
import { AppError } from '../errors.js';
import { canManageDepartment, type AccountAccessFacts } from '../auth/access.js';
import { accessibleConversation, accessibleConversationAccount, ConversationAccounts, lostAccounts } from '../services/account-access.js';
import { personPrincipal, type Principal } from '../auth/principal.js';
import { requireDepartmentAdmin, requireUser } from '../services/auth-service.js';

// The lock service, on the node that received the request: it authorises the person, looks up
// the account, and only then sends a plain command to the conversation's lock actor through the
// actor reference (which may reach another node). It also answers the board from the store and
// runs the reply use case: the actor checks the token, the store commits under the fence.

/** What the service needs to know about the activations of this node (placement comes later). */
export interface LocalLockActors {
  /** The conversations whose lock `userId` holds on this node's activations, with their accounts. */
  heldBy(userId: string): Array<{ conversationId: string; accountId: string }>;
  /**
   * What the activations of these accounts' conversations last told their watchers, whatever the
   * store has saved yet: this node's, and in a cluster every other live node's that answers.
   */
  liveViews(accountIds: ReadonlySet<string>): Promise<AccountLockView[]>;
  /** Delivers to the actor's activation wherever it is active (no activation: nothing to tell). */
  tell(conversationId: string, command: LockCommand): Promise<LockReply | undefined>;
  isActive(conversationId: string): boolean;
  activeCount(): number;
  settled(): Promise<void>;
  readonly isStopping: boolean;
}

export class LockService {
  private readonly conversationAccounts = new ConversationAccounts();
  private adopting: Promise<void> | null = null;
  private adoptAgain = false;

  constructor(
    private readonly c: CoreContext,
    private readonly actors: ActorRef<LockCommand, LockReply>,
    private readonly local: LocalLockActors,
    private readonly messaging: MessagingService,
    private readonly idempotency: Idempotency,
    private readonly placement: Placement,
  ) {}

  /** Takes over the held locks nobody runs (see adoptOrphans). */
  async start(): Promise<void> {
    await this.adoptOrphans();
  }

  /**
   * Re-activates the held locks that no live node runs, so their deadlines fire again: at start
   * (this node's earlier run, nodes that died while none was up) and when a node's lease lapses.
   * Placement decides which node takes each (a lock another live node runs is not touched). The
   * restored lock starts the grace of holders whose connections were on a process that is gone,
   * so a holder who reconnects keeps the lock and an absent one loses it; holders on live nodes
   * keep it under a new token.
   */
  adoptOrphans(): Promise<void> {
    if (this.adopting) {
      this.adoptAgain = true;
      return this.adopting;
    }
    const run = async (): Promise<void> => {
      do {
        this.adoptAgain = false;
        const accounts = await this.c.store.accounts.listGroup();
        for (const record of await this.c.store.locks.listActive(accounts.map((a) => a.id))) {
          const id = record.conversationId;
          if (this.local.isActive(id)) continue;
          try {
            if ((await this.placement.resolve(CONVERSATION_ACTOR, id)) !== this.placement.nodeId) continue;
            await this.ask(id, { type: 'recover' });
          } catch (err) {
            // One lock that cannot be adopted now must not keep the others waiting: the next
            // command, or the next lapse, tries it again.
            this.c.log.warn({ err, conversationId: id }, 'could not adopt a held lock');
          }
        }
      } while (this.adoptAgain);
    };
    this.adopting = run().finally(() => (this.adopting = null));
    return this.adopting;
  }

  activeCount(): number {
    return this.local.activeCount();
  }

  /** Whether the conversation's actor is running on this node. */
  isActive(conversationId: string): boolean {
    return this.local.isActive(conversationId);
  }

  /**
   * Resolves once everything queued on the actors so far (commands, activations, transitions of
   * timers that already fired) has been saved and published, including what that work queued in
   * turn. For callers that must know nothing more is on its way, e.g. a test asserting that an
   * event was not announced.
   */
  settled(): Promise<void> {
    return this.local.settled();
  }

  async open(p: Principal, connId: string, conversationId: string): Promise<OpenResult> {
    const user = requireUser(p);
    await this.groupAccountOf(p, conversationId);
    return openResult(await this.ask(conversationId, { type: 'open', userId: user.id, name: user.name, connId }));
  }

  async takeOver(p: Principal, connId: string, conversationId: string): Promise<Extract<OpenResult, { granted: true }>> {
    const user = requireUser(p);
    const account = await this.groupAccountOf(p, conversationId);
    if (!canManageDepartment(user, account.departmentId!)) throw new AppError('forbidden', 'Only a department admin can take over a conversation');
    const r = openResult(await this.ask(conversationId, { type: 'takeOver', userId: user.id, name: user.name, connId }));
    if (!r.granted) throw new AppError('internal', 'take over did not grant the lock');
    return r;
  }

  async activity(p: Principal, connId: string, conversationId: string): Promise<AccountLockView> {
    const user = requireUser(p);
    await this.groupAccountOf(p, conversationId);
    return lockOf(await this.ask(conversationId, { type: 'activity', userId: user.id, connId })).view;
  }

  async stillWorking(p: Principal, _connId: string, conversationId: string): Promise<AccountLockView> {
    const user = requireUser(p);
    await this.groupAccountOf(p, conversationId);
    return lockOf(await this.ask(conversationId, { type: 'stillWorking', userId: user.id })).view;
  }

  async leave(p: Principal, connId: string, conversationId: string): Promise<AccountLockView> {
    const user = requireUser(p);
    await this.groupAccountOf(p, conversationId);
    return lockOf(await this.ask(conversationId, { type: 'leave', userId: user.id, connId })).view;
  }

  /** A socket closed: the lock's grace period starts for conversations it held. */
  async disconnect(connId: string, conversationIds: string[]): Promise<void> {
    // At shutdown the sockets close after the actors stopped; the next start handles their grace.
    if (this.local.isStopping) return;
    // A passivated actor has nobody holding it through this socket: only live ones hear of it.
    for (const id of conversationIds) await this.local.tell(id, { type: 'disconnect', connId });
  }

  /**
   * Access removed (membership, session): the user's locks go at once. All of them, those in one
   * account (`accountId`), or those held only through the given connections (`connIds`: a lock
   * the user also holds through another connection stays with it).
   */
  async revokeUser(userId: string, scope: { accountId?: string; connIds?: readonly string[] }): Promise<void> {
    for (const held of this.local.heldBy(userId)) {
      if (scope.accountId !== undefined && held.accountId !== scope.accountId) continue;
      await this.local.tell(held.conversationId, { type: 'revoke', userId, ...(scope.connIds ? { onlyThrough: [...scope.connIds] } : {}) });
    }
  }

  /** The person's roles or departments changed: locks in accounts they may no longer use go at once. */
  async revokeLostAccess(userId: string): Promise<void> {
    const accounts = new Set(this.local.heldBy(userId).map((h) => h.accountId));
    if (accounts.size === 0) return;
    const user = await this.c.store.users.get(userId);
    const lost = user && !user.disabled ? await lostAccounts(this.c, personPrincipal(user), accounts) : [...accounts];
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
    const verdict = await this.ask(conversationId, { type: 'reply', userId: user.id, lockToken });
    if (verdict.type !== 'replyAccepted') {
      throw new AppError('stale_lock_token', refusal(verdict.type === 'replyRefused' ? verdict.view : undefined, user.id));
    }
    return this.messaging.reply(p, conversationId, { text, fence: verdict.fence }, claim);
  }

  /**
   * The locks held in one account now: what a subscriber sees before its events. The caller has
   * checked the person's access to the account (resolveAccountRef). Personal accounts have none.
   */
  async heldIn(account: Account): Promise<AccountLockView[]> {
    if (account.kind !== 'group') return [];
    return this.picture([account.id]);
  }

  /** The live board's first picture: held locks of the department's group accounts. */
  async board(p: Principal, departmentId: string): Promise<AccountLockView[]> {
    await requireDepartmentAdmin(this.c, requireUser(p), departmentId);
    const accounts = await this.c.store.accounts.listGroup({ departmentId });
    return this.picture(accounts.map((a) => a.id));
  }

  /**
   * The held locks of these accounts, for a watcher who just subscribed to their changes. A lock
   * is saved behind its announcement, so the store alone can miss a change announced before the
   * subscription and not saved yet, which no event would ever repair: the activations answer for
   * their own conversations (in a cluster, each live node for its own; cluster-lock-views.ts).
   */
  private async picture(accountIds: string[]): Promise<AccountLockView[]> {
    const byConversation = new Map((await this.c.store.locks.listActive(accountIds)).map((r) => [r.conversationId, recordView(r)]));
    for (const live of await this.local.liveViews(new Set(accountIds))) {
      if (live.state === 'idle') byConversation.delete(live.conversationId);
      else byConversation.set(live.conversationId, live);
    }
    return [...byConversation.values()].sort((a, b) => (a.conversationId < b.conversationId ? -1 : a.conversationId > b.conversationId ? 1 : 0));
  }

  private ask(conversationId: string, command: LockCommand): Promise<LockReply> {
    return this.actors.ask(conversationId, command);
  }

  /**
   * The account's access changed (members removed or added, the account deleted): its facts and
   * members are read afresh from now on. The core calls it on every node, as personChanged.
   */
  accountAccessChanged(accountId: string): void {
    this.conversationAccounts.forgetAccount(accountId);
  }

  /** The person changed (role, departments, memberships with them): their access is read afresh. */
  personChanged(userId: string): void {
    this.conversationAccounts.forgetPerson(userId);
  }

  /** Access check: the conversation's group account (personal conversations have no lock). */
  private async groupAccountOf(p: Principal, conversationId: string): Promise<AccountAccessFacts> {
    const account = await accessibleConversationAccount(this.c, p, conversationId, this.conversationAccounts);
    if (account.kind !== 'group') throw new AppError('no_lock', 'Personal-account conversations have no lock');
    return account;
  }
}

function lockOf(reply: LockReply): Extract<LockReply, { type: 'lock' }> {
  if (reply.type !== 'lock') throw new AppError('internal', `the lock actor answered ${reply.type} where a lock was expected`);
  return reply;
}

function openResult(reply: LockReply): OpenResult {
  const { view, lockToken } = lockOf(reply);
  return lockToken !== null ? { granted: true, view, lockToken } : { granted: false, view };
}

/** Why a reply was refused, in words for the person who sent it. */
function refusal(view: AccountLockView | undefined, userId: string): string {
  if (view?.holder && view.holder.userId !== userId) return `${view.holder.name} is responding (since ${new Date(view.since!).toISOString()})`;
  return 'Your lock on this conversation has ended; open it again';
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
