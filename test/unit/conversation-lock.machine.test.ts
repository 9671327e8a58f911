import { describe, expect, it } from 'vitest';
import { SimulatedClock, createActor } from 'xstate';
import {
  conversationLockMachine,
  currentToken,
  deadlinesOf,
  holderOf,
  isInDisconnectGrace,
  lastReleaseOf,
  lockTokenFor,
  lockView,
  nextDeadlineOf,
  restorableSnapshot,
} from '../../actors/conversation/index.js';
import type { LockEmitted, LockEvent, LockInput, LockSnapshot } from '../../actors/conversation/index.js';
import { advanceLock } from '../helpers/lock-time.js';

// Every test drives the lock on xstate's SimulatedClock: every event is stamped with its time, and
// moving the clock sends a TICK at each deadline on the way, as the host does, so "exactly 3
// minutes" means exactly, without sleeping.

const T0 = Date.UTC(2026, 0, 5, 15, 0, 0);
const MIN = 60_000;
const SEC = 1_000;

const DEFAULTS: LockInput = {
  conversationId: 'conv-1',
  idleWarningMs: 3 * MIN,
  releaseAfterWarningMs: 60 * SEC,
  disconnectGraceMs: 15 * SEC,
  token: 41,
};

type Unstamped<E> = E extends unknown ? Omit<E, 'now'> : never;
type EmittedOf<T extends LockEmitted['type']> = Extract<LockEmitted, { type: T }>;

const dana = { userId: 'u-dana', name: 'Dana Reyes' };
const sam = { userId: 'u-sam', name: 'Sam Ortiz' };
const admin = { userId: 'u-admin', name: 'Ada Admin' };

function startLock(input: Partial<LockInput> = {}, clock = clockAt(T0)) {
  const actor = createActor(conversationLockMachine, { clock, input: { ...DEFAULTS, ...input } });
  const emitted: LockEmitted[] = [];
  actor.on('*', (e) => emitted.push(e));
  actor.start();
  return harness(actor, clock, emitted);
}

function clockAt(time: number): SimulatedClock {
  const clock = new SimulatedClock();
  clock.set(time);
  return clock;
}

function harness(actor: ReturnType<typeof createActor<typeof conversationLockMachine>>, clock: SimulatedClock, emitted: LockEmitted[]) {
  return {
    actor,
    clock,
    emitted,
    send: (event: Unstamped<LockEvent>) => actor.send({ ...event, now: clock.now() } as LockEvent),
    advance: (ms: number) => advanceLock(actor, clock, ms),
    view: () => lockView(actor.getSnapshot()),
    snapshot: () => actor.getSnapshot(),
    token: () => currentToken(actor.getSnapshot()),
    last: <T extends LockEmitted['type']>(type: T): EmittedOf<T> | undefined =>
      emitted.filter((e): e is EmittedOf<T> => e.type === type).at(-1),
    all: <T extends LockEmitted['type']>(type: T): EmittedOf<T>[] =>
      emitted.filter((e): e is EmittedOf<T> => e.type === type),
  };
}

type Lock = ReturnType<typeof startLock>;

function openedByDana(input: Partial<LockInput> = {}): Lock {
  const lock = startLock(input);
  lock.send({ type: 'OPEN', ...dana, connId: 'dana-tab-1' });
  return lock;
}

/** Persist, JSON round trip, restore on a new clock at the same time, RESUME: what another node does. */
function restoreElsewhere(lock: Lock): Lock {
  const json = JSON.stringify(lock.actor.getPersistedSnapshot());
  lock.actor.stop();
  const clock = clockAt(lock.clock.now());
  // `input` is required by the types but ignored when a snapshot is given: the context (token,
  // durations, deadlines) comes from the snapshot. A different token here proves it.
  const actor = createActor(conversationLockMachine, { clock, snapshot: JSON.parse(json), input: { ...DEFAULTS, token: 0 } });
  const emitted: LockEmitted[] = [];
  actor.on('*', (e) => emitted.push(e));
  actor.start();
  actor.send({ type: 'RESUME', now: clock.now() });
  return harness(actor, clock, emitted);
}

