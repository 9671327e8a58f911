import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SimulatedClock, createActor } from 'xstate';
import { conversationLockMachine, lockView, persistedSnapshot, restorableSnapshot } from '../../actors/conversation/index.js';
import type { LockContext, LockEmitted, LockEvent, LockInput } from '../../actors/conversation/index.js';
import { advanceLock } from '../helpers/lock-time.js';

// Random conversations between three users on five connections, with random pauses and with the
// actor moved to "another node" (persist → JSON → restore → RESUME) at random points. Time moves
// one millisecond at a time on xstate's SimulatedClock, with a TICK at each deadline as the host
// sends it, so every deadline applies at its exact time and the invariants are checked at every
// millisecond, not only after events.

const USERS = ['u0', 'u1', 'u2'] as const;
type UserId = (typeof USERS)[number];
/** Each connection belongs to one user: u0 and u1 have two tabs, u2 one. */
const OWNER: Record<string, UserId> = { c0: 'u0', c1: 'u0', c2: 'u1', c3: 'u1', c4: 'u2' };
const CONNS = Object.keys(OWNER);

type Unstamped<E> = E extends unknown ? Omit<E, 'now'> : never;
type TokenChoice = 'current' | 'previous' | 'next' | number;

type Step =
  | { kind: 'event'; event: Unstamped<Exclude<LockEvent, { type: 'REPLY' }>> }
  | { kind: 'reply'; userId: UserId; token: TokenChoice }
  | { kind: 'advance'; ms: number }
  | { kind: 'restore' };

const user = fc.constantFrom(...USERS);
const conn = fc.constantFrom(...CONNS);
const nameOf = (userId: string) => `Name of ${userId}`;

function ownerOf(connId: string): UserId {
  const owner = OWNER[connId];
  if (owner === undefined) throw new Error(`unknown connection ${connId}`);
  return owner;
}

const send = (event: Extract<Step, { kind: 'event' }>['event']): Step => ({ kind: 'event', event });

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: conn.map((c) => send({ type: 'OPEN', userId: ownerOf(c), name: nameOf(ownerOf(c)), connId: c })) },
  { weight: 3, arbitrary: user.map((u) => send({ type: 'ACTIVITY', userId: u })) },
  { weight: 2, arbitrary: user.map((u) => send({ type: 'STILL_WORKING', userId: u })) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(conn, fc.boolean())
      .map(([c, wholeUser]) =>
        send(wholeUser ? { type: 'LEAVE', userId: ownerOf(c) } : { type: 'LEAVE', userId: ownerOf(c), connId: c }),
      ),
  },
  { weight: 4, arbitrary: conn.map((c) => send({ type: 'DISCONNECT', connId: c })) },
  { weight: 2, arbitrary: conn.map((c) => send({ type: 'RECONNECT', userId: ownerOf(c), connId: c })) },
  {
    weight: 1,
    arbitrary: conn.map((c) => send({ type: 'TAKE_OVER', userId: ownerOf(c), name: nameOf(ownerOf(c)), connId: c })),
  },
  { weight: 1, arbitrary: user.map((u) => send({ type: 'REVOKE', userId: u })) },
  { weight: 1, arbitrary: fc.constant(send({ type: 'RESUME' })) },
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        user,
        fc.oneof(
          { weight: 3, arbitrary: fc.constant<TokenChoice>('current') },
          { weight: 2, arbitrary: fc.constantFrom<TokenChoice>('previous', 'next') },
          { weight: 1, arbitrary: fc.integer({ min: 0, max: 40 }) },
        ),
      )
      .map(([u, token]): Step => ({ kind: 'reply', userId: u, token })),
  },
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 40 }).map((ms): Step => ({ kind: 'advance', ms })) },
  { weight: 1, arbitrary: fc.constant<Step>({ kind: 'restore' }) },
);

const durationsArb = fc.record({
  idleWarningMs: fc.integer({ min: 1, max: 80 }),
  releaseAfterWarningMs: fc.integer({ min: 1, max: 40 }),
  disconnectGraceMs: fc.integer({ min: 1, max: 30 }),
});

const T0 = 1_000_000;

