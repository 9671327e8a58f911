import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/logger.js';
import { AppError } from '../../src/errors.js';
import { ActorHost, type ActorBehavior } from '../../src/actors-runtime/actor-host.js';
import { CounterBehavior } from '../contract/actor-ref.contract.js';
import { LocalActorRef } from '../../src/actors-runtime/actor-ref.js';
import type { LockCommand, LockReply } from '../../src/locks/lock-commands.js';
import type { AccountLockView } from '../../src/locks/lock-view.js';

// The actor runtime between the lock service and the lock actors: a generic host (it knows
// nothing of locks: a counter runs on it here) and an actor reference whose commands and replies
// are plain data, so the same calls can cross to another node.

const roundTrip = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

describe('lock commands and replies', () => {
  const view: AccountLockView = {
    conversationId: 'c1',
    accountId: 'a1',
    state: 'idleWarning',
    holder: { userId: 'u1', name: 'Dana' },
    since: 1_767_600_000_000,
    releaseAt: 1_767_600_240_000,
  };
  // One of each kind; the Record types make the compiler insist on every kind.
  const commands: Record<LockCommand['type'], LockCommand> = {
    open: { type: 'open', userId: 'u1', name: 'Dana', connId: 'k1' },
    takeOver: { type: 'takeOver', userId: 'u2', name: 'Ari', connId: 'k2' },
    activity: { type: 'activity', userId: 'u1', connId: 'k1' },
    stillWorking: { type: 'stillWorking', userId: 'u1' },
    leave: { type: 'leave', userId: 'u1', connId: 'k1' },
    disconnect: { type: 'disconnect', connId: 'k1' },
    revoke: { type: 'revoke', userId: 'u1', onlyThrough: ['k1', 'k3'] },
    recover: { type: 'recover' },
    reply: { type: 'reply', userId: 'u1', lockToken: 7 },
  };
  const replies: Record<LockReply['type'], LockReply> = {
    lock: { type: 'lock', view, lockToken: 7 },
    replyAccepted: { type: 'replyAccepted', fence: { conversationId: 'c1', ownerEpoch: 3, lockToken: 3 * 2 ** 24 + 1 } },
    replyRefused: { type: 'replyRefused', view: { conversationId: 'c1', accountId: 'a1', state: 'idle' } },
    done: { type: 'done' },
  };

  it('every command survives a JSON round trip unchanged', () => {
    for (const c of Object.values(commands)) expect(roundTrip(c)).toStrictEqual(c);
  });

  it('every reply survives a JSON round trip unchanged', () => {
    for (const r of Object.values(replies)) expect(roundTrip(r)).toStrictEqual(r);
  });
});

