// The conversation lock's public surface. Everything the host needs is named here; the rest of
// the folder is internal.
//
// Hosting it: stamp every event with the host clock's `now`; listen with `actor.on('*', ...)`;
// persist `JSON.stringify(persistedSnapshot(actor.getSnapshot()))` after each transition and mirror
// `context.token` into the store (compare-and-set). The machine arms no timer: after each
// transition the host (re)arms one for `nextDeadlineOf(actor.getSnapshot())` (none when null) and
// sends `{ type: 'TICK', now: clock.now() }` when it fires. Restoring, on any node:
//   const actor = createActor(conversationLockMachine, { snapshot: restorableSnapshot(JSON.parse(saved)), input });
//   actor.on('*', onEmitted);
//   actor.start();
//   actor.send({ type: 'RESUME', now: clock.now() }); // applies what fell due while nobody ran it
// then arm the timer as after any transition. (`input` is required by the types and ignored when
// a snapshot is given.)

// The machine
export { conversationLockMachine, persistedSnapshot, restorableSnapshot } from './lock.machine.js';
export type { ConversationLockMachine, LockSnapshot, PersistedLockSnapshot } from './lock.machine.js';

// Input, context, events, emitted events
export { LOCK_STATES, HELD_LOCK_STATES, RELEASE_REASONS } from './lock.types.js';
export type {
  LockInput,
  LockDurations,
  LockContext,
  LockHolder,
  LockHolderIdentity,
  LockRelease,
  LockState,
  ReleaseReason,
  ReplyRefusal,
  LockEvent,
  OpenEvent,
  ActivityEvent,
  StillWorkingEvent,
  LeaveEvent,
  DisconnectEvent,
  ReconnectEvent,
  ReplyEvent,
  TakeOverEvent,
  RevokeEvent,
  ResumeEvent,
  TickEvent,
  LockEmitted,
} from './lock.types.js';

// Selectors (pure reads of a live or persisted snapshot)
export {
  lockView,
  publicLockView,
  lockStateOf,
  holderOf,
  isHeldBy,
  currentToken,
  lockTokenFor,
  holderConnectionsOf,
  isInDisconnectGrace,
  deadlinesOf,
  nextDeadlineOf,
  lastReleaseOf,
} from './lock.selectors.js';
export type { LockView, PublicLockView, LockDeadlines, LockSnapshotLike } from './lock.selectors.js';
