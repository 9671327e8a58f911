import type { ActorHost } from '../actors-runtime/actor-host.js';
import { ConversationLock } from './conversation-lock-actor.js';
import type { LockCommand, LockReply } from './lock-commands.js';
import type { LocalLockActors } from './lock-service.js';

/**
 * The lock service's view of this node's lock activations. `tell`: how a command reaches an actor
 * only where it is active (default: this node's host; in a cluster, the owning node).
 */
export function localLockActors(
  host: ActorHost<LockCommand, LockReply>,
  tell: (conversationId: string, command: LockCommand) => Promise<LockReply | undefined> = (id, command) => host.tell(id, command),
): LocalLockActors {
  return {
    heldBy(userId) {
      const held: Array<{ conversationId: string; accountId: string }> = [];
      for (const id of host.activeIds()) {
        const actor = host.peek(id);
        if (actor instanceof ConversationLock && actor.isHeldBy(userId)) held.push({ conversationId: id, accountId: actor.accountId });
      }
      return held;
    },
    liveViews(accountIds) {
      const views = [];
      for (const id of host.activeIds()) {
        const actor = host.peek(id);
        if (actor instanceof ConversationLock && accountIds.has(actor.accountId)) views.push(actor.currentView());
      }
      return views;
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
