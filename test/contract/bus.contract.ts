import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BusError, RemoteError, type Bus } from '../../src/bus/bus.js';

// The one contract every Bus implementation passes (src/bus/bus.ts is the spec). `connect(i)`
// opens a bus the way a node would, on "server" i: one process has one memory bus, so there the
// index is ignored; a NATS cluster gives each index its own server. Publishing on one and
// subscribing on another is how two nodes talk.

export interface BusHarness {
  connect(server: number, onHandlerError?: (err: unknown) => void): Promise<Bus>;
  /** How many servers `connect` can tell apart (1 for the memory bus and a single NATS server). */
  servers: number;
}

const DEADLINE_MS = 5_000;

/** Unique per test, so tests sharing a server never see each other's traffic. */
export function uniqueSubject(): string {
  return `t${randomBytes(6).toString('hex')}`;
}

/** Collects what a subscription receives and waits, with a deadline, for a count. */
export class Inbox {
  readonly received: Array<{ subject: string; payload: unknown }> = [];
  private waiters: Array<() => void> = [];
  readonly handler = (payload: unknown, subject: string): void => {
    this.received.push({ subject, payload });
    for (const w of this.waiters.splice(0)) w();
  };
  async count(n: number, what = `${n} messages`): Promise<void> {
    const deadline = Date.now() + DEADLINE_MS;
    while (this.received.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}: got ${this.received.length}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
  payloads(): unknown[] {
    return this.received.map((r) => r.payload);
  }
}

/**
 * Resolves once `sub`'s subscriptions so far are known where `pub` publishes. Across a cluster a
 * new interest reaches the other servers asynchronously: probe it (publish, round-trip, look)
 * until a probe arrives or the deadline passes. Earlier subscriptions of `sub` travel the same
 * route before the probe's, so they are known too.
 */
export async function interestSettled(pub: Bus, sub: Bus): Promise<void> {
  const subject = `probe.${uniqueSubject()}`;
  let arrived = false;
  const off = sub.subscribe(subject, () => {
    arrived = true;
  });
  try {
    await sub.flush();
    const deadline = Date.now() + DEADLINE_MS;
    while (!arrived) {
      if (Date.now() > deadline) throw new Error('a subscription did not reach the publishing server in time');
      pub.publish(subject, 1);
      await pub.flush();
      await sub.flush();
    }
  } finally {
    off();
  }
}

export function busContract(name: string, harness: () => BusHarness): void {
  describe(`Bus contract: ${name}`, () => {
    let h: BusHarness;
    const open: Bus[] = [];
    let subject: string;
    const connect = async (server: number, onHandlerError?: (err: unknown) => void) => {
      const bus = await h.connect(server, onHandlerError);
      open.push(bus);
      return bus;
    };
    /** Two "nodes": on the first and the last server. */
    const pair = async () => {
      const pub = await connect(0);
      const sub = await connect(h.servers - 1);
      return { pub, sub };
    };

    beforeEach(() => {
      h = harness();
      subject = uniqueSubject();
    });
    afterEach(async () => {
      await Promise.all(open.splice(0).map((b) => b.close().catch(() => undefined)));
    });

    it('delivers a published event to the subscribers of its subject, as plain JSON', async () => {
      const { pub, sub } = await pair();
      const inbox = new Inbox();
      sub.subscribe(`${subject}.account.a1`, inbox.handler);
      await interestSettled(pub, sub);
      const event = { type: 'message', accountId: 'a1', message: { id: 'm1', text: 'hi ✓', tags: ['x'], absent: undefined, n: 1.5 } };
      pub.publish(`${subject}.account.a1`, event);
      await inbox.count(1);
      expect(inbox.received[0]).toEqual({ subject: `${subject}.account.a1`, payload: JSON.parse(JSON.stringify(event)) });
    });

    it('keeps the order of one publisher on one subject', async () => {
      const { pub, sub } = await pair();
      const inbox = new Inbox();
      sub.subscribe(`${subject}.seq`, inbox.handler);
      await interestSettled(pub, sub);
      for (let i = 0; i < 2_000; i++) pub.publish(`${subject}.seq`, { i });
      await inbox.count(2_000);
      expect(inbox.payloads()).toEqual(Array.from({ length: 2_000 }, (_, i) => ({ i })));
    });

    it('matches `*` to one token and `>` to the rest, and nothing else', async () => {
      const { pub, sub } = await pair();
      const one = new Inbox();
      const rest = new Inbox();
      const exact = new Inbox();
      sub.subscribe(`${subject}.board.*`, one.handler);
      sub.subscribe(`${subject}.>`, rest.handler);
      sub.subscribe(`${subject}.user.u1`, exact.handler);
      await interestSettled(pub, sub);
      pub.publish(`${subject}.board.d1`, 1);
      pub.publish(`${subject}.board.d1.extra`, 2);
      pub.publish(`${subject}.user.u1`, 3);
      pub.publish(`${subject}.user.u2`, 4);
      pub.publish(`${subject}x.board.d1`, 5);
      await rest.count(4);
      await pub.flush();
      // The last publish went out after the others: once it is in, nothing else is on its way.
      pub.publish(`${subject}.board.end`, 6);
      await one.count(2);
      expect(one.payloads()).toEqual([1, 6]);
      expect(rest.payloads()).toEqual([1, 2, 3, 4, 6]);
      expect(exact.payloads()).toEqual([3]);
    });

    it('stops delivering to a subscription once it is unsubscribed, and only to it', async () => {
      const { pub, sub } = await pair();
      const gone = new Inbox();
      const stays = new Inbox();
      const off = sub.subscribe(`${subject}.x`, gone.handler);
      sub.subscribe(`${subject}.x`, stays.handler);
      await interestSettled(pub, sub);
      pub.publish(`${subject}.x`, 1);
      await gone.count(1);
      off();
      off(); // twice is harmless
      await sub.flush();
      pub.publish(`${subject}.x`, 2);
      await stays.count(2);
      expect(gone.payloads()).toEqual([1]);
    });

    it('isolates a subscriber that throws: the others still get the event, the error is reported', async () => {
      const errors: unknown[] = [];
      const pub = await connect(0);
      const sub = await connect(h.servers - 1, (err) => errors.push(err));
      const inbox = new Inbox();
      sub.subscribe(`${subject}.x`, () => {
        throw new Error('listener failed');
      });
      sub.subscribe(`${subject}.x`, inbox.handler);
      await interestSettled(pub, sub);
      pub.publish(`${subject}.x`, 1);
      pub.publish(`${subject}.x`, 2);
      await inbox.count(2);
      expect(errors.map((e) => (e as Error).message)).toEqual(['listener failed', 'listener failed']);
    });

    it('answers a request through a responder on another node; a queue group answers once', async () => {
      const { pub, sub } = await pair();
      let calls = 0;
      sub.respond(`${subject}.echo`, (p) => ({ echoed: p }));
      sub.respond(
        `${subject}.q`,
        (p) => {
          calls++;
          return { a: p };
        },
        { queue: 'owners' },
      );
      sub.respond(
        `${subject}.q`,
        (p) => {
          calls++;
          return { b: p };
        },
        { queue: 'owners' },
      );
      await interestSettled(pub, sub);
      expect(await pub.request(`${subject}.echo`, { n: 1 }, { timeoutMs: DEADLINE_MS })).toEqual({ echoed: { n: 1 } });
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push(await pub.request(`${subject}.q`, i, { timeoutMs: DEADLINE_MS }));
      expect(calls).toBe(4);
      expect(answers).toHaveLength(4);
    });

    it("carries a responder's error back with its code", async () => {
      const { pub, sub } = await pair();
      sub.respond(`${subject}.fails`, async () => {
        throw Object.assign(new Error('You do not hold this lock'), { code: 'no_lock' });
      });
      await interestSettled(pub, sub);
      const err = await pub.request(`${subject}.fails`, {}, { timeoutMs: DEADLINE_MS }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RemoteError);
      expect(err).toMatchObject({ code: 'remote', remoteCode: 'no_lock', message: 'You do not hold this lock' });
    });

    it('refuses a request nobody answers at once (no_responders), and a slow answer at its deadline (timeout)', async () => {
      const { pub, sub } = await pair();
      const none = await pub.request(`${subject}.nobody`, {}, { timeoutMs: DEADLINE_MS }).catch((e: unknown) => e);
      expect(none).toBeInstanceOf(BusError);
      expect((none as BusError).code).toBe('no_responders');
      let answer: (() => void) | undefined;
      sub.respond(`${subject}.slow`, () => new Promise<void>((resolve) => (answer = resolve)));
      await interestSettled(pub, sub);
      const slow = await pub.request(`${subject}.slow`, {}, { timeoutMs: 50 }).catch((e: unknown) => e);
      expect((slow as BusError).code).toBe('timeout');
      answer?.();
    });

    it('refuses subjects that are not subjects, and wildcards where a concrete subject is needed', async () => {
      const bus = await connect(0);
      for (const bad of ['', 'a..b', 'a b', 'a.*', 'a.>', '.a']) expect(() => bus.publish(bad, 1)).toThrow(expect.objectContaining({ code: 'bad_subject' }));
      expect(() => bus.subscribe('a.>.b', () => undefined)).toThrow(expect.objectContaining({ code: 'bad_subject' }));
      await expect(bus.request('a.*', 1, { timeoutMs: 100 })).rejects.toMatchObject({ code: 'bad_subject' });
    });

    it('carries a payload up to its limit and refuses a bigger one with a clear error', async () => {
      const { pub, sub } = await pair();
      expect(pub.maxPayloadBytes).toBe(1024 * 1024);
      const inbox = new Inbox();
      sub.subscribe(`${subject}.big`, inbox.handler);
      await interestSettled(pub, sub);
      const fits = 'x'.repeat(pub.maxPayloadBytes - 2 - 64); // JSON quotes, and room for the protocol's header
      pub.publish(`${subject}.big`, fits);
      await inbox.count(1);
      expect(inbox.payloads()[0]).toBe(fits);
      const tooBig = 'é'.repeat(pub.maxPayloadBytes / 2); // 2 bytes each in UTF-8: over by the quotes
      expect(() => pub.publish(`${subject}.big`, tooBig)).toThrow(BusError);
      expect(() => pub.publish(`${subject}.big`, tooBig)).toThrow(/payload for .* is 1048578 bytes; the bus carries at most 1048576/);
      await expect(pub.request(`${subject}.big`, tooBig, { timeoutMs: 100 })).rejects.toMatchObject({ code: 'payload_too_large' });
    });

    it('delivers what was published before close, then refuses further use', async () => {
      const { pub, sub } = await pair();
      const inbox = new Inbox();
      sub.subscribe(`${subject}.last`, inbox.handler);
      await interestSettled(pub, sub);
      for (let i = 0; i < 100; i++) pub.publish(`${subject}.last`, i);
      await pub.close();
      await inbox.count(100);
      expect(() => pub.publish(`${subject}.last`, 1)).toThrow(expect.objectContaining({ code: 'closed' }));
      await pub.close(); // twice is harmless
    });
  });
}
