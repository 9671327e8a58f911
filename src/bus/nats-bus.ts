import { connect, errors, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import {
  BusError,
  checkSubject,
  encodePayload,
  errorEnvelope,
  openEnvelope,
  type Bus,
  type BusHandler,
  type RequestOptions,
  type Responder,
  type Unsubscribe,
} from './bus.js';

// The bus of a cluster: core NATS (no JetStream) between the nodes. Payloads travel as JSON text.
// The client reconnects for ever to any server of the cluster it learnt of, and re-subscribes
// what it had; what is published while no server is reachable is buffered by the client (up to
// its reconnect buffer), so a node rides out the loss of one NATS server.

export interface NatsBusOptions {
  /** Comma-separated server URLs (NATS_URL). */
  servers: string;
  /** Shows in the server's connection list (`connz`): the node id. */
  name: string;
  /** How long the first connection may take before start-up fails. */
  connectTimeoutMs?: number;
  onHandlerError?: (err: unknown, subject: string) => void;
  /** Connection state changes worth logging (disconnect, reconnect). */
  onStatus?: (status: { type: string; server?: string }) => void;
}

export class NatsBus implements Bus {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly o: NatsBusOptions,
  ) {
    void this.watchStatus();
  }

  /** Connects, or fails with BusError('unavailable') naming the servers tried. */
  static async connect(o: NatsBusOptions): Promise<NatsBus> {
    const servers = o.servers.split(',').map((s) => s.trim()).filter(Boolean);
    try {
      const nc = await connect({
        servers,
        name: o.name,
        timeout: o.connectTimeoutMs ?? 5_000,
        // Once up, never give up: a node without its bus is no use, and the servers come back.
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        pingInterval: 10_000,
      });
      return new NatsBus(nc, o);
    } catch (err) {
      throw new BusError('unavailable', `cannot reach NATS at ${servers.join(', ')}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }

  get maxPayloadBytes(): number {
    return this.nc.info?.max_payload ?? 1024 * 1024;
  }

  publish(subject: string, payload: unknown): void {
    checkSubject(subject, false);
    const json = encodePayload(subject, payload, this.maxPayloadBytes);
    this.guard(() => this.nc.publish(subject, json));
  }

  subscribe(pattern: string, handler: BusHandler): Unsubscribe {
    checkSubject(pattern, true);
    const sub = this.guard(() =>
      this.nc.subscribe(pattern, {
        callback: (err, msg) => {
          if (err) return;
          try {
            handler(msg.json(), msg.subject);
          } catch (e) {
            this.o.onHandlerError?.(e, msg.subject);
          }
        },
      }),
    );
    return () => unsubscribe(sub);
  }

  respond(subject: string, responder: Responder, opts: { queue?: string } = {}): Unsubscribe {
    checkSubject(subject, true);
    const sub = this.guard(() =>
      this.nc.subscribe(subject, {
        ...(opts.queue !== undefined ? { queue: opts.queue } : {}),
        callback: (err, msg) => {
          if (err) return;
          void Promise.resolve()
            .then(() => responder(msg.json(), msg.subject))
            .then(
              (value) => encodePayload(msg.subject, { ok: true, value }, this.maxPayloadBytes),
              (e: unknown) => JSON.stringify(errorEnvelope(e)),
            )
            .catch((e: unknown) => JSON.stringify(errorEnvelope(e)))
            .then((json) => {
              if (!this.nc.isClosed()) msg.respond(json);
            });
        },
      }),
    );
    return () => unsubscribe(sub);
  }

  async request(subject: string, payload: unknown, opts: RequestOptions): Promise<unknown> {
    checkSubject(subject, false);
    const json = encodePayload(subject, payload, this.maxPayloadBytes);
    let reply;
    try {
      reply = await this.nc.request(subject, json, { timeout: opts.timeoutMs });
    } catch (err) {
      if (err instanceof errors.RequestError && err.cause instanceof errors.NoRespondersError) {
        throw new BusError('no_responders', `no responders for ${subject}`, { cause: err });
      }
      if (err instanceof errors.TimeoutError) throw new BusError('timeout', `no answer from ${subject} within ${opts.timeoutMs} ms`, { cause: err });
      throw translate(err);
    }
    return openEnvelope(reply.json());
  }

  async flush(): Promise<void> {
    try {
      await this.nc.flush();
    } catch (err) {
      throw translate(err);
    }
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    try {
      await this.nc.drain();
    } catch (err) {
      if (!(err instanceof errors.ClosedConnectionError) && !(err instanceof errors.DrainingConnectionError)) throw err;
      await this.nc.closed();
    }
  }

  /** The connection, for the ports that use JetStream on it (placement). */
  get connection(): NatsConnection {
    return this.nc;
  }

  /** The server this node is connected to now (tests of failover). */
  get server(): string {
    return this.nc.getServer();
  }

  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw translate(err);
    }
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      const server = 'server' in s && typeof s.server === 'string' ? s.server : undefined;
      this.o.onStatus?.({ type: s.type, ...(server !== undefined ? { server } : {}) });
    }
  }
}

function unsubscribe(sub: Subscription): void {
  if (!sub.isClosed()) sub.unsubscribe();
}

function translate(err: unknown): unknown {
  if (err instanceof errors.ClosedConnectionError || err instanceof errors.DrainingConnectionError) {
    return new BusError('closed', 'the bus is closed', { cause: err });
  }
  return err;
}
