import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { silentLogger } from '../../src/logger.js';
import { SimulatorDb } from '../../src/sms/simulator/simulator-db.js';
import { MAX_CONCURRENT_DELIVERIES, WebhookSender } from '../../src/sms/simulator/webhook-sender.js';
import { tempDir } from '../helpers/temp-dir.js';

// The simulator's webhook sender against a real receiver that holds every request until the test
// lets it go: how many deliveries it keeps in flight, that a delivery in flight is never started
// again, and that the callbacks of one message reach the receiver in order.

describe('WebhookSender', () => {
  let dir: ReturnType<typeof tempDir>;
  let db: SimulatorDb;
  let sender: WebhookSender;
  let held: Array<{ ref: string; res: ServerResponse }>;
  let received: string[];
  let server: ReturnType<typeof createServer>;
  let url: string;

  beforeEach(async () => {
    dir = tempDir('switchboard-webhooks-');
    db = SimulatorDb.open(join(dir.path, 'simulator.db'));
    held = [];
    received = [];
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        const ref = new URLSearchParams(body).get('Ref') ?? '?';
        received.push(ref);
        held.push({ ref, res });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    sender = new WebhookSender({ db, clock: systemClock, log: silentLogger, signing: { authToken: 'token-token', mainAuthToken: 'token-token' }, retryScale: 1 });
  });

  afterEach(async () => {
    for (const h of held.splice(0)) h.res.end();
    await sender.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    db.close();
    dir.remove();
  });

  /** Answers the held requests (200) and returns their refs. */
  const answerAll = (): string[] => held.splice(0).map((h) => (h.res.end(), h.ref));

  it(`keeps at most ${MAX_CONCURRENT_DELIVERIES} deliveries in flight, starts none twice, and keeps each message's callbacks in order`, async () => {
    // 60 messages with two callbacks each (the second waits for the first), and 40 lone ones.
    const refs: string[] = [];
    for (let m = 0; m < 60; m++) {
      for (const step of [1, 2]) {
        const ref = `m${m}-${step}`;
        refs.push(ref);
        sender.enqueue({ kind: 'status', ref, groupKey: `m${m}`, url, method: 'POST', params: { Ref: ref } });
      }
    }
    for (let l = 0; l < 40; l++) {
      refs.push(`l${l}`);
      sender.enqueue({ kind: 'status', ref: `l${l}`, groupKey: `l${l}`, url, method: 'POST', params: { Ref: `l${l}` } });
    }
    const delivered: string[] = [];
    while (delivered.length < refs.length) {
      // The window fills: every delivery that may start (a second callback once its first is
      // delivered), up to the limit, reaches the receiver, which holds them all.
      const startable = refs.filter((r) => !delivered.includes(r) && (!r.endsWith('-2') || delivered.includes(r.replace(/-2$/, '-1'))));
      await vi.waitFor(() => expect(held.length).toBe(Math.min(MAX_CONCURRENT_DELIVERIES, startable.length)), { timeout: 5_000, interval: 2 });
      // A second callback never travels with (or before) its message's first.
      const inFlight = new Set(held.map((h) => h.ref));
      for (const ref of inFlight) if (ref.endsWith('-2')) expect(delivered).toContain(ref.replace(/-2$/, '-1'));
      // Answer a few at a time, so that the sender refills a window that is mostly in flight.
      const some = held.splice(0, 3);
      for (const h of some) {
        h.res.end();
        delivered.push(h.ref);
      }
      await vi.waitFor(() => expect(some.map((h) => db.webhooksFor(h.ref)[0]?.state)).toEqual(some.map(() => 'delivered')), { timeout: 5_000, interval: 2 });
    }
    expect(answerAll()).toEqual([]);
    expect([...received].sort()).toEqual([...refs].sort());
    expect(new Set(received).size).toBe(received.length);
  });
});
