import { nextDeadline } from './lock.deadlines.js';
import type { LockContext, LockHolder, LockHolderIdentity, LockRelease, LockState } from './lock.types.js';

// Pure reads of a lock snapshot. They read only `context`, so they work the same on a live
// snapshot (`actor.getSnapshot()`) and on a persisted one after JSON.parse.

export interface LockSnapshotLike {
  readonly context: LockContext;
}

export interface LockView {
  conversationId: string;
  state: LockState;
  holder?: LockHolderIdentity;
  /** When the holder got the lock. */
  since?: number;
  /** idleWarning only: when the lock goes unless the holder confirms. */
  releaseAt?: number;
  /** The current fencing token. Only the holder's own copy of the view may carry it to a client. */
  token: number;
}

export interface LockDeadlines {
  warnAt?: number;
  releaseAt?: number;
  graceUntil?: number;
}

export function lockStateOf(snapshot: LockSnapshotLike): LockState {
  const { holder, releaseAt } = snapshot.context;
  if (holder === null) return 'idle';
  return releaseAt === null ? 'locked' : 'idleWarning';
}

export function lockView(snapshot: LockSnapshotLike): LockView {
  const { context } = snapshot;
  const state = lockStateOf(snapshot);
  const view: LockView = { conversationId: context.conversationId, state, token: context.token };
  if (context.holder !== null) {
    view.holder = { userId: context.holder.userId, name: context.holder.name };
    view.since = context.holder.lockedAt;
  }
  if (context.releaseAt !== null) view.releaseAt = context.releaseAt;
  return view;
}

/** The view without its token: what anyone watching may see. */
export type PublicLockView = Omit<LockView, 'token'>;

export function publicLockView(snapshot: LockSnapshotLike): PublicLockView {
  const { token: _secret, ...view } = lockView(snapshot);
  return view;
}

export function holderOf(snapshot: LockSnapshotLike): LockHolder | undefined {
  return snapshot.context.holder ?? undefined;
}

export function isHeldBy(snapshot: LockSnapshotLike, userId: string): boolean {
  return snapshot.context.holder?.userId === userId;
}

export function currentToken(snapshot: LockSnapshotLike): number {
  return snapshot.context.token;
}

/** The holder's token when `userId` holds the lock; undefined otherwise. */
export function lockTokenFor(snapshot: LockSnapshotLike, userId: string): number | undefined {
  return isHeldBy(snapshot, userId) ? snapshot.context.token : undefined;
}

/** The connections that should receive the holder's copy (with the token). */
export function holderConnectionsOf(snapshot: LockSnapshotLike): readonly string[] {
  return snapshot.context.holder?.connIds ?? [];
}

/** True while the holder has no connection left and the disconnect grace runs. */
export function isInDisconnectGrace(snapshot: LockSnapshotLike): boolean {
  return snapshot.context.holder !== null && snapshot.context.graceUntil !== null;
}

export function deadlinesOf(snapshot: LockSnapshotLike): LockDeadlines {
  const { holder, warnAt, releaseAt, graceUntil } = snapshot.context;
  const deadlines: LockDeadlines = {};
  if (holder === null) return deadlines;
  if (warnAt !== null && releaseAt === null) deadlines.warnAt = warnAt;
  if (releaseAt !== null) deadlines.releaseAt = releaseAt;
  if (graceUntil !== null) deadlines.graceUntil = graceUntil;
  return deadlines;
}

/**
 * When the host must next send TICK: the first deadline still ahead (the warning, the release
 * after it, the end of the disconnect grace), whichever it is. Null: nothing is due, ever.
 */
export function nextDeadlineOf(snapshot: LockSnapshotLike): number | null {
  return nextDeadline(snapshot.context);
}

/** The most recent release (reason, previous holder, tokens), e.g. to tell a taken-over holder why. */
export function lastReleaseOf(snapshot: LockSnapshotLike): LockRelease | undefined {
  return snapshot.context.lastRelease ?? undefined;
}