describe('opening a conversation', () => {
  it('locks it for the first user who clicks in, with the next fencing token', () => {
    const lock = openedByDana();
    expect(lock.view()).toEqual({
      conversationId: 'conv-1',
      state: 'locked',
      holder: dana,
      since: T0,
      token: 42,
    });
    expect(lock.emitted).toEqual([{ type: 'granted', ...dana, token: 42, connId: 'dana-tab-1', at: T0 }]);
    expect(lockTokenFor(lock.snapshot(), dana.userId)).toBe(42);
    expect(lock.snapshot().value).toEqual({ held: 'lockedBy' });
    expect(isInDisconnectGrace(lock.snapshot())).toBe(false);
  });

  it('refuses a second user: nothing changes, and the host can say who is responding since when', () => {
    const lock = openedByDana();
    lock.advance(20 * SEC);
    const before = lock.snapshot().context;
    lock.send({ type: 'OPEN', ...sam, connId: 'sam-tab' });
    expect(lock.snapshot().context).toEqual(before);
    expect(lock.last('openRefused')).toEqual({
      type: 'openRefused',
      userId: sam.userId,
      holderUserId: dana.userId,
      holderName: 'Dana Reyes',
      since: T0,
    });
    expect(lock.view()).toMatchObject({ state: 'locked', holder: dana, since: T0 });
    expect(lockTokenFor(lock.snapshot(), sam.userId)).toBeUndefined();
  });

  it('shares one lock and one token between two tabs of the same user', () => {
    const lock = openedByDana();
    lock.advance(5 * SEC);
    lock.send({ type: 'OPEN', ...dana, connId: 'dana-tab-2' });
    expect(lock.token()).toBe(42);
    expect(holderOf(lock.snapshot())?.connIds).toEqual(['dana-tab-1', 'dana-tab-2']);
    expect(lock.all('granted')).toHaveLength(1);
    expect(lock.last('connectionJoined')).toEqual({
      type: 'connectionJoined',
      userId: dana.userId,
      connId: 'dana-tab-2',
      token: 42,
    });
    // Opening in another tab is a click into the conversation: activity.
    expect(deadlinesOf(lock.snapshot())).toEqual({ warnAt: T0 + 5 * SEC + 3 * MIN });
  });

  it('refuses an OPEN from a second user in a two-tab lock just the same', () => {
    const lock = openedByDana();
    lock.send({ type: 'OPEN', ...dana, connId: 'dana-tab-2' });
    lock.send({ type: 'OPEN', ...sam, connId: 'sam-tab' });
    expect(holderOf(lock.snapshot())?.userId).toBe(dana.userId);
    expect(lock.token()).toBe(42);
  });
});

describe('the idle warning', () => {
  it('asks "Are you still working?" exactly idleWarningMs after the last activity', () => {
    const lock = openedByDana();
    lock.advance(3 * MIN - 1);
    expect(lock.view().state).toBe('locked');
    lock.advance(1);
    expect(lock.view()).toMatchObject({ state: 'idleWarning', holder: dana, releaseAt: T0 + 4 * MIN });
    expect(lock.last('idleWarning')).toEqual({ type: 'idleWarning', userId: dana.userId, releaseAt: T0 + 4 * MIN });
    expect(lock.snapshot().value).toEqual({ held: 'idleWarning' });
    expect(isInDisconnectGrace(lock.snapshot())).toBe(false);
  });

  it('releases the lock 60 s after an unanswered idle warning', () => {
    const lock = openedByDana();
    lock.advance(3 * MIN);
    lock.advance(60 * SEC - 1);
    expect(lock.view().state).toBe('idleWarning');
    lock.advance(1);
    expect(lock.view()).toEqual({ conversationId: 'conv-1', state: 'idle', token: 43 });
    expect(lock.last('released')).toEqual({
      type: 'released',
      reason: 'idle',
      userId: dana.userId,
      holderToken: 42,
      token: 43,
      at: T0 + 4 * MIN,
    });
    expect(lastReleaseOf(lock.snapshot())?.reason).toBe('idle');
  });

  it('starts the idle period again from each activity', () => {
    const lock = openedByDana();
    lock.advance(100 * SEC);
    lock.send({ type: 'ACTIVITY', userId: dana.userId, connId: 'dana-tab-1' });
    lock.advance(3 * MIN - 1);
    expect(lock.view().state).toBe('locked');
    lock.advance(1);
    expect(lock.view()).toMatchObject({ state: 'idleWarning', releaseAt: T0 + 100 * SEC + 4 * MIN });
  });

  it('keeps the lock when the holder confirms they are still working, with a fresh idle period', () => {
    const lock = openedByDana();
    lock.advance(3 * MIN + 30 * SEC);
    lock.send({ type: 'STILL_WORKING', userId: dana.userId });
    expect(lock.view()).toEqual({ conversationId: 'conv-1', state: 'locked', holder: dana, since: T0, token: 42 });
    lock.advance(3 * MIN - 1);
    expect(lock.view().state).toBe('locked');
    lock.advance(1);
    expect(lock.view()).toMatchObject({ state: 'idleWarning', releaseAt: T0 + 3 * MIN + 30 * SEC + 4 * MIN });
    expect(lock.all('released')).toHaveLength(0);
  });

  it('also keeps the lock when the holder simply types during the warning', () => {
    const lock = openedByDana();
    lock.advance(3 * MIN + 59 * SEC);
    lock.send({ type: 'ACTIVITY', userId: dana.userId });
    lock.advance(2 * MIN);
    expect(lock.view()).toMatchObject({ state: 'locked', holder: dana, token: 42 });
  });

  it('is not kept alive by the activity of someone who does not hold the lock', () => {
    const lock = openedByDana();
    lock.advance(2 * MIN);
    lock.send({ type: 'ACTIVITY', userId: sam.userId });
    lock.send({ type: 'STILL_WORKING', userId: sam.userId });
    lock.advance(1 * MIN);
    expect(lock.view().state).toBe('idleWarning');
    lock.advance(1 * MIN);
    expect(lock.view().state).toBe('idle');
  });

  it('takes its durations from the input, not from constants', () => {
    const lock = openedByDana({ idleWarningMs: 1_000, releaseAfterWarningMs: 500, disconnectGraceMs: 200 });
    lock.advance(1_000);
    expect(lock.view()).toMatchObject({ state: 'idleWarning', releaseAt: T0 + 1_500 });
    lock.advance(500);
    expect(lock.view().state).toBe('idle');
  });
});

