import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { singleNodePlacement } from '../../src/actors-runtime/placement.js';
import { KvPlacement } from '../../src/actors-runtime/kv-placement.js';
import { silentLogger } from '../../src/logger.js';
import { startNats, type NatsCluster } from '../helpers/nats-server.js';
import { placementContract } from './placement.contract.js';

// Placement on one node (it owns everything) and on JetStream KV across a real cluster of three
// nats-server processes with R3 buckets, each node on its own server.

const LEASE_MS = 900;

placementContract('single node', () => ({
  multiNode: false,
  start: (nodeId) => Promise.resolve({ placement: singleNodePlacement(nodeId), pause: () => undefined, crash: () => Promise.resolve() }),
}));

describe('on a three-server JetStream cluster', () => {
  let nats: NatsCluster;
  const connections: NatsConnection[] = [];
  let started = 0;
  beforeAll(async () => {
    nats = await startNats(3);
  });
  afterAll(async () => {
    await Promise.all(connections.map((nc) => nc.close()));
    await nats?.close();
  });
  placementContract('NATS KV, replicas 3', () => ({
    multiNode: true,
    start: async (nodeId) => {
      const nc = await connect({ servers: nats.servers[started++ % 3]!.url, name: nodeId });
      connections.push(nc);
      let skew = 0;
      const placement = await KvPlacement.start({ nc, nodeId, leaseMs: LEASE_MS, replicas: 3, log: silentLogger, now: () => performance.now() + skew });
      return {
        placement,
        pause: () => {
          skew += LEASE_MS;
          // What a process sees first on waking: its watchdog's view of the clock.
          void placement.live;
        },
        // The connection goes first: a crashed process gives nothing back.
        crash: async () => {
          await nc.close();
          await placement.stop();
        },
      };
    },
  }));
});
