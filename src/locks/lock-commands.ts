import type { AccountLockView } from './lock-view.js';

// What the lock service asks of a conversation's lock actor, and what the actor answers: plain
// data, so the actor may run on another node (see src/actors-runtime/actor-ref.ts). The service
// has authorised the person before it sends any of these; the actor only applies the lock's rules.

/** The actor kind of a conversation's lock in placement (src/actors-runtime/placement.ts). */
export const CONVERSATION_ACTOR = 'conversation';

export type LockCommand =
  | { type: 'open'; userId: string; name: string; connId: string }
  /** Only for a person the service found to be an admin of the conversation's department. */
  | { type: 'takeOver'; userId: string; name: string; connId: string }
  | { type: 'activity'; userId: string; connId: string }
  | { type: 'stillWorking'; userId: string }
  | { type: 'leave'; userId: string; connId: string }
  | { type: 'disconnect'; connId: string }
  /**
   * The user's lock goes at once. With `onlyThrough`: only when every connection the lock is held
   * through is one of these (another connection of theirs keeps it).
   */
  | { type: 'revoke'; userId: string; onlyThrough?: string[] }
  /**
   * Activates a held lock whose owner is gone (a restart, a dead node): its deadlines run again, and
   * the grace of holders whose connections were on a process that is gone starts now.
   */
  | { type: 'recover' }
  | { type: 'reply'; userId: string; lockToken: number };

/** The fence a reply's commit must pass in the store: the owner's epoch and the token it checked. */
export interface ReplyFence {
  conversationId: string;
  ownerEpoch: number;
  lockToken: number;
}

export type LockReply =
  /** The lock as it is now; `lockToken` is the asker's own when they hold it. */
  | { type: 'lock'; view: AccountLockView; lockToken: number | null }
  | { type: 'replyAccepted'; fence: ReplyFence }
  | { type: 'replyRefused'; view: AccountLockView }
  | { type: 'done' };