describe('leaving', () => {
  it('releases the lock at once when the holder leaves', () => {
    const lock = openedByDana();
    lock.advance(10 * SEC);
    lock.send({ type: 'LEAVE', userId: dana.userId, connId: 'dana-tab-1' });
    expect(lock.view()).toEqual({ conversationId: 'conv-1', state: 'idle', token: 43 });
    expect(lock.last('released')).toMatchObject({ reason: 'left', userId: dana.userId, token: 43, at: T0 + 10 * SEC });
  });

  it('lets the next user in right after the holder left', () => {
    const lock = openedByDana();
    lock.send({ type: 'LEAVE', userId: dana.userId });
    lock.send({ type: 'OPEN', ...sam, connId: 'sam-tab' });
    expect(lock.view()).toMatchObject({ state: 'locked', holder: sam, token: 44 });
  });

  it('keeps the lock when one of two tabs leaves, and releases it when the last one does', () => {
    const lock = openedByDana();
    lock.send({ type: 'OPEN', ...dana, connId: 'dana-tab-2' });
    lock.send({ type: 'LEAVE', userId: dana.userId, connId: 'dana-tab-1' });
    expect(lock.view()).toMatchObject({ state: 'locked', holder: dana, token: 42 });
    expect(holderOf(lock.snapshot())?.connIds).toEqual(['dana-tab-2']);
    expect(isInDisconnectGrace(lock.snapshot())).toBe(false);
    lock.send({ type: 'LEAVE', userId: dana.userId, connId: 'dana-tab-2' });
    expect(lock.view().state).toBe('idle');
    expect(lock.last('released')?.reason).toBe('left');
  });

  it('releases every tab when the user leaves as a whole (LEAVE without a connection)', () => {
    const lock = openedByDana();
    lock.send({ type: 'OPEN', ...dana, connId: 'dana-tab-2' });
    lock.send({ type: 'LEAVE', userId: dana.userId });
    expect(lock.view().state).toBe('idle');
  });

  it('ignores a LEAVE from someone who does not hold the lock', () => {
    const lock = openedByDana();
    lock.send({ type: 'OPEN', ...dana, connId: 'dana-tab-2' });
    lock.send({ type: 'LEAVE', userId: sam.userId, connId: 'sam-tab' });
    lock.send({ type: 'LEAVE', userId: sam.userId, connId: 'dana-tab-2' });
    lock.send({ type: 'LEAVE', userId: sam.userId });
    expect(holderOf(lock.snapshot())?.connIds).toEqual(['dana-tab-1', 'dana-tab-2']);
    expect(lock.view()).toMatchObject({ state: 'locked', holder: dana, token: 42 });
    expect(lock.all('released')).toHaveLength(0);
  });
});

