import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import type { ActorBehavior, ActorHost, ActorSelf, HostedActor } from '../../src/actors-runtime/actor-host.js';

// The one contract of the actor reference (src/actors-runtime/actor-ref.ts): in process, and
// between the nodes of a cluster over NATS. The actor is a counter (the host is generic); every
// node has its own host, and the reference must make the nodes behave as one: one activation per
// actor, its commands one at a time, typed errors carried back, and an actor whose node stops
// owning it served elsewhere.

export type CounterCommand = { add: number } | { fail: true };
export type CounterReply = { total: number; node: string };

/** A counter that says which node runs it; `idle`: it may be passivated (and forgets its total). */
export class CounterBehavior implements ActorBehavior<CounterCommand, CounterReply> {
  activations = 0;
  constructor(
    private readonly node: string,
    private readonly o: { idle?: boolean } = {},
  ) {}
  async activate(self: ActorSelf): Promise<HostedActor<CounterCommand, CounterReply>> {
    if (!self.owned()) throw new Error('activated without owning the actor');
    this.activations++;
    let total = 0;
    return {
      receive: async (c) => {
        if ('fail' in c) throw new AppError('conflict', 'counter refuses');
        const before = total;
        await Promise.resolve(); // a command that yields must still not interleave with the next
        total = before + c.add;
        return { total, node: this.node };
      },
      isIdle: () => this.o.idle ?? false,
      settled: async () => undefined,
      stop: () => undefined,
    };
  }
}

export interface RefNode {
  nodeId: string;
  ask(actorId: string, c: CounterCommand): Promise<CounterReply>;
  /** Absent where the reference has no `tell` (in process, the host is right there). */
  tell?: (actorId: string, c: CounterCommand) => Promise<CounterReply | undefined>;
  host: ActorHost<CounterCommand, CounterReply>;
  behavior: CounterBehavior;
  /** The node's clock jumps past its lease (SIGSTOP that long). */
  pause(): void;
  /** The process is gone: no answers, no renewals. */
  crash(): Promise<void>;
  /** It stops answering requests, its lease renewed all the same (a wedged node). */
  stopServing(): void;
}

export interface RefHarness {
  /** How many nodes can share one cluster (1: in process). */
  nodes: number;
  start(label: string, o?: { deadlineMs?: number }): Promise<RefNode>;
}

export function actorRefContract(name: string, harness: () => RefHarness): void {
  describe(`ActorRef contract: ${name}`, () => {
    const started: RefNode[] = [];
    const node = async (label: string, o?: { deadlineMs?: number }) => {
      const n = await harness().start(`${label}-${randomBytes(3).toString('hex')}`, o);
      started.push(n);
      return n;
    };
    const actor = () => `c${randomBytes(6).toString('hex')}`;
    const cluster = () => harness().nodes > 1;
    afterEach(async () => {
      await Promise.all(started.splice(0).map((n) => n.crash()));
    });

    it('runs the commands of one actor on one activation, one at a time, whichever node they come from', async () => {
      const a = await node('a');
      const b = cluster() ? await node('b') : a;
      const id = actor();
      const replies = await Promise.all([1, 2, 3, 4].map((add, i) => (i % 2 ? b : a).ask(id, { add })));
      // In some order, each command saw all those before it: the totals are distinct and end at 10.
      const totals = replies.map((r) => r.total).sort((x, y) => x - y);
      expect(new Set(totals).size).toBe(4);
      expect(totals[3]).toBe(10);
      expect(new Set(replies.map((r) => r.node)).size).toBe(1);
      expect(a.behavior.activations + (b === a ? 0 : b.behavior.activations)).toBe(1);
    });

    it("carries the actor's typed errors back to the node that asked", async () => {
      const a = await node('a');
      const b = cluster() ? await node('b') : a;
      const id = actor();
      await a.ask(id, { add: 1 });
      const error = await b.ask(id, { fail: true }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({ code: 'conflict', message: 'counter refuses' });
    });

    it('tells an actor only where it is active, and activates nothing for it', async () => {
      if (!cluster()) return;
      const a = await node('a');
      const b = await node('b');
      const id = actor();
      expect(await b.tell!(id, { add: 1 })).toBeUndefined();
      expect(a.behavior.activations + b.behavior.activations).toBe(0);
      const owner = await a.ask(id, { add: 1 });
      expect(await b.tell!(id, { add: 2 })).toEqual({ total: 3, node: owner.node });
    });

    it('stops the actors of a node that lost its lease at once, and serves them elsewhere', async () => {
      if (!cluster()) return;
      const a = await node('a');
      const b = await node('b');
      const id = actor();
      expect(await a.ask(id, { add: 1 })).toMatchObject({ node: a.nodeId });
      a.pause();
      expect(a.host.isActive(id)).toBe(false);
      // The new owner starts from nothing: the counter lives in memory only (a real actor reads its store).
      expect(await b.ask(id, { add: 5 })).toEqual({ total: 5, node: b.nodeId });
      expect(a.host.isActive(id)).toBe(false);
    });

    it("serves a crashed owner's actor on another node within one ask", async () => {
      if (!cluster()) return;
      const a = await node('a');
      const b = await node('b');
      const id = actor();
      expect(await a.ask(id, { add: 1 })).toMatchObject({ node: a.nodeId });
      await a.crash();
      expect(await b.ask(id, { add: 2 })).toEqual({ total: 2, node: b.nodeId });
    });

    it('gives up with actor_unavailable at its deadline while the owner holds its lease but does not answer', async () => {
      if (!cluster()) return;
      const a = await node('a');
      const b = await node('b', { deadlineMs: 300 });
      const id = actor();
      await a.ask(id, { add: 1 });
      a.stopServing();
      await expect(b.ask(id, { add: 1 })).rejects.toMatchObject({ code: 'actor_unavailable', status: 503 });
      expect(b.behavior.activations).toBe(0);
    });
  });
}
