import { assign, emit, raise, setup } from 'xstate';
import type { SnapshotFrom } from 'xstate';
import { dueDeadline, releaseTime } from './lock.deadlines.js';
import type {
  LockContext,
  LockEmitted,
  LockEvent,
  LockHolder,
  LockInput,
  LockRelease,
  OpenEvent,
  ReleaseReason,
  ReplyRefusal,
  TakeOverEvent,
} from './lock.types.js';

// The conversation lock: one actor per group-account conversation. Pure: it reads no clock (every
// event carries the host's `now`), does no I/O, and announces everything through emitted events.
//
// Shape:
//   idle ──OPEN/TAKE_OVER──▶ held ──LEAVE/REVOKE/deadline──▶ released ──(always)──▶ idle
//   held is lockedBy (the holder is working) or idleWarning ("Are you still working?" shows, with
//   releaseAt): the warning deadline moves it to idleWarning, the holder's activity back to
//   lockedBy. Whether the holder is connected (graceUntil) is context only: no transition depends
//   on it but the grace deadline's. Every state node and microstep costs XState work and garbage on
//   every command (its entry and exit sets, a snapshot per microstep), and a lock takes thousands
//   of commands a second, so the machine has no parallel regions and no routing steps.
//
// Time: XState does not persist pending `after` timers (statelyai/xstate#5331), and a timer per
// lock per grant is garbage on a node that runs thousands of locks, so the machine arms none. The
// deadlines live in context (warnAt, releaseAt, graceUntil); the host keeps one timer for the
// earliest of them (nextDeadlineOf) and sends TICK when it is reached. A TICK only tells the
// machine the time: the catch-up below applies whatever deadline it has passed, and the `always`
// rules on `held` decide what that means (warn, release for idleness, release after the
// disconnect grace). A restored snapshot needs nothing re-armed: the host reads the next deadline
// from it like from any other.
//
// Catch-up: every event that reaches `held` first asks whether a deadline has passed by the event's
// own `now` (a TICK, a late one, or events before RESUME). If so the machine applies that deadline
// and redelivers the event, so what happens depends only on the events and their times, never on
// when a timer happened to fire.

function requireHolder(context: LockContext): LockHolder {
  if (context.holder === null) throw new Error('conversation lock: no holder where one is guaranteed');
  return context.holder;
}

function requireLastRelease(context: LockContext): LockRelease {
  if (context.lastRelease === null) throw new Error('conversation lock: no release where one is guaranteed');
  return context.lastRelease;
}

function isHolderUser(context: LockContext, userId: string): boolean {
  return context.holder !== null && context.holder.userId === userId;
}

function withConnection(connIds: readonly string[], connId: string): string[] {
  return [...new Set([...connIds, connId])].sort();
}

function withoutConnection(connIds: readonly string[], connId: string | undefined): string[] {
  return connIds.filter((id) => id !== connId);
}

function replyRefusal(context: LockContext, userId: string): ReplyRefusal {
  if (context.holder === null) return 'noLock';
  return context.holder.userId === userId ? 'staleToken' : 'notHolder';
}

// Transition pieces shared by several events; the machine config below type-checks them in place.
type Entering = { event: OpenEvent | TakeOverEvent };

/** First candidate for every event in `held`: apply a deadline the event's time has passed, then redeliver. */
const catchUp = { guard: 'isOverdueAtEventTime', actions: ['observeEventTime', 'redeliver'] } as const;

const grantToSender = [
  { type: 'grant', params: ({ event }: Entering) => ({ userId: event.userId, name: event.name, connId: event.connId }) },
  { type: 'announceGrant', params: ({ event }: Entering) => ({ connId: event.connId }) },
] as const;

/** Typing, focus, a confirmed prompt: a fresh idle period from now (back from the warning, if shown). */
const keepAlive = { guard: 'isHolder', target: '.lockedBy', actions: ['recordActivity'] } as const;

/** The holder in another tab (or back after a reload): same lock, same token; opening is activity. */
const joinAsHolder = {
  guard: 'isHolder',
  target: '.lockedBy',
  actions: [
    { type: 'join', params: ({ event }: Entering) => ({ connId: event.connId }) },
    { type: 'announceJoin', params: ({ event }: Entering) => ({ connId: event.connId }) },
  ],
} as const;