describe('lost connections', () => {
  it('releases the lock exactly disconnectGraceMs after the holder\'s last connection dropped', () => {
    const lock = openedByDana();
    lock.advance(30 * SEC);
    lock.send({ type: 'DISCONNECT', connId: 'dana-tab-1' });
    expect(isInDisconnectGrace(lock.snapshot())).toBe(true);
    expect(lock.view()).toMatchObject({ state: 'locked', holder: dana });
    expect(lock.snapshot().value).toEqual({ held: 'lockedBy' });
    lock.advance(15 * SEC - 1);
    expect(lock.view().state).toBe('locked');
    lock.advance(1);
    expect(lock.view().state).toBe('idle');
    expect(lock.last('released')).toMatchObject({ reason: 'disconnected', userId: dana.userId, at: T0 + 45 * SEC });
  });

  it('keeps the lock and its token through a page reload within the grace', () => {
    const lock = openedByDana();
    lock.send({ type: 'DISCONNECT', connId: 'dana-tab-1' });
    lock.advance(14 * SEC);
    lock.send({ type: 'RECONNECT', userId: dana.userId, connId: 'dana-tab-1b' });
    lock.advance(10 * SEC);
    expect(lock.view()).toMatchObject({ state: 'locked', holder: dana, token: 42 });
    expect(holderOf(lock.snapshot())?.connIds).toEqual(['dana-tab-1b']);
    expect(isInDisconnectGrace(lock.snapshot())).toBe(false);
    expect(lock.last('connectionJoined')).toMatchObject({ connId: 'dana-tab-1b', token: 42 });
    expect(lock.all('released')).toHaveLength(0);
  });

  it('keeps the lock when the reloaded page opens the conversation again within the grace', () => {
    const lock = openedByDana();
    lock.send({ type: 'DISCONNECT', connId: 'dana-tab-1' });
    lock.advance(5 * SEC);
    lock.send({ type: 'OPEN', ...dana, connId: 'dana-tab-1b' });
    lock.advance(1 * MIN);
    expect(lock.view()).toMatchObject({ state: 'locked', holder: dana, token: 42 });
    expect(lock.all('granted')).toHaveLength(1);
  });

  it('does not start the grace while another tab of the holder is still connected', () => {
    const lock = openedByDana();
    lock.send({ type: 'OPEN', ...dana, connId: 'dana-tab-2' });
    lock.send({ type: 'DISCONNECT', connId: 'dana-tab-1' });
    lock.advance(1 * MIN);
    expect(lock.view()).toMatchObject({ state: 'locked', holder: dana, token: 42 });
    expect(isInDisconnectGrace(lock.snapshot())).toBe(false);
  });

  it('ignores a reconnect by someone who does not hold the lock', () => {
    const lock = openedByDana();
    lock.send({ type: 'DISCONNECT', connId: 'dana-tab-1' });
    lock.send({ type: 'RECONNECT', userId: sam.userId, connId: 'sam-tab' });
    lock.advance(15 * SEC);
    expect(lock.view().state).toBe('idle');
  });

  it('ignores disconnects of connections that are not the holder\'s', () => {
    const lock = openedByDana();
    lock.send({ type: 'DISCONNECT', connId: 'sam-tab' });
    expect(isInDisconnectGrace(lock.snapshot())).toBe(false);
    lock.advance(1 * MIN);
    expect(lock.view().state).toBe('locked');
  });

  it('releases at the end of the grace when the connection drops during the idle warning', () => {
    const lock = openedByDana();
    lock.advance(3 * MIN + 10 * SEC);
    lock.send({ type: 'DISCONNECT', connId: 'dana-tab-1' });
    expect(lock.snapshot().value).toEqual({ held: 'idleWarning' });
    expect(lock.view().state).toBe('idleWarning');
    expect(isInDisconnectGrace(lock.snapshot())).toBe(true);
    lock.advance(15 * SEC - 1);
    expect(lock.view().state).toBe('idleWarning');
    lock.advance(1);
    expect(lock.last('released')).toMatchObject({ reason: 'disconnected', at: T0 + 3 * MIN + 25 * SEC });
  });

  it('releases for idleness when the warning runs out before the grace does', () => {
    const lock = openedByDana();
    lock.advance(3 * MIN + 50 * SEC);
    lock.send({ type: 'DISCONNECT', connId: 'dana-tab-1' });
    lock.advance(10 * SEC);
    expect(lock.last('released')).toMatchObject({ reason: 'idle', at: T0 + 4 * MIN });
  });

  it('warns a disconnected holder whose idle period ends inside the grace, and the grace still counts', () => {
    const lock = openedByDana();
    lock.advance(3 * MIN - 5 * SEC);
    lock.send({ type: 'DISCONNECT', connId: 'dana-tab-1' });
    lock.advance(5 * SEC);
    expect(lock.view().state).toBe('idleWarning');
    lock.advance(10 * SEC - 1);
    expect(lock.view().state).toBe('idleWarning');
    lock.advance(1);
    expect(lock.last('released')).toMatchObject({ reason: 'disconnected', at: T0 + 3 * MIN + 10 * SEC });
  });
});

