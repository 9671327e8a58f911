import type { ActorHost } from '../actors-runtime/actor-host.js';
import { ConversationLock } from './conversation-lock-actor.js';
import type { LockCommand, LockReply } from './lock-commands.js';
import type { LocalLockActors } from './lock-service.js';
import type { AccountLockView } from './lock-view.js';

/**
 * The lock service's view of this node's lock activations. `tell`: how a command reaches an actor
 * only where it is active (default: this node's host; in a cluster, the owning node).
 */
export function localLockActors(
  host: ActorHost<LockCommand, LockReply>,
  tell: (conversationId: string, command: LockCommand) => Promise<LockReply | undefined> = (id, command) => host.tell(id, command),
  /** In a cluster: the other nodes' live views (cluster-lock-views.ts). */
  otherNodesViews: (accountIds: readonly string[]) => Promise<AccountLockView[]> = () => Promise.resolve([]),
): LocalLockActors {
  return {
    heldBy(userId) {
      const held: Array<{ conversationId: string; accountId: string }> = [];
      for (const [conversationId, lock] of hostedLocks(host)) if (lock.isHeldBy(userId)) held.push({ conversationId, accountId: lock.accountId });
      return held;
    },
    async liveViews(accountIds) {
      const others = await otherNodesViews([...accountIds]);
      // Read after the others answered: this node's own views are the newest it has.
      return [...others, ...hostedViews(host, accountIds)];
    },
    tell,
    isActive: (conversationId) => host.isActive(conversationId),
    activeCount: () => host.activeCount(),
    settled: () => host.settled(),
    get isStopping() {
      return host.isStopping;
    },
  };
}

/** What this node's activations of these accounts' conversations last told their watchers. */
export function hostedViews(host: ActorHost<LockCommand, LockReply>, accountIds: ReadonlySet<string>): AccountLockView[] {
  const views: AccountLockView[] = [];
  for (const [, lock] of hostedLocks(host)) if (accountIds.has(lock.accountId)) views.push(lock.currentView());
  return views;
}

/** This node's running lock activations, by conversation id. */
function* hostedLocks(host: ActorHost<LockCommand, LockReply>): Generator<[string, ConversationLock]> {
  for (const id of host.activeIds()) {
    const actor = host.peek(id);
    if (actor instanceof ConversationLock) yield [id, actor];
  }
}