// The context updates. Each transition makes at most one assignment, because XState copies the
// whole snapshot (its state value, its tags, its context) for every `assign` it runs: a step that
// observes the event's time, then grants, then records activity would make three copies where one
// does. So every assignment an event triggers first takes the event's time (timeOf) and does all
// of that transition's updates at once; the deadline rules (`always`) assign at the time the
// machine already knows, which the event that led to them has set.

/** The machine's time once it has seen `event`: never earlier than it already knew (a late TICK). */
function timeOf(context: LockContext, event: LockEvent): number {
  return Math.max(context.asOf, event.now);
}

function granted(context: LockContext, asOf: number, to: { userId: string; name: string; connId: string }): Partial<LockContext> {
  return {
    asOf,
    token: context.token + 1,
    holder: { userId: to.userId, name: to.name, connIds: [to.connId], lockedAt: asOf, lastActivityAt: asOf },
    warnAt: asOf + context.durations.idleWarningMs,
    releaseAt: null,
    graceUntil: null,
  };
}

/** A fresh idle period from `asOf`, the holder's connections being `connIds`. */
function active(context: LockContext, asOf: number, connIds: readonly string[] = requireHolder(context).connIds): Partial<LockContext> {
  return {
    asOf,
    holder: { ...requireHolder(context), connIds, lastActivityAt: asOf },
    warnAt: asOf + context.durations.idleWarningMs,
    releaseAt: null,
  };
}

function released(context: LockContext, asOf: number, reason: ReleaseReason): Partial<LockContext> & { token: number } {
  const token = context.token + 1;
  return {
    asOf,
    token,
    holder: null,
    warnAt: null,
    releaseAt: null,
    graceUntil: null,
    lastRelease: { reason, userId: requireHolder(context).userId, holderToken: context.token, token, at: releaseTime(context, reason, asOf) },
  };
}