describe('taking over', () => {
  it('gives the lock to the admin and tells the previous holder why', () => {
    const lock = openedByDana();
    lock.advance(1 * MIN);
    lock.send({ type: 'TAKE_OVER', ...admin, connId: 'admin-tab' });
    expect(lock.view()).toEqual({ conversationId: 'conv-1', state: 'locked', holder: admin, since: T0 + MIN, token: 44 });
    expect(lock.emitted.slice(-2)).toEqual([
      { type: 'released', reason: 'takenOver', userId: dana.userId, holderToken: 42, token: 43, at: T0 + MIN },
      { type: 'granted', ...admin, token: 44, connId: 'admin-tab', at: T0 + MIN },
    ]);
    lock.send({ type: 'REPLY', userId: dana.userId, token: 42 });
    expect(lock.last('replyRefused')).toMatchObject({ userId: dana.userId, token: 42, reason: 'notHolder' });
  });

  it('gives the admin a fresh idle period and no leftover grace', () => {
    const lock = openedByDana();
    lock.send({ type: 'DISCONNECT', connId: 'dana-tab-1' });
    lock.advance(10 * SEC);
    lock.send({ type: 'TAKE_OVER', ...admin, connId: 'admin-tab' });
    lock.advance(1 * MIN);
    expect(lock.view()).toMatchObject({ state: 'locked', holder: admin });
    expect(deadlinesOf(lock.snapshot())).toEqual({ warnAt: T0 + 10 * SEC + 3 * MIN });
  });

  it('simply opens a conversation nobody holds', () => {
    const lock = startLock();
    lock.send({ type: 'TAKE_OVER', ...admin, connId: 'admin-tab' });
    expect(lock.view()).toMatchObject({ state: 'locked', holder: admin, token: 42 });
    expect(lock.all('released')).toHaveLength(0);
  });

  it('by the holder themself only adds the connection, keeping the token', () => {
    const lock = openedByDana();
    lock.send({ type: 'TAKE_OVER', ...dana, connId: 'dana-tab-2' });
    expect(lock.token()).toBe(42);
    expect(holderOf(lock.snapshot())?.connIds).toEqual(['dana-tab-1', 'dana-tab-2']);
    expect(lock.all('released')).toHaveLength(0);
  });
});

describe('revoking access', () => {
  it('releases the lock at once when the holder loses access', () => {
    const lock = openedByDana();
    lock.send({ type: 'OPEN', ...dana, connId: 'dana-tab-2' });
    lock.send({ type: 'REVOKE', userId: dana.userId });
    expect(lock.view()).toEqual({ conversationId: 'conv-1', state: 'idle', token: 43 });
    expect(lock.last('released')).toMatchObject({ reason: 'revoked', userId: dana.userId });
  });

  it('changes nothing when someone who does not hold the lock loses access', () => {
    const lock = openedByDana();
    lock.send({ type: 'REVOKE', userId: sam.userId });
    expect(lock.view()).toMatchObject({ state: 'locked', holder: dana, token: 42 });
  });
});

describe('replies', () => {
  it('accepts a reply from the holder with the current token, and counts it as activity', () => {
    const lock = openedByDana();
    lock.advance(3 * MIN + 5 * SEC);
    lock.send({ type: 'REPLY', userId: dana.userId, token: 42 });
    expect(lock.last('replyAccepted')).toEqual({ type: 'replyAccepted', userId: dana.userId, token: 42 });
    expect(lock.view().state).toBe('locked');
    expect(deadlinesOf(lock.snapshot())).toEqual({ warnAt: T0 + 3 * MIN + 5 * SEC + 3 * MIN });
  });

  it('refuses the holder\'s token when another user sends it', () => {
    const lock = openedByDana();
    lock.send({ type: 'REPLY', userId: sam.userId, token: 42 });
    expect(lock.last('replyRefused')).toEqual({ type: 'replyRefused', userId: sam.userId, token: 42, reason: 'notHolder' });
    expect(lock.all('replyAccepted')).toHaveLength(0);
  });

  it('refuses the holder\'s own reply with a token from an earlier grant', () => {
    const lock = openedByDana();
    lock.send({ type: 'LEAVE', userId: dana.userId });
    lock.send({ type: 'OPEN', ...dana, connId: 'dana-tab-1' });
    expect(lock.token()).toBe(44);
    lock.send({ type: 'REPLY', userId: dana.userId, token: 42 });
    expect(lock.last('replyRefused')).toMatchObject({ token: 42, reason: 'staleToken' });
    lock.send({ type: 'REPLY', userId: dana.userId, token: 43 });
    expect(lock.last('replyRefused')).toMatchObject({ token: 43, reason: 'staleToken' });
    lock.send({ type: 'REPLY', userId: dana.userId, token: 45 });
    expect(lock.last('replyRefused')).toMatchObject({ token: 45, reason: 'staleToken' });
    expect(lock.all('replyAccepted')).toHaveLength(0);
  });

  it('refuses a reply when nobody holds the lock, even with the last holder\'s token', () => {
    const lock = openedByDana();
    lock.send({ type: 'LEAVE', userId: dana.userId });
    lock.send({ type: 'REPLY', userId: dana.userId, token: 42 });
    expect(lock.last('replyRefused')).toMatchObject({ reason: 'noLock' });
  });

  it('refuses a reply stamped after the lock ran out, even if the release timer has not fired yet', () => {
    const lock = openedByDana();
    // The host's timer is late (a busy event loop): the reply arrives stamped after releaseAt.
    lock.actor.send({ type: 'REPLY', userId: dana.userId, token: 42, now: T0 + 4 * MIN + 1 });
    expect(lock.all('replyAccepted')).toHaveLength(0);
    expect(lock.last('replyRefused')).toMatchObject({ reason: 'noLock' });
    expect(lock.last('released')).toMatchObject({ reason: 'idle', at: T0 + 4 * MIN });
    expect(lock.all('idleWarning')).toHaveLength(0);
  });

  it('gives an OPEN stamped after the holder\'s deadline to the newcomer', () => {
    const lock = openedByDana();
    lock.actor.send({ type: 'OPEN', ...sam, connId: 'sam-tab', now: T0 + 5 * MIN });
    expect(lock.view()).toMatchObject({ state: 'locked', holder: sam, since: T0 + 5 * MIN, token: 44 });
  });
});

