import type { LockContext, ReleaseReason } from './lock.types.js';

// Deadlines are data. The machine keeps them as absolute times in its context and asks these
// functions what is due at a given time; timers only tell it that time has passed. That is what
// makes a restored snapshot re-arm exactly, and makes the outcome independent of how late a timer
// fires: an event stamped after a deadline first applies that deadline.

/** What the lock must do at a given time, the earliest expired deadline first; null: nothing. */
export type DueDeadline = 'graceRelease' | 'idleRelease' | 'warning';

/**
 * `at` defaults to what the machine last knew (`asOf`). When both release deadlines have passed,
 * the one that passed first names the reason. A warning whose release is also overdue is skipped:
 * nobody is asked whether they are still working on a lock that is already gone.
 */
export function dueDeadline(context: LockContext, at: number = context.asOf): DueDeadline | null {
  const idleReleaseAt = idleReleaseDeadline(context);
  if (context.holder === null || context.warnAt === null || idleReleaseAt === null) return null;
  const { graceUntil } = context;
  const idleOver = idleReleaseAt <= at;
  if (graceUntil !== null && graceUntil <= at && (!idleOver || graceUntil <= idleReleaseAt)) return 'graceRelease';
  if (idleOver) return 'idleRelease';
  if (context.releaseAt === null && context.warnAt <= at) return 'warning';
  return null;
}

/** When the lock goes for idleness: the warning's releaseAt, or, before the warning, where it will be. */
export function idleReleaseDeadline(context: LockContext): number | null {
  if (context.releaseAt !== null) return context.releaseAt;
  return context.warnAt === null ? null : context.warnAt + context.durations.releaseAfterWarningMs;
}

/**
 * The first deadline still ahead of the lock, whatever it means: the warning (before the prompt),
 * the release after the prompt, the end of the disconnect grace. Null when nobody holds it.
 * Reaching it always makes one of dueDeadline's rules apply.
 */
export function nextDeadline(context: LockContext): number | null {
  if (context.holder === null) return null;
  const idle = context.releaseAt ?? context.warnAt;
  const { graceUntil } = context;
  if (graceUntil === null) return idle;
  return idle === null || graceUntil < idle ? graceUntil : idle;
}

/**
 * The time a release for `reason` happened, noticed at `at` (what the machine knows by default): a
 * deadline's own time, not when it was noticed.
 */
export function releaseTime(context: LockContext, reason: ReleaseReason, at: number = context.asOf): number {
  const deadline =
    reason === 'idle' ? idleReleaseDeadline(context) : reason === 'disconnected' ? context.graceUntil : null;
  return deadline === null ? at : Math.min(deadline, at);
}