export const conversationLockMachine = setup({
  types: {
    context: {} as LockContext,
    events: {} as LockEvent,
    input: {} as LockInput,
    emitted: {} as LockEmitted,
  },
  guards: {
    isHolder: ({ context, event }) => 'userId' in event && isHolderUser(context, event.userId),
    repliesWithCurrentToken: ({ context, event }) =>
      event.type === 'REPLY' && isHolderUser(context, event.userId) && event.token === context.token,
    /** DISCONNECT of one of the holder's connections, or the holder's LEAVE from one of them. */
    isHoldersConnection: ({ context, event }) =>
      (event.type === 'DISCONNECT' || (event.type === 'LEAVE' && isHolderUser(context, event.userId))) &&
      event.connId !== undefined &&
      context.holder !== null &&
      context.holder.connIds.includes(event.connId),
    /** The holder leaves from their last tab, or leaves as a user (no connId). */
    leavesLastConnection: ({ context, event }) =>
      event.type === 'LEAVE' &&
      isHolderUser(context, event.userId) &&
      (event.connId === undefined || withoutConnection(requireHolder(context).connIds, event.connId).length === 0),
    isOverdueAtEventTime: ({ context, event }) => dueDeadline(context, Math.max(context.asOf, event.now)) !== null,
    isGraceOver: ({ context }) => dueDeadline(context) === 'graceRelease',
    isIdleOver: ({ context }) => dueDeadline(context) === 'idleRelease',
    isWarningDue: ({ context }) => dueDeadline(context) === 'warning',
  },
  actions: {
    observeEventTime: assign(({ context, event }) => ({ asOf: timeOf(context, event) })),
    grant: assign(({ context, event }, params: { userId: string; name: string; connId: string }) =>
      granted(context, timeOf(context, event), params),
    ),
    recordActivity: assign(({ context, event }) => active(context, timeOf(context, event))),
    /** Another of the holder's tabs: one more connection, and opening it is activity. */
    join: assign(({ context, event }, params: { connId: string }) => ({
      ...active(context, timeOf(context, event), withConnection(requireHolder(context).connIds, params.connId)),
      graceUntil: null,
    })),
    addConnection: assign(({ context, event }, params: { connId: string }) => {
      const holder = requireHolder(context);
      return { asOf: timeOf(context, event), holder: { ...holder, connIds: withConnection(holder.connIds, params.connId) }, graceUntil: null };
    }),
    dropConnection: assign(({ context, event }, params: { connId: string | undefined }) => {
      const asOf = timeOf(context, event);
      const connIds = withoutConnection(requireHolder(context).connIds, params.connId);
      return {
        asOf,
        holder: { ...requireHolder(context), connIds },
        // The last connection gone: a reload comes back within the grace, a closed tab does not.
        graceUntil: connIds.length === 0 ? asOf + context.durations.disconnectGraceMs : null,
      };
    }),
    // The next deadline follows from the one that expired, not from whenever the timer ran.
    startWarning: assign(({ context }) => ({
      releaseAt: (context.warnAt ?? context.asOf) + context.durations.releaseAfterWarningMs,
    })),
    /** A person's release (leave, revoke): at the event's time. */
    release: assign(({ context, event }, params: { reason: ReleaseReason }) => released(context, timeOf(context, event), params.reason)),
    /** A deadline's release: at the time the machine knows, the deadline's own time recorded (releaseTime). */
    releaseForDeadline: assign(({ context }, params: { reason: ReleaseReason }) => released(context, context.asOf, params.reason)),
    /** Release and grant in one step, so nobody can slip in between. */
    takeOver: assign(({ context, event }, params: { userId: string; name: string; connId: string }) => {
      const asOf = timeOf(context, event);
      const release = released(context, asOf, 'takenOver');
      return { ...release, ...granted({ ...context, token: release.token }, asOf, params) };
    }),
    // Hands the event back to the machine after a catch-up, to be judged in the state it led to.
    redeliver: raise(({ event }) => event),
    announceGrant: emit(({ context }, params: { connId: string }) => {
      const holder = requireHolder(context);
      return {
        type: 'granted' as const,
        userId: holder.userId,
        name: holder.name,
        token: context.token,
        connId: params.connId,
        at: holder.lockedAt,
      };
    }),
    announceJoin: emit(({ context }, params: { connId: string }) => ({
      type: 'connectionJoined' as const,
      userId: requireHolder(context).userId,
      connId: params.connId,
      token: context.token,
    })),
    announceIdleWarning: emit(({ context }) => ({
      type: 'idleWarning' as const,
      userId: requireHolder(context).userId,
      releaseAt: context.releaseAt ?? context.asOf,
    })),
    announceRelease: emit(({ context }) => ({ type: 'released' as const, ...requireLastRelease(context) })),
    announceReplyAccepted: emit(({ context }, params: { userId: string }) => ({
      type: 'replyAccepted' as const,
      userId: params.userId,
      token: context.token,
    })),
    announceReplyRefused: emit(({ context }, params: { userId: string; token: number }) => ({
      type: 'replyRefused' as const,
      userId: params.userId,
      token: params.token,
      reason: replyRefusal(context, params.userId),
    })),
    announceOpenRefused: emit(({ context }, params: { userId: string }) => {
      const holder = requireHolder(context);
      return {
        type: 'openRefused' as const,
        userId: params.userId,
        holderUserId: holder.userId,
        holderName: holder.name,
        since: holder.lockedAt,
      };
    }),
  },
}).createMachine({
  id: 'conversationLock',
  context: ({ input }) => ({
    conversationId: input.conversationId,
    durations: {
      idleWarningMs: input.idleWarningMs,
      releaseAfterWarningMs: input.releaseAfterWarningMs,
      disconnectGraceMs: input.disconnectGraceMs,
    },
    token: input.token,
    holder: null,
    warnAt: null,
    releaseAt: null,
    graceUntil: null,
    asOf: 0,
    lastRelease: null,
  }),
  initial: 'idle',
  states: {
    idle: {
      on: {
        OPEN: { target: 'held', actions: grantToSender },
        // Taking over a free conversation is simply opening it.
        TAKE_OVER: { target: 'held', actions: grantToSender },
        REPLY: {
          actions: { type: 'announceReplyRefused', params: ({ event }) => ({ userId: event.userId, token: event.token }) },
        },
      },
    },

    held: {
      // The deadline rules, checked after every step. Order matters only when two deadlines are
      // overdue at once (a catch-up); dueDeadline() already picks the one that passed first.
      always: [
        {
          guard: 'isGraceOver',
          target: 'released',
          actions: [{ type: 'releaseForDeadline', params: { reason: 'disconnected' } }, 'announceRelease'],
        },
        {
          guard: 'isIdleOver',
          target: 'released',
          actions: [{ type: 'releaseForDeadline', params: { reason: 'idle' } }, 'announceRelease'],
        },
        { guard: 'isWarningDue', target: '.idleWarning', actions: ['startWarning', 'announceIdleWarning'] },
      ],
      initial: 'lockedBy',
      states: {
        lockedBy: {},
        idleWarning: {},
      },
      on: {
        OPEN: [
          catchUp,
          joinAsHolder,
          // Someone else: refused, nothing changes; the host reads who holds it since when.
          { actions: { type: 'announceOpenRefused', params: ({ event }) => ({ userId: event.userId }) } },
        ],
        TAKE_OVER: [
          catchUp,
          joinAsHolder,
          // Release and grant in one step, so nobody can slip in between.
          {
            target: '.lockedBy',
            actions: [
              { type: 'takeOver', params: ({ event }) => ({ userId: event.userId, name: event.name, connId: event.connId }) },
              'announceRelease',
              { type: 'announceGrant', params: ({ event }) => ({ connId: event.connId }) },
            ],
          },
        ],
        ACTIVITY: [catchUp, keepAlive],
        STILL_WORKING: [catchUp, keepAlive],
        LEAVE: [
          catchUp,
          {
            guard: 'leavesLastConnection',
            target: 'released',
            actions: [{ type: 'release', params: { reason: 'left' } }, 'announceRelease'],
          },
          // One of several tabs left: the others keep the lock.
          {
            guard: 'isHoldersConnection',
            actions: { type: 'dropConnection', params: ({ event }) => ({ connId: event.connId }) },
          },
        ],
        DISCONNECT: [
          catchUp,
          {
            guard: 'isHoldersConnection',
            actions: { type: 'dropConnection', params: ({ event }) => ({ connId: event.connId }) },
          },
        ],
        RECONNECT: [
          catchUp,
          {
            guard: 'isHolder',
            actions: [
              { type: 'addConnection', params: ({ event }) => ({ connId: event.connId }) },
              { type: 'announceJoin', params: ({ event }) => ({ connId: event.connId }) },
            ],
          },
        ],
        REPLY: [
          catchUp,
          {
            guard: 'repliesWithCurrentToken',
            target: '.lockedBy',
            actions: [
              'recordActivity',
              { type: 'announceReplyAccepted', params: ({ event }) => ({ userId: event.userId }) },
            ],
          },
          {
            actions: { type: 'announceReplyRefused', params: ({ event }) => ({ userId: event.userId, token: event.token }) },
          },
        ],
        REVOKE: [
          catchUp,
          {
            guard: 'isHolder',
            target: 'released',
            actions: [{ type: 'release', params: { reason: 'revoked' } }, 'announceRelease'],
          },
        ],
        RESUME: [catchUp, { actions: 'observeEventTime' }],
        // Time has passed: the catch-up applies what is due; nothing else happens.
        TICK: [catchUp],
      },
    },

    // Transient: the release is recorded in context.lastRelease and announced; back to idle at once.
    released: { always: { target: 'idle' } },
  },
});

