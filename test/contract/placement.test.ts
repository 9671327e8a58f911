import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
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

  // Last: it stops two of the servers for a moment.
  it('learns the outcome of a claim whose answer timed out while it was being replicated, and so does the node racing it', async () => {
    const prefix = `race${randomBytes(3).toString('hex')}`;
    const stream = `KV_${prefix}-actors`;
    const leaseMs = 3_000;
    const start = async (nodeId: string, url: string) => {
      const nc = await connect({ servers: url, name: nodeId });
      connections.push(nc);
      return KvPlacement.start({ nc, nodeId, leaseMs, replicas: 3, prefix, log: silentLogger });
    };
    const first = await start(`first-${prefix}`, nats.servers[0]!.url);
    // Both nodes talk to the server that leads the claims' stream; the other two are its replicas.
    const jsm = await jetstreamManager(connections.at(-1)!);
    const leaderName = (await jsm.streams.info(stream)).cluster?.leader;
    const leader = nats.servers.find((s) => s.name === leaderName)!;
    const replicas = nats.servers.filter((s) => s !== leader);
    const [b, c] = [await start(`b-${prefix}`, leader.url), await start(`c-${prefix}`, leader.url)];
    await first.stop();
    // Counts the stream's info requests: a node reads where the stream stands before each claim,
    // and while it waits for an unanswered or refused one to be stored.
    const observer = await connect({ servers: leader.url, name: 'observer' });
    connections.push(observer);
    let infos = 0;
    const waiting: Array<{ n: number; resolve: () => void }> = [];
    observer.subscribe(`$JS.API.STREAM.INFO.${stream}`, {
      callback: () => {
        infos++;
        for (const w of waiting.filter((x) => infos >= x.n)) w.resolve();
      },
    });
    /** Resolves once the stream's info was asked `n` times in all, or fails at a deadline. */
    const infoRequests = (n: number) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${n} stream info requests (saw ${infos})`)), 5_000);
        waiting.push({
          n,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
        if (infos >= n) resolve();
      });
    await observer.flush();
    const id = `a${randomBytes(6).toString('hex')}`;
    // Without its replicas the leader can take a claim but not store it: the first claim stays on
    // its way past its request's timeout (a third of the lease), and the second waits behind it.
    for (const s of replicas) s.pause();
    let answers: PromiseSettledResult<string>[];
    try {
      const fromB = b.resolve('conversation', id);
      // b has read where the stream stands: its claim goes out next.
      await infoRequests(1);
      const fromC = c.resolve('conversation', id);
      // More reads than five tries make, one each: a node keeps asking whether its claim was
      // stored after all instead of giving up on it (which would leave the actor claimed by a node
      // that does not know it, and the other node answering that node's name). Then the replicas
      // return.
      const waited = infoRequests(8);
      waited.catch(() => undefined); // a loser that gave up is what the answers below show
      await Promise.race([waited, fromC.catch(() => undefined), fromB.catch(() => undefined)]);
      for (const s of replicas) s.resume();
      answers = await Promise.allSettled([fromB, fromC]);
    } finally {
      for (const s of replicas) s.resume();
    }
    const [fromB, fromC] = answers.map((r) => (r.status === 'fulfilled' ? r.value : `refused: ${String(r.reason)}`));
    expect(fromC).toBe(fromB);
    expect([b.nodeId, c.nodeId]).toContain(fromB);
    expect([b, c].filter((n) => n.owns('conversation', id))).toHaveLength(1);
    await Promise.all([b.stop(), c.stop()]);
  });
});
