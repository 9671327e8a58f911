import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/logger.js';
import { ActorHost } from '../../src/actors-runtime/actor-host.js';
import { LocalActorRef } from '../../src/actors-runtime/actor-ref.js';
import { NatsActorRef } from '../../src/actors-runtime/nats-actor-ref.js';
import { KvPlacement } from '../../src/actors-runtime/kv-placement.js';
import { NatsBus } from '../../src/bus/nats-bus.js';
import { startNats, type NatsCluster } from '../helpers/nats-server.js';
import { actorRefContract, CounterBehavior, type CounterCommand, type CounterReply } from './actor-ref.contract.js';

// The actor reference in process (one node), and over NATS between nodes that each sit on their
// own server of a three-server JetStream cluster, placed by KV.

const LEASE_MS = 900;

actorRefContract('in process', () => ({
  nodes: 1,
  start: async (nodeId) => {
    const behavior = new CounterBehavior(nodeId);
    const host = new ActorHost(behavior, { clock: new ManualClock(), log: silentLogger, passivateAfterMs: 60_000 });
    const ref = new LocalActorRef(host);
    return {
      nodeId,
      ask: (id, c) => ref.ask(id, c),
      host,
      behavior,
      pause: () => undefined,
      crash: () => host.stop(),
      stopServing: () => undefined,
    };
  },
}));

describe('across a three-server JetStream cluster', () => {
  let nats: NatsCluster;
  let started = 0;
  beforeAll(async () => {
    nats = await startNats(3);
  });
  afterAll(async () => {
    await nats?.close();
  });
  actorRefContract('NATS request/reply, KV placement', () => ({
    nodes: 2,
    start: async (nodeId, o) => {
      const bus = await NatsBus.connect({ servers: nats.servers[started++ % 3]!.url, name: nodeId });
      let skew = 0;
      const placement = await KvPlacement.start({ nc: bus.connection, nodeId, leaseMs: LEASE_MS, replicas: 3, log: silentLogger, now: () => performance.now() + skew });
      const behavior = new CounterBehavior(nodeId);
      const host = new ActorHost<CounterCommand, CounterReply>(behavior, {
        clock: new ManualClock(),
        log: silentLogger,
        passivateAfterMs: 60_000,
        owns: (id) => placement.owns('counter', id),
      });
      placement.onLeaseLost(() => host.passivateAll());
      const ref = new NatsActorRef({
        kind: 'counter',
        host,
        placement,
        bus,
        prefix: 'sb',
        requestTimeoutMs: LEASE_MS,
        deadlineMs: o?.deadlineMs ?? 2 * LEASE_MS + 1_000,
        log: silentLogger,
      });
      let crashed = false;
      return {
        nodeId,
        ask: (id, c) => ref.ask(id, c),
        tell: (id, c) => ref.tell(id, c),
        host,
        behavior,
        pause: () => {
          skew += LEASE_MS;
          void placement.live;
        },
        crash: async () => {
          if (crashed) return;
          crashed = true;
          // The connection goes first: a crashed process gives nothing back.
          await bus.close();
          ref.stop();
          await placement.stop();
          await host.stop();
        },
        stopServing: () => ref.stop(),
      };
    },
  }));

  it('carries a command and its outcome as one JSON document each way, with no JSON text inside', async () => {
    const [owner, caller] = await Promise.all([
      NatsBus.connect({ servers: nats.servers[0]!.url, name: 'wire-owner' }),
      NatsBus.connect({ servers: nats.servers[1]!.url, name: 'wire-caller' }),
    ]);
    const placement = await KvPlacement.start({ nc: owner.connection, nodeId: 'wire-owner', leaseMs: LEASE_MS, replicas: 3, log: silentLogger });
    const host = new ActorHost<CounterCommand, CounterReply>(new CounterBehavior('wire-owner'), {
      clock: new ManualClock(),
      log: silentLogger,
      passivateAfterMs: 60_000,
      owns: (id) => placement.owns('counter', id),
    });
    const ref = new NatsActorRef({ kind: 'counter', host, placement, bus: owner, prefix: 'wire', requestTimeoutMs: LEASE_MS, deadlineMs: 2 * LEASE_MS, log: silentLogger });
    try {
      const actorId = `wire-${randomBytes(4).toString('hex')}`;
      expect(await placement.resolve('counter', actorId)).toBe('wire-owner');
      const subject = 'wire.actor.counter.wire-owner';
      const answer = await caller.request(subject, { actorId, command: { add: 2 } }, { timeoutMs: LEASE_MS });
      expect(answer).toEqual({ outcome: { ok: true, reply: { total: 2, node: 'wire-owner' } } });
      const refused = await caller.request(subject, { actorId, command: { fail: true } }, { timeoutMs: LEASE_MS });
      expect(refused).toEqual({ outcome: { ok: false, error: { code: 'conflict', message: 'counter refuses' } } });
      // Anything but a command object is refused before the host sees it.
      await expect(caller.request(subject, { actorId, command: JSON.stringify({ add: 1 }) }, { timeoutMs: LEASE_MS })).rejects.toThrow('malformed actor request');
      expect(await ref.ask(actorId, { add: 3 })).toEqual({ total: 5, node: 'wire-owner' });
    } finally {
      ref.stop();
      await host.stop();
      await placement.stop();
      await Promise.all([owner.close(), caller.close()]);
    }
  });
});