describe('fencing tokens', () => {
  it('strictly increase over every grant and every release', () => {
    const lock = startLock({ token: 0 });
    lock.send({ type: 'OPEN', ...dana, connId: 'd1' });
    lock.send({ type: 'LEAVE', userId: dana.userId });
    lock.send({ type: 'OPEN', ...sam, connId: 's1' });
    lock.send({ type: 'TAKE_OVER', ...admin, connId: 'a1' });
    lock.advance(4 * MIN);
    lock.send({ type: 'OPEN', ...dana, connId: 'd1' });
    lock.send({ type: 'DISCONNECT', connId: 'd1' });
    lock.advance(15 * SEC);
    lock.send({ type: 'OPEN', ...sam, connId: 's1' });
    lock.send({ type: 'REVOKE', userId: sam.userId });
    const tokens = lock.emitted.flatMap((e) => (e.type === 'granted' || e.type === 'released' ? [e.token] : []));
    expect(tokens).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(lock.token()).toBe(10);
  });

  it('start after the last token the store knows', () => {
    const lock = startLock({ token: 1_000 });
    lock.send({ type: 'OPEN', ...dana, connId: 'd1' });
    expect(lock.last('granted')?.token).toBe(1_001);
  });
});

describe('restoring a persisted snapshot on another node', () => {
  it('releases at exactly the original releaseAt when restored in the middle of the warning', () => {
    const lock = openedByDana();
    lock.advance(3 * MIN + 20 * SEC);
    expect(lock.view()).toMatchObject({ state: 'idleWarning', releaseAt: T0 + 4 * MIN });

    const restored = restoreElsewhere(lock);
    expect(restored.view()).toMatchObject({ state: 'idleWarning', holder: dana, releaseAt: T0 + 4 * MIN, token: 42 });
    restored.advance(40 * SEC - 1);
    expect(restored.view().state).toBe('idleWarning');
    restored.advance(1);
    expect(restored.view()).toMatchObject({ state: 'idle', token: 43 });
    expect(restored.emitted).toEqual([
      { type: 'released', reason: 'idle', userId: dana.userId, holderToken: 42, token: 43, at: T0 + 4 * MIN },
    ]);
  });

  it('restores a snapshot saved when held had parallel regions (attention × presence)', () => {
    const lock = openedByDana();
    lock.advance(3 * MIN + 10 * SEC);
    lock.send({ type: 'DISCONNECT', connId: 'dana-tab-1' });
    // What a node running the earlier shape of the machine saved in this situation.
    const saved = { ...lock.actor.getPersistedSnapshot(), value: { held: { attention: 'idleWarning', presence: 'disconnected' } } };
    lock.actor.stop();
    const clock = clockAt(lock.clock.now());
    const snapshot = restorableSnapshot(JSON.parse(JSON.stringify(saved)) as LockSnapshot);
    const actor = createActor(conversationLockMachine, { clock, snapshot, input: DEFAULTS });
    const emitted: LockEmitted[] = [];
    actor.on('*', (e) => emitted.push(e));
    actor.start();
    actor.send({ type: 'RESUME', now: clock.now() });
    const restored = harness(actor, clock, emitted);
    expect(restored.view()).toMatchObject({ state: 'idleWarning', holder: dana, releaseAt: T0 + 4 * MIN, token: 42 });
    expect(isInDisconnectGrace(restored.snapshot())).toBe(true);
    restored.advance(15 * SEC - 1);
    expect(restored.view().state).toBe('idleWarning');
    restored.advance(1);
    expect(restored.last('released')).toMatchObject({ reason: 'disconnected', at: T0 + 3 * MIN + 25 * SEC });
  });

  it('still lets the holder confirm after a restore in the middle of the warning', () => {
    const lock = openedByDana();
    lock.advance(3 * MIN + 20 * SEC);
    const restored = restoreElsewhere(lock);
    restored.advance(10 * SEC);
    restored.send({ type: 'STILL_WORKING', userId: dana.userId });
    restored.advance(3 * MIN - 1);
    expect(restored.view()).toMatchObject({ state: 'locked', token: 42 });
  });

  it('releases at exactly the original end of the grace when restored in the middle of it', () => {
    const lock = openedByDana();
    lock.advance(1 * MIN);
    lock.send({ type: 'DISCONNECT', connId: 'dana-tab-1' });
    lock.advance(6 * SEC);

    const restored = restoreElsewhere(lock);
    expect(isInDisconnectGrace(restored.snapshot())).toBe(true);
    restored.advance(9 * SEC - 1);
    expect(restored.view().state).toBe('locked');
    restored.advance(1);
    expect(restored.last('released')).toMatchObject({ reason: 'disconnected', at: T0 + 1 * MIN + 15 * SEC });
  });

  it('keeps the lock for a holder who reloads onto the new node within the grace', () => {
    const lock = openedByDana();
    lock.send({ type: 'DISCONNECT', connId: 'dana-tab-1' });
    lock.advance(6 * SEC);
    const restored = restoreElsewhere(lock);
    restored.advance(3 * SEC);
    restored.send({ type: 'RECONNECT', userId: dana.userId, connId: 'dana-tab-1b' });
    restored.advance(1 * MIN);
    expect(restored.view()).toMatchObject({ state: 'locked', holder: dana, token: 42 });
  });

  it('warns at exactly the original warnAt when restored in the middle of the idle period', () => {
    const lock = openedByDana();
    lock.advance(2 * MIN);
    const restored = restoreElsewhere(lock);
    restored.advance(1 * MIN - 1);
    expect(restored.view().state).toBe('locked');
    restored.advance(1);
    expect(restored.last('idleWarning')).toEqual({ type: 'idleWarning', userId: dana.userId, releaseAt: T0 + 4 * MIN });
  });

  it('releases at once when resumed after its deadlines passed while no node hosted it', () => {
    const lock = openedByDana();
    lock.advance(1 * MIN);
    const json = JSON.stringify(lock.actor.getPersistedSnapshot());
    lock.actor.stop();

    const clock = clockAt(T0 + 10 * MIN);
    const restored = createActor(conversationLockMachine, { clock, snapshot: JSON.parse(json), input: DEFAULTS });
    const emitted: LockEmitted[] = [];
    restored.on('*', (e) => emitted.push(e));
    restored.start();
    restored.send({ type: 'RESUME', now: clock.now() });
    expect(lockView(restored.getSnapshot())).toEqual({ conversationId: 'conv-1', state: 'idle', token: 43 });
    // Released for idleness at the deadline itself; nobody is warned about a lock already gone.
    expect(emitted).toEqual([
      { type: 'released', reason: 'idle', userId: dana.userId, holderToken: 42, token: 43, at: T0 + 4 * MIN },
    ]);
  });

  it('does nothing of its own after a restore until the host sends RESUME', () => {
    const lock = openedByDana();
    lock.advance(2 * MIN);
    const json = JSON.stringify(lock.actor.getPersistedSnapshot());
    lock.actor.stop();
    const clock = clockAt(lock.clock.now());
    const restored = createActor(conversationLockMachine, { clock, snapshot: JSON.parse(json), input: DEFAULTS }).start();
    clock.increment(10 * MIN);
    expect(lockView(restored.getSnapshot()).state).toBe('locked');
    restored.send({ type: 'RESUME', now: clock.now() });
    expect(lockView(restored.getSnapshot()).state).toBe('idle');
  });

  it('round-trips the whole context through JSON unchanged', () => {
    const lock = openedByDana();
    lock.send({ type: 'OPEN', ...dana, connId: 'dana-tab-2' });
    lock.advance(3 * MIN);
    const before = lock.snapshot().context;
    const restored = restoreElsewhere(lock);
    expect(restored.snapshot().context).toEqual(before);
  });
});

