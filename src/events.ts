import type { Conversation, Message } from './domain/types.js';
import type { AccountLockView, LockHolderIdentity, ReleaseReason } from './locks/lock-view.js';

// What the core announces after a write commits. The hub calls listeners directly, in this process;
// events are plain data, so a bus between nodes can carry them as they are. Listeners must not
// throw into the core: a failing listener is isolated and reported.

export type CoreEvent =
  | { type: 'message'; accountId: string; message: Message }
  | { type: 'conversation'; accountId: string; conversation: Conversation }
  /** `removedUserIds`: people who lost access to the account (removed members; people who left its department or lost the role that gave access). */
  | { type: 'membership'; accountId: string; removedUserIds: string[]; addedUserIds: string[] }
  | { type: 'sessionRevoked'; userId: string; tokenHash: string | null }
  /** A person's record changed (role, departments, disabled…): whatever was judged on the old one is judged again. */
  | { type: 'userChanged'; userId: string }
  /** A conversation's lock changed. `holderConnIds`/`lockToken`: the holder's own copy carries the token. */
  | { type: 'lock'; view: AccountLockView; departmentId: string | null; holderConnIds: string[]; lockToken: number | null }
  | { type: 'lockIdleWarning'; conversationId: string; accountId: string; userId: string; connIds: string[]; releaseAt: number }
  | { type: 'lockReleased'; conversationId: string; accountId: string; userId: string; connIds: string[]; reason: ReleaseReason; by?: LockHolderIdentity };

export type Listener = (e: CoreEvent) => void;

export class EventHub {
  private listeners = new Set<Listener>();

  constructor(private readonly onListenerError: (err: unknown) => void = () => undefined) {}

  on(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(e: CoreEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }
}
