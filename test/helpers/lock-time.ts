import type { Actor, SimulatedClock } from 'xstate';
import { nextDeadlineOf, type ConversationLockMachine } from '../../actors/conversation/index.js';

/**
 * Moves simulated time on by `ms` as a lock's host does: the lock arms no timer of its own, so a
 * TICK goes to it at each deadline it reaches on the way (nextDeadlineOf), at exactly that time.
 */
export function advanceLock(actor: Actor<ConversationLockMachine>, clock: SimulatedClock, ms: number): void {
  const target = clock.now() + ms;
  for (;;) {
    const next = nextDeadlineOf(actor.getSnapshot());
    if (next === null || next > target) break;
    if (next > clock.now()) clock.increment(next - clock.now());
    actor.send({ type: 'TICK', now: clock.now() });
    // Reaching a deadline always applies it (nextDeadline's promise): a deadline that stays put
    // would be a lock that never releases.
    if (nextDeadlineOf(actor.getSnapshot()) === next) throw new Error(`the lock did not act on its deadline ${next}`);
  }
  if (target > clock.now()) clock.increment(target - clock.now());
}
