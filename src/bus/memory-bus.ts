import {
  BusError,
  checkPayload,
  checkSubject,
  DEFAULT_MAX_PAYLOAD_BYTES,
  encodePayload,
  errorEnvelope,
  openEnvelope,
  subjectMatches,
  tokensMatch,
  type Bus,
  type BusHandler,
  type RequestOptions,
  type Responder,
  type Unsubscribe,
} from './bus.js';

// The bus of a single node. `publish` delivers synchronously, before it returns, in subscription
// order: the core relies on an event having reached this node's sockets when the command that
// caused it is acknowledged (a lock frame before its ack), as it did when events were direct calls.
// Subscribers share the publisher's object, as they did with direct calls: a JSON copy per event
// cost more than the rest of the event's path. What a cluster would refuse (too big, not
// serialisable) is refused here too, measured without encoding when it clearly fits
// (checkPayload); subscribers treat payloads as read-only.

interface Sub {
  pattern: string;
  /** The pattern's tokens (wildcard subscriptions), split once. */
  tokens: string[];
  handler: BusHandler;
  /** Subscription order, kept across the exact and the wildcard subscriptions. */
  seq: number;
  active: boolean;
}

interface Resp {
  subject: string;
  responder: Responder;
  queue: string | undefined;
}

export class MemoryBus implements Bus {
  readonly maxPayloadBytes: number;
  // Exact subjects by name (a node watches many accounts: a publish must not scan them all), and
  // the few wildcard patterns in a list. Both lists are replaced, never changed in place, so a
  // publish can walk the list it found without copying it (a handler that subscribes changes the
  // next publish, not this one).
  private exact = new Map<string, Sub[]>();
  private wildcards: Sub[] = [];
  private seq = 0;
  private responders: Resp[] = [];
  private closed = false;
  private turn = 0;

  constructor(
    private readonly o: { onHandlerError?: (err: unknown, subject: string) => void; maxPayloadBytes?: number } = {},
  ) {
    this.maxPayloadBytes = o.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  }

  publish(subject: string, payload: unknown): void {
    this.open();
    checkSubject(subject, false);
    checkPayload(subject, payload, this.maxPayloadBytes);
    const exact = this.exact.get(subject);
    let wild: Sub[] | null = null;
    if (this.wildcards.length > 0) {
      const tokens = subject.split('.');
      for (const s of this.wildcards) if (tokensMatch(s.tokens, tokens)) (wild ??= []).push(s);
    }
    // One that unsubscribes another during this publish stops it at once (`active`).
    if (wild === null) {
      if (exact) for (const s of exact) this.deliver(s, payload, subject);
      return;
    }
    if (!exact) {
      for (const s of wild) this.deliver(s, payload, subject);
      return;
    }
    // Both lists are in subscription order: walk them together, without a merged copy to sort.
    let i = 0;
    let j = 0;
    while (i < exact.length || j < wild.length) {
      const fromExact = j >= wild.length || (i < exact.length && exact[i]!.seq < wild[j]!.seq);
      this.deliver(fromExact ? exact[i++]! : wild[j++]!, payload, subject);
    }
  }

  private deliver(s: Sub, payload: unknown, subject: string): void {
    if (!s.active) return;
    try {
      s.handler(payload, subject);
    } catch (err) {
      this.o.onHandlerError?.(err, subject);
    }
  }

  subscribe(pattern: string, handler: BusHandler): Unsubscribe {
    this.open();
    checkSubject(pattern, true);
    const tokens = pattern.split('.');
    const sub: Sub = { pattern, tokens, handler, seq: this.seq++, active: true };
    const wildcard = tokens.some((t) => t === '*' || t === '>');
    if (wildcard) this.wildcards = [...this.wildcards, sub];
    else this.exact.set(pattern, [...(this.exact.get(pattern) ?? []), sub]);
    return () => {
      if (!sub.active) return;
      sub.active = false;
      if (wildcard) this.wildcards = this.wildcards.filter((s) => s !== sub);
      else {
        const rest = (this.exact.get(pattern) ?? []).filter((s) => s !== sub);
        if (rest.length > 0) this.exact.set(pattern, rest);
        else this.exact.delete(pattern);
      }
    };
  }

  respond(subject: string, responder: Responder, opts: { queue?: string } = {}): Unsubscribe {
    this.open();
    checkSubject(subject, true);
    const r: Resp = { subject, responder, queue: opts.queue };
    this.responders.push(r);
    return () => {
      this.responders = this.responders.filter((x) => x !== r);
    };
  }

  async request(subject: string, payload: unknown, opts: RequestOptions): Promise<unknown> {
    this.open();
    checkSubject(subject, false);
    const json = encodePayload(subject, payload, this.maxPayloadBytes);
    const matching = this.responders.filter((r) => subjectMatches(r.subject, subject));
    if (matching.length === 0) throw new BusError('no_responders', `no responders for ${subject}`);
    // As NATS: every plain responder gets the request, and one member of each queue group.
    const chosen = new Map<string, Resp>();
    const plain: Resp[] = [];
    for (const r of matching) {
      if (r.queue === undefined) plain.push(r);
      else if (!chosen.has(r.queue)) {
        const group = matching.filter((x) => x.queue === r.queue);
        chosen.set(r.queue, group[this.turn++ % group.length]!);
      }
    }
    const targets = [...plain, ...chosen.values()];
    return new Promise((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => finish(() => reject(new BusError('timeout', `no answer from ${subject} within ${opts.timeoutMs} ms`))), opts.timeoutMs);
      const finish = (fn: () => void) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        fn();
      };
      for (const t of targets) {
        void Promise.resolve()
          .then(() => t.responder(JSON.parse(json), subject))
          .then(
            (value) => JSON.parse(encodePayload(subject, { ok: true, value }, this.maxPayloadBytes)) as unknown,
            (err: unknown) => errorEnvelope(err),
          )
          .then(
            (env) => finish(() => {
              try {
                resolve(openEnvelope(env));
              } catch (e) {
                reject(e);
              }
            }),
            (err: unknown) => finish(() => reject(err)),
          );
      }
    });
  }

  async flush(): Promise<void> {
    this.open();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of [...this.wildcards, ...[...this.exact.values()].flat()]) s.active = false;
    this.exact.clear();
    this.wildcards = [];
    this.responders = [];
  }

  private open(): void {
    if (this.closed) throw new BusError('closed', 'the bus is closed');
  }
}