describe('the generic actor host behind an in-process actor reference', () => {
  const setup = () => {
    const clock = new ManualClock();
    // A counter: the smallest actor that shows the host is generic.
    const behavior = new CounterBehavior('local', { idle: true });
    const host = new ActorHost(behavior, { clock, log: silentLogger, passivateAfterMs: 1_000 });
    return { clock, behavior, host, ref: new LocalActorRef(host) };
  };
  /** Whether actor `x` is still active once `ms` more have passed and the host's work is done. */
  const activeAfter = async (clock: ManualClock, host: ActorHost<never, unknown>, ms: number): Promise<boolean> => {
    clock.advance(ms);
    await host.settled();
    return host.isActive('x');
  };

  it('runs the commands of one actor one at a time, in order', async () => {
    const { ref, behavior } = setup();
    const totals = await Promise.all([1, 2, 3, 4].map((add) => ref.ask('x', { add })));
    expect(totals.map((t) => t.total)).toEqual([1, 3, 6, 10]);
    expect(behavior.activations).toBe(1);
  });

  it('carries the actor’s typed errors back to the caller', async () => {
    const { ref } = setup();
    const error = await ref.ask('x', { fail: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'conflict', message: 'counter refuses' });
  });

  it('hands commands and replies over in process without encoding them', async () => {
    const { ref } = setup();
    await ref.ask('x', { add: 1 }); // activated: what follows is one command's path
    const stringify = vi.spyOn(JSON, 'stringify');
    const parse = vi.spyOn(JSON, 'parse');
    try {
      expect(await ref.ask('x', { add: 2 })).toEqual({ total: 3, node: 'local' });
      expect(stringify).not.toHaveBeenCalled();
      expect(parse).not.toHaveBeenCalled();
    } finally {
      stringify.mockRestore();
      parse.mockRestore();
    }
  });

  it('keeps no reply once its command is done (a busy actor would carry each one into the old generation)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const { ref } = setup();
    await ref.ask('x', { add: 1 });
    let reply: object | undefined = await ref.ask('x', { add: 2 });
    const kept = new WeakRef(reply);
    reply = undefined;
    // WeakRef targets stay alive until the current job ends.
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    expect(kept.deref()).toBeUndefined();
  });

  it('refuses to compile a reference for commands or replies that are not plain data', () => {
    const hostOf = <C, R>(): ActorHost<C, R> => setup().host as unknown as ActorHost<C, R>;
    // Plain data, optional fields included, is accepted.
    expect(new LocalActorRef(hostOf<{ type: 'a'; ids?: string[]; at: number | null }, { view: { holder?: { name: string } } }>())).toBeInstanceOf(LocalActorRef);
    // @ts-expect-error a Date does not survive the wire (it arrives as a string)
    new LocalActorRef(hostOf<{ at: Date }, { total: number }>());
    // @ts-expect-error nor does a Map (it arrives as {})
    new LocalActorRef(hostOf<{ add: number }, { seen: Map<string, number> }>());
    // @ts-expect-error nor a function
    new LocalActorRef(hostOf<{ done: () => void }, { total: number }>());
    // @ts-expect-error nor undefined in an array (it arrives as null)
    new LocalActorRef(hostOf<{ ids: Array<string | undefined> }, { total: number }>());
    // @ts-expect-error nor a bigint (JSON refuses it)
    new LocalActorRef(hostOf<{ n: bigint }, { total: number }>());
  });

  it('passivates an idle actor after passivateAfterMs and activates it afresh on next use', async () => {
    const { ref, host, clock, behavior } = setup();
    await ref.ask('x', { add: 5 });
    expect(await activeAfter(clock, host, 999)).toBe(true);
    expect(await activeAfter(clock, host, 1)).toBe(false);
    expect(await ref.ask('x', { add: 1 })).toMatchObject({ total: 1 });
    expect(behavior.activations).toBe(2);
  });

  it('activates an actor afresh only once its previous activation has stopped (its last writes done)', async () => {
    // A lock saves behind: read from the store while the stopped activation's last save is still
    // on its way, the next activation would restore an older state.
    const clock = new ManualClock();
    const events: string[] = [];
    let finishStop!: () => void;
    const behavior: ActorBehavior<{ add: number }, { n: number }> = {
      activate: async () => {
        events.push('activate');
        return {
          receive: async (c) => ({ n: c.add }),
          isIdle: () => true,
          settled: async () => undefined,
          stop: () => {
            events.push('stopping');
            return new Promise<void>((resolve) => (finishStop = () => (events.push('stopped'), resolve())));
          },
        };
      },
    };
    const host = new ActorHost(behavior, { clock, log: silentLogger, passivateAfterMs: 1_000 });
    const ref = new LocalActorRef(host);
    await ref.ask('x', { add: 1 });
    clock.advance(1_000);
    await Promise.resolve();
    expect(events).toEqual(['activate', 'stopping']);
    const next = ref.ask('x', { add: 2 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(events).toEqual(['activate', 'stopping']);
    finishStop();
    expect(await next).toEqual({ n: 2 });
    expect(events).toEqual(['activate', 'stopping', 'stopped', 'activate']);
  });

  it('arms one passivation timer for an actor in use many times a second, and passivates it passivateAfterMs after it last became idle', async () => {
    const clock = new ManualClock();
    // Busy while its total is odd (a lock held between an open and a leave), idle when even.
    let total = 0;
    const host = new ActorHost<{ add: number }, { total: number }>(
      {
        activate: async () => ({
          receive: (c) => ({ total: (total += c.add) }),
          isIdle: () => total % 2 === 0,
          settled: async () => undefined,
          stop: () => undefined,
        }),
      },
      { clock, log: silentLogger, passivateAfterMs: 1_000 },
    );
    const ref = new LocalActorRef(host);
    const timers = vi.spyOn(clock, 'setTimeout');
    for (let i = 0; i < 20; i++) {
      await ref.ask('x', { add: 1 });
      clock.advance(10);
    }
    expect(timers).toHaveBeenCalledTimes(1); // armed when it first became idle, at 10 ms
    // Idle since its last command (at 190 ms): the timer due at 1,010 ms waits out the rest.
    expect(await activeAfter(clock, host, 1_000 - 200 + 190 - 1)).toBe(true);
    expect(await activeAfter(clock, host, 1)).toBe(false);
    // Busy when its timer fires: left alone, and passivated once idle for passivateAfterMs again.
    await ref.ask('x', { add: 2 });
    clock.advance(500);
    await ref.ask('x', { add: 1 });
    expect(await activeAfter(clock, host, 5_000)).toBe(true);
    await ref.ask('x', { add: 1 });
    expect(await activeAfter(clock, host, 999)).toBe(true);
    expect(await activeAfter(clock, host, 1)).toBe(false);
  });
});
