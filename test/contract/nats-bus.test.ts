import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsBus } from '../../src/bus/nats-bus.js';
import { startNats, type NatsCluster } from '../helpers/nats-server.js';
import { busContract, Inbox, interestSettled, uniqueSubject } from './bus.contract.js';

// The NATS bus against real nats-server processes: one server, and a cluster of three on this
// machine where the two "nodes" of each contract test sit on different servers (the first and the
// third), so every event crosses a route.

function natsHarness(nats: () => NatsCluster) {
  return () => ({
    servers: nats().servers.length,
    connect: (server: number, onHandlerError?: (err: unknown) => void) =>
      NatsBus.connect({ servers: nats().servers[server]!.url, name: `test-${server}`, ...(onHandlerError ? { onHandlerError } : {}) }),
  });
}

describe('one NATS server', () => {
  let nats: NatsCluster;
  beforeAll(async () => {
    nats = await startNats(1);
  });
  afterAll(async () => {
    await nats?.close();
  });
  busContract('NATS, one server', natsHarness(() => nats));
});

describe('a cluster of three NATS servers', () => {
  let nats: NatsCluster;
  beforeAll(async () => {
    nats = await startNats(3);
  });
  afterAll(async () => {
    await nats?.close();
  });
  busContract('NATS, across a cluster', natsHarness(() => nats));

  // Last: it kills a server of the cluster this describe shares.
  it('keeps its subscriptions through the loss of its server: it reconnects to another and still receives', async () => {
    const statuses: string[] = [];
    let reconnected: () => void = () => undefined;
    const back = new Promise<void>((resolve) => (reconnected = resolve));
    const sub = await NatsBus.connect({
      servers: nats.servers[0]!.url,
      name: 'sub',
      onStatus: (s) => {
        statuses.push(s.type);
        if (s.type === 'reconnect') reconnected();
      },
    });
    const pub = await NatsBus.connect({ servers: nats.servers[2]!.url, name: 'pub' });
    try {
      const subject = uniqueSubject();
      const inbox = new Inbox();
      sub.subscribe(`${subject}.>`, inbox.handler);
      await interestSettled(pub, sub);
      pub.publish(`${subject}.before`, 1);
      await inbox.count(1);
      // The servers' gossip told the client of the other two before this one goes.
      await nats.servers[0]!.kill();
      await back;
      expect(sub.server).not.toContain(`:${nats.servers[0]!.port}`);
      await interestSettled(pub, sub);
      pub.publish(`${subject}.after`, 2);
      await inbox.count(2);
      expect(inbox.payloads()).toEqual([1, 2]);
      expect(statuses).toContain('disconnect');
    } finally {
      await Promise.all([sub.close(), pub.close()]);
    }
  });
});

describe('connecting', () => {
  it('fails within its timeout, naming the servers, where nothing listens', async () => {
    const started = Date.now();
    const err = await NatsBus.connect({ servers: 'nats://127.0.0.1:1', name: 'nobody', connectTimeoutMs: 2_000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'unavailable', message: expect.stringContaining('cannot reach NATS at nats://127.0.0.1:1') });
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