/** One hosted lock that can be moved to another node; `emitted` collects across moves. */
class Host {
  clock = new SimulatedClock();
  actor: ReturnType<typeof createActor<typeof conversationLockMachine>>;
  readonly emitted: LockEmitted[] = [];

  constructor(private readonly input: LockInput) {
    this.clock.set(T0);
    this.actor = this.attach(createActor(conversationLockMachine, { clock: this.clock, input }));
  }

  private attach(actor: ReturnType<typeof createActor<typeof conversationLockMachine>>) {
    actor.on('*', (e) => this.emitted.push(e));
    return actor.start();
  }

  get context(): LockContext {
    return this.actor.getSnapshot().context;
  }

  send(event: LockEvent): void {
    this.actor.send(event);
  }

  /** Saved as the owner saves it (persistedSnapshot) and restored as the next owner restores it. */
  moveToAnotherNode(): void {
    const json = JSON.stringify(persistedSnapshot(this.actor.getSnapshot()));
    this.actor.stop();
    const clock = new SimulatedClock();
    clock.set(this.clock.now());
    this.clock = clock;
    this.actor = this.attach(createActor(conversationLockMachine, { clock, snapshot: restorableSnapshot(JSON.parse(json)), input: this.input }));
    this.actor.send({ type: 'RESUME', now: clock.now() });
  }
}

function stamp(step: Extract<Step, { kind: 'event' | 'reply' }>, context: LockContext, now: number): LockEvent {
  if (step.kind === 'event') return { ...step.event, now } as LockEvent;
  const token =
    step.token === 'current'
      ? context.token
      : step.token === 'previous'
        ? context.token - 1
        : step.token === 'next'
          ? context.token + 1
          : step.token;
  return { type: 'REPLY', userId: step.userId, token, now };
}

function userOf(event: LockEvent): string | undefined {
  return 'userId' in event ? event.userId : undefined;
}

/** Runs the steps, checking the invariants after every event and every simulated millisecond. */
function runChecked(input: LockInput, steps: Step[]): void {
  const host = new Host(input);
  const { idleWarningMs: W, releaseAfterWarningMs: R } = input;
  const lastSentBy = new Map<string, number>();
  let lastGranted = -Infinity;
  let lastIssued = input.token;
  let lastFence = input.token;

  const checkAlways = () => {
    const snapshot = host.actor.getSnapshot();
    const { context } = snapshot;
    const now = host.clock.now();
    // What the owner saves is what XState's own persistence would save, to the byte.
    expect(JSON.stringify(persistedSnapshot(snapshot))).toBe(JSON.stringify(host.actor.getPersistedSnapshot()));
    // The fencing token never goes back.
    expect(context.token).toBeGreaterThanOrEqual(lastFence);
    lastFence = context.token;
    // At most one holder, and the snapshot's state agrees with the context.
    expect(snapshot.value === 'idle').toBe(context.holder === null);
    if (context.holder === null) return;
    // The machine's state names the prompt exactly when the view shows it.
    expect(snapshot.value).toEqual({ held: context.releaseAt === null ? 'lockedBy' : 'idleWarning' });
    const holder = context.holder;
    // All of the holder's connections are theirs, and the holder's token is the current one.
    for (const c of holder.connIds) expect(OWNER[c]).toBe(holder.userId);
    expect(new Set(holder.connIds).size).toBe(holder.connIds.length);
    expect(context.token).toBe(lastGranted);
    // (d) No lock outlives its deadlines. Independently of the machine's own bookkeeping: a
    // holder who sent nothing for W + R has lost the lock.
    const lastWord = lastSentBy.get(holder.userId);
    expect(lastWord).toBeDefined();
    expect(now).toBeLessThan((lastWord ?? -Infinity) + W + R);
    if (context.releaseAt !== null) expect(now).toBeLessThan(context.releaseAt);
    else expect(now).toBeLessThan(context.warnAt ?? -Infinity);
    if (context.graceUntil !== null) {
      expect(holder.connIds).toEqual([]);
      expect(now).toBeLessThan(context.graceUntil);
    }
  };

  const checkEmitted = (from: number, before: LockContext, event?: LockEvent) => {
    for (const e of host.emitted.slice(from)) {
      if (e.type === 'granted') {
        // (c) Tokens in grants strictly increase.
        expect(e.token).toBeGreaterThan(lastGranted);
        lastGranted = e.token;
      }
      if (e.type === 'granted' || e.type === 'released') {
        // ...and so do all tokens issued, releases included: a released holder's token is stale.
        expect(e.token).toBeGreaterThan(lastIssued);
        lastIssued = e.token;
      }
      if (e.type === 'released') expect(e.holderToken).toBeLessThan(e.token);
      if (e.type === 'replyAccepted') {
        // (b) An accepted reply came from the holder with the token that was current.
        expect(event?.type).toBe('REPLY');
        if (event?.type !== 'REPLY') continue;
        expect(before.holder?.userId).toBe(event.userId);
        expect(event.token).toBe(before.token);
        expect(e.token).toBe(before.token);
      }
    }
  };

  for (const step of steps) {
    if (step.kind === 'advance') {
      for (let i = 0; i < step.ms; i++) {
        const from = host.emitted.length;
        const before = host.context;
        advanceLock(host.actor, host.clock, 1);
        checkEmitted(from, before);
        checkAlways();
      }
      continue;
    }
    const from = host.emitted.length;
    const before = host.context;
    if (step.kind === 'restore') {
      host.moveToAnotherNode();
      // Everything survives the move; only the machine's notion of the time may move on.
      expect({ ...host.context, asOf: 0 }).toEqual({ ...before, asOf: 0 });
      expect(host.context.asOf).toBeGreaterThanOrEqual(before.asOf);
      checkEmitted(from, before);
      checkAlways();
      continue;
    }
    const event = stamp(step, before, host.clock.now());
    const sender = userOf(event);
    if (sender !== undefined) lastSentBy.set(sender, event.now);
    host.send(event);
    checkEmitted(from, before, event);
    // (a) Nobody takes a held lock by opening it: the holder and the token stay.
    if (event.type === 'OPEN' && before.holder !== null && before.holder.userId !== event.userId) {
      expect(host.context.holder?.userId).toBe(before.holder.userId);
      expect(host.context.token).toBe(before.token);
    }
    checkAlways();
  }
}