describe('time as the machine sees it', () => {
  it('never runs backwards: an event stamped in the past cannot move a deadline earlier', () => {
    const lock = openedByDana();
    lock.advance(1 * MIN);
    lock.send({ type: 'ACTIVITY', userId: dana.userId });
    lock.actor.send({ type: 'ACTIVITY', userId: dana.userId, now: T0 });
    expect(deadlinesOf(lock.snapshot())).toEqual({ warnAt: T0 + 1 * MIN + 3 * MIN });
  });

  it('ignores RESUME and stray events while idle', () => {
    const lock = startLock();
    for (const event of [
      { type: 'RESUME' },
      { type: 'ACTIVITY', userId: dana.userId },
      { type: 'STILL_WORKING', userId: dana.userId },
      { type: 'LEAVE', userId: dana.userId },
      { type: 'DISCONNECT', connId: 'x' },
      { type: 'RECONNECT', userId: dana.userId, connId: 'x' },
      { type: 'REVOKE', userId: dana.userId },
    ] as const) {
      lock.send(event);
    }
    expect(lock.view()).toEqual({ conversationId: 'conv-1', state: 'idle', token: 41 });
    expect(lock.emitted).toEqual([]);
  });
});

describe('the host\'s hooks', () => {
  it('lets the host swap a named announcement with .provide(), keeping the lock\'s behaviour', () => {
    const warned: number[] = [];
    const machine = conversationLockMachine.provide({
      actions: { announceIdleWarning: ({ context }) => warned.push(context.releaseAt ?? -1) },
    });
    const clock = clockAt(T0);
    const actor = createActor(machine, { clock, input: DEFAULTS }).start();
    actor.send({ type: 'OPEN', ...dana, connId: 'dana-tab-1', now: clock.now() });
    advanceLock(actor, clock, 3 * MIN);
    expect(warned).toEqual([T0 + 4 * MIN]);
    expect(lockView(actor.getSnapshot()).state).toBe('idleWarning');
  });
});

