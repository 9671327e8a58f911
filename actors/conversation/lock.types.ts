// The conversation lock's vocabulary: what the host gives it (input, events) and what it
// announces (emitted events). Every event carries `now`, the host's clock in epoch ms: the machine
// never reads a clock of its own, so a restored snapshot and a simulated clock behave the same.

// The one definition of the lock's states and release reasons: the store, the events, the wire
// schemas and the documents all derive theirs from these lists.
export const LOCK_STATES = ['idle', 'locked', 'idleWarning'] as const;
export type LockState = (typeof LOCK_STATES)[number];
/** The states in which someone holds the lock. */
export const HELD_LOCK_STATES: readonly LockState[] = LOCK_STATES.filter((s) => s !== 'idle');

export const RELEASE_REASONS = ['left', 'idle', 'disconnected', 'takenOver', 'revoked'] as const;
export type ReleaseReason = (typeof RELEASE_REASONS)[number];

/** Why a REPLY was refused: no lock at all, someone else holds it, or the sender's token is old. */
export type ReplyRefusal = 'noLock' | 'notHolder' | 'staleToken';

export interface LockDurations {
  /** Quiet time after the last activity until the "Are you still working?" prompt. */
  idleWarningMs: number;
  /** How long the prompt waits for an answer before the lock goes. */
  releaseAfterWarningMs: number;
  /** How long the lock survives the holder's last connection (a reload must not lose it). */
  disconnectGraceMs: number;
}

export interface LockInput extends LockDurations {
  conversationId: string;
  /** The last fencing token the store knows for this conversation; the first grant issues token + 1. */
  token: number;
}

/** Who holds a lock, as anyone watching may see it. */
export interface LockHolderIdentity {
  userId: string;
  name: string;
}

export interface LockHolder extends LockHolderIdentity {
  /**
   * The holder's connections that have the conversation open: a set, kept as a sorted array of
   * distinct ids so the snapshot survives a JSON round trip.
   */
  connIds: readonly string[];
  lockedAt: number;
  lastActivityAt: number;
}

export interface LockRelease {
  reason: ReleaseReason;
  /** The previous holder. */
  userId: string;
  /** The token the previous holder had; stale from now on. */
  holderToken: number;
  /** The fencing token after the release (holderToken + 1): what the store must now hold. */
  token: number;
  at: number;
}

export interface LockContext {
  conversationId: string;
  durations: LockDurations;
  /** The fencing token: strictly increasing, +1 on every grant and +1 on every release. */
  token: number;
  holder: LockHolder | null;
  /** Absolute deadlines (epoch ms); the timers are derived from them, never the other way round. */
  warnAt: number | null;
  /** Set only while the idle prompt is showing. */
  releaseAt: number | null;
  /** Set only while the holder has no connection left. */
  graceUntil: number | null;
  /**
   * The latest time the machine knows of: the largest `now` it was sent, or the deadline a timer
   * fired for. Time never runs backwards in here, and delays are `deadline - asOf`.
   */
  asOf: number;
  lastRelease: LockRelease | null;
}

export type OpenEvent = { type: 'OPEN'; userId: string; name: string; connId: string; now: number };
/** Typing, focus, scrolling. `connId` is informational: any connection of the holder counts. */
export type ActivityEvent = { type: 'ACTIVITY'; userId: string; connId?: string; now: number };
export type StillWorkingEvent = { type: 'STILL_WORKING'; userId: string; now: number };
/** With `connId`: that tab left (the lock goes when no tab of the holder is left). Without: the user left. */
export type LeaveEvent = { type: 'LEAVE'; userId: string; connId?: string; now: number };
/** A connection closed. Connection ids are unique across users, so no userId is needed. */
export type DisconnectEvent = { type: 'DISCONNECT'; connId: string; now: number };
export type ReconnectEvent = { type: 'RECONNECT'; userId: string; connId: string; now: number };
export type ReplyEvent = { type: 'REPLY'; userId: string; token: number; now: number };
/** Sent by the host only for a user it has authorised to take over (a department admin). */
export type TakeOverEvent = { type: 'TAKE_OVER'; userId: string; name: string; connId: string; now: number };
/** The user lost access to the account, or their session was revoked. */
export type RevokeEvent = { type: 'REVOKE'; userId: string; now: number };
/** Sent by the host right after restoring a persisted snapshot: applies what fell due meanwhile. */
export type ResumeEvent = { type: 'RESUME'; now: number };
/** Sent by the host when the lock's next deadline (nextDeadlineOf) is reached: time has passed. */
export type TickEvent = { type: 'TICK'; now: number };

export type LockEvent =
  | OpenEvent
  | ActivityEvent
  | StillWorkingEvent
  | LeaveEvent
  | DisconnectEvent
  | ReconnectEvent
  | ReplyEvent
  | TakeOverEvent
  | RevokeEvent
  | ResumeEvent
  | TickEvent;

export type LockEmitted =
  /** A new holder; `token` is theirs (always larger than any token before). */
  | { type: 'granted'; userId: string; name: string; token: number; connId: string; at: number }
  /** The holder opened the conversation in one more tab, or came back within the grace: same token. */
  | { type: 'connectionJoined'; userId: string; connId: string; token: number }
  | { type: 'idleWarning'; userId: string; releaseAt: number }
  /** `userId` is the previous holder; `token` the fencing token after the release. */
  | { type: 'released'; reason: ReleaseReason; userId: string; token: number; holderToken: number; at: number }
  | { type: 'replyAccepted'; userId: string; token: number }
  | { type: 'replyRefused'; userId: string; token: number; reason: ReplyRefusal }
  | { type: 'openRefused'; userId: string; holderUserId: string; holderName: string; since: number };