/** Runs the steps on a lock that is never moved and returns everything observable. */
function observe(input: LockInput, steps: Step[], moves: boolean) {
  const host = new Host(input);
  const views: unknown[] = [];
  for (const step of steps) {
    if (step.kind === 'advance') advanceLock(host.actor, host.clock, step.ms);
    else if (step.kind === 'restore') {
      if (moves) host.moveToAnotherNode();
      else host.send({ type: 'RESUME', now: host.clock.now() });
    } else host.send(stamp(step, host.context, host.clock.now()));
    views.push(lockView(host.actor.getSnapshot()));
  }
  return { views, emitted: host.emitted };
}

describe('the conversation lock under random use', () => {
  it('keeps one holder, fences replies, increases tokens and lets no lock outlive its deadlines', () => {
    fc.assert(
      fc.property(
        durationsArb,
        fc.integer({ min: 0, max: 1_000 }),
        fc.array(stepArb, { minLength: 1, maxLength: 80, size: 'medium' }),
        (durations, token, steps) => {
          runChecked({ conversationId: 'conv', token, ...durations }, steps);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('behaves the same whether or not it is moved to another node in between', () => {
    fc.assert(
      fc.property(durationsArb, fc.array(stepArb, { minLength: 1, maxLength: 80, size: 'medium' }), (durations, steps) => {
        // Advance one ms at a time in both runs, so chained timers fire at their exact deadlines.
        const fine = steps.flatMap((s): Step[] =>
          s.kind === 'advance' ? Array.from({ length: s.ms }, () => ({ kind: 'advance', ms: 1 }) as Step) : [s],
        );
        const input: LockInput = { conversationId: 'conv', token: 0, ...durations };
        const moved = observe(input, fine, true);
        const stayed = observe(input, fine, false);
        expect(moved.views).toEqual(stayed.views);
        expect(moved.emitted).toEqual(stayed.emitted);
      }),
      { numRuns: 200 },
    );
  });
});