// A lock takes thousands of commands a second on one node: the work XState does per command (its
// timers, its microsteps, each with a new snapshot) is garbage the node's GC pauses on.
describe('what the lock costs per command', () => {
  it('arms no timer of its own: the host reads its next deadline from the context', () => {
    const clock = clockAt(T0);
    let armed = 0;
    const counting = {
      setTimeout: (fn: (...args: unknown[]) => void, ms: number) => {
        armed++;
        return clock.setTimeout(fn, ms);
      },
      clearTimeout: (handle: unknown) => clock.clearTimeout(handle as never),
    };
    const actor = createActor(conversationLockMachine, { clock: counting, input: DEFAULTS }).start();
    actor.send({ type: 'OPEN', ...dana, connId: 'dana-tab-1', now: clock.now() });
    expect(nextDeadlineOf(actor.getSnapshot())).toBe(T0 + 3 * MIN);
    advanceLock(actor, clock, 3 * MIN + 10 * SEC);
    actor.send({ type: 'DISCONNECT', connId: 'dana-tab-1', now: clock.now() });
    // The release after the warning and the end of the grace are both ahead: the grace comes first.
    expect(deadlinesOf(actor.getSnapshot())).toEqual({ releaseAt: T0 + 4 * MIN, graceUntil: T0 + 3 * MIN + 25 * SEC });
    expect(nextDeadlineOf(actor.getSnapshot())).toBe(T0 + 3 * MIN + 25 * SEC);
    advanceLock(actor, clock, 15 * SEC);
    expect(lockView(actor.getSnapshot()).state).toBe('idle');
    expect(nextDeadlineOf(actor.getSnapshot())).toBeNull();
    expect(armed).toBe(0);
  });

  it('applies on a late TICK what fell due, each at its own time, and nothing on an early one', () => {
    const lock = openedByDana();
    lock.actor.send({ type: 'TICK', now: T0 + 3 * MIN - 1 });
    expect(lock.view().state).toBe('locked');
    expect(lock.emitted.map((e) => e.type)).toEqual(['granted']);
    // Past the warning and the release after it: released at the release deadline, nobody warned.
    lock.actor.send({ type: 'TICK', now: T0 + 5 * MIN });
    expect(lock.view().state).toBe('idle');
    expect(lock.emitted.map((e) => e.type)).toEqual(['granted', 'released']);
    expect(lock.last('released')).toMatchObject({ reason: 'idle', at: T0 + 4 * MIN });
    lock.actor.send({ type: 'TICK', now: T0 + 6 * MIN });
    expect(lock.emitted).toHaveLength(2);
  });

  it('takes one microstep to grant and two to release', () => {
    const actor = createActor(conversationLockMachine, { clock: clockAt(T0), input: DEFAULTS });
    let microsteps = 0;
    actor.system.inspect((e) => {
      if (e.type === '@xstate.microstep') microsteps++;
    });
    actor.start();
    microsteps = 0;
    actor.send({ type: 'OPEN', ...dana, connId: 'dana-tab-1', now: T0 });
    expect(microsteps).toBe(1);
    microsteps = 0;
    actor.send({ type: 'LEAVE', userId: dana.userId, connId: 'dana-tab-1', now: T0 + SEC });
    expect(microsteps).toBe(2);
  });
});