export type ConversationLockMachine = typeof conversationLockMachine;
export type LockSnapshot = SnapshotFrom<ConversationLockMachine>;

/**
 * A persisted snapshot in this machine's shape, to restore. The state follows from the context
 * (held while someone holds the lock, in idleWarning while the prompt's releaseAt is set;
 * `released` is never at rest), so a snapshot saved while `held` had parallel regions
 * (attention × presence), or no substates, restores as the same lock.
 */
export function restorableSnapshot(saved: LockSnapshot): LockSnapshot {
  const { holder, releaseAt } = saved.context;
  return { ...saved, value: holder === null ? 'idle' : { held: releaseAt === null ? 'lockedBy' : 'idleWarning' } } as LockSnapshot;
}

/** A lock snapshot as it is saved: what `actor.getPersistedSnapshot()` gives for this machine. */
export interface PersistedLockSnapshot {
  status: LockSnapshot['status'];
  output: LockSnapshot['output'];
  error: unknown;
  value: LockSnapshot['value'];
  historyValue: Record<string, never>;
  context: LockSnapshot['context'];
  children: Record<string, never>;
}

/**
 * The snapshot to save, built directly. This machine has no child actors, no history states and
 * no actor references in its context, so what XState's generic `getPersistedSnapshot` makes of a
 * snapshot is its status, value and context, keys in this order. The generic version copies the
 * snapshot with object rest and spread on every lock command, and at 2,000 commands a second that
 * copy left about 300 bytes per command for the old generation (test/bench/README.md, "Where the
 * promoted bytes come from"). `conversation-lock.property.test.ts` holds the two equal, byte for
 * byte, in every state the machine reaches.
 */
export function persistedSnapshot(s: LockSnapshot): PersistedLockSnapshot {
  return { status: s.status, output: s.output, error: s.error, value: s.value, historyValue: {}, context: s.context, children: {} };
}
