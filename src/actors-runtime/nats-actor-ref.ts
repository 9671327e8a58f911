import { performance } from 'node:perf_hooks';
import type { Logger } from '../logger.js';
import { AppError } from '../errors.js';
import { isBusError, subjectToken, type Bus, type Unsubscribe } from '../bus/bus.js';
import { NotOwner, type ActorHost } from './actor-host.js';
import { serveCommand, unwrapOutcome, type ActorOutcome, type ActorRef } from './actor-ref.js';
import { PlacementUnavailable, type Placement } from './placement.js';

// The actor reference of a cluster node. Placement says which node runs the actor: this node
// serves it from its own host; another node is asked by NATS request/reply on that node's subject
// (`<prefix>.actor.<kind>.<nodeId>`). The owner checks, for every command, that it still owns the
// actor; one that does not (it lost its lease, or the caller's idea of the owner was old) answers
// `notOwner` and the caller resolves again. No responder or no answer in time (the owner died or
// is paused): the caller resolves again, backing off, until its deadline, which covers a lease so
// that a dead owner's actors are taken over within one ask. Past the deadline: `actor_unavailable`.
//
// Commands and replies cross in the same wire form as in-process (actor-ref.ts).

export interface NatsActorRefOptions<Command, Reply> {
  /** The kind of actor this reference reaches (one reference per kind). */
  kind: string;
  host: ActorHost<Command, Reply>;
  placement: Placement;
  bus: Bus;
  /** Subjects are `<prefix>.actor.…`: the nodes of one cluster share it. */
  prefix: string;
  /** How long one request to an owner may take before the owner counts as unreachable. */
  requestTimeoutMs: number;
  /** How long one ask keeps trying (re-resolving, backing off) before it gives up. */
  deadlineMs: number;
  log: Logger;
}

/**
 * What crosses NATS: the request, and the owner's answer, each one JSON document (the command and
 * the outcome are plain data inside it, encoded and parsed once per hop).
 */
interface ActorRequest<Command> {
  actorId: string;
  command: Command;
  /** Only if the actor is active on its owner (no activation for it). */
  ifActive?: boolean;
}
type ActorAnswer<Reply> = { outcome: ActorOutcome<Reply> } | { inactive: true } | { notOwner: true };

const FIRST_BACKOFF_MS = 10;
const MAX_BACKOFF_MS = 250;

export class NatsActorRef<Command, Reply> implements ActorRef<Command, Reply> {
  /** Where other nodes' actors were last found (forgotten when that node does not serve them). */
  private readonly owners = new Map<string, string>();
  private readonly stopServing: Unsubscribe;
  private readonly base: string;

  constructor(private readonly o: NatsActorRefOptions<Command, Reply>) {
    this.base = `${subjectToken(o.prefix)}.actor.${subjectToken(o.kind)}`;
    this.stopServing = o.bus.respond(this.subjectOf(o.placement.nodeId), (payload) => this.serve(payload));
  }

  async ask(actorId: string, command: Command): Promise<Reply> {
    const answer = await this.route(actorId, { actorId, command });
    if ('inactive' in answer) throw new AppError('internal', `actor ${actorId} answered inactive to an ask`);
    return unwrapOutcome<Reply>(answer.outcome);
  }

  /** Delivers the command only where the actor is active; resolves undefined when it is active nowhere. */
  async tell(actorId: string, command: Command): Promise<Reply | undefined> {
    const answer = await this.route(actorId, { actorId, command, ifActive: true });
    return 'inactive' in answer ? undefined : unwrapOutcome<Reply>(answer.outcome);
  }

  /** Stops answering other nodes (the node is shutting down). */
  stop(): void {
    this.stopServing();
  }

  private subjectOf(nodeId: string): string {
    return `${this.base}.${subjectToken(nodeId)}`;
  }

  private async route(actorId: string, request: ActorRequest<Command>): Promise<Exclude<ActorAnswer<Reply>, { notOwner: true }>> {
    const deadline = performance.now() + this.o.deadlineMs;
    let backoff = FIRST_BACKOFF_MS;
    let lastFailure = '';
    let refusals = 0;
    for (;;) {
      let answer: ActorAnswer<Reply> | null = null;
      try {
        const owner = this.owners.get(actorId) ?? (await this.o.placement.resolve(this.o.kind, actorId));
        if (owner === this.o.placement.nodeId) {
          answer = await this.serveHere(request);
        } else {
          this.owners.set(actorId, owner);
          answer = (await this.o.bus.request(this.subjectOf(owner), request, { timeoutMs: this.o.requestTimeoutMs })) as ActorAnswer<Reply>;
          if ('notOwner' in answer) this.owners.delete(actorId);
        }
        if (!('notOwner' in answer)) return answer;
        lastFailure = 'the node asked no longer owns it';
      } catch (err) {
        if (err instanceof PlacementUnavailable) lastFailure = err.message;
        else if (isBusError(err, 'no_responders') || isBusError(err, 'timeout')) {
          this.owners.delete(actorId);
          lastFailure = err.message;
        } else throw err;
      }
      if (performance.now() + backoff > deadline) {
        this.o.log.warn({ actorId, kind: this.o.kind, why: lastFailure }, 'no node could run the actor in time');
        throw new AppError('actor_unavailable', 'The conversation is moving to another server; try again in a moment', { retryAfterSeconds: 1 });
      }
      // A first notOwner (right after a takeover) is asked again at once; an unreachable owner, or
      // owners that keep refusing while their leases settle, are given time.
      if (answer !== null && refusals++ === 0) continue;
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  }

  /** The owner's side, for a request from this node or another. */
  private async serveHere(request: ActorRequest<Command>): Promise<ActorAnswer<Reply>> {
    if (!this.o.placement.owns(this.o.kind, request.actorId)) return { notOwner: true };
    if (request.ifActive && !this.o.host.isActive(request.actorId)) return { inactive: true };
    try {
      return { outcome: await serveCommand(this.o.host, request.actorId, request.command) };
    } catch (err) {
      if (err instanceof NotOwner) return { notOwner: true };
      throw err;
    }
  }

  /** A request from another node: checked before anything is done with it. */
  private serve(payload: unknown): Promise<ActorAnswer<Reply>> {
    const r = payload as Partial<ActorRequest<unknown>> | null;
    if (
      !r ||
      typeof r.actorId !== 'string' ||
      typeof r.command !== 'object' ||
      r.command === null ||
      Array.isArray(r.command) ||
      (r.ifActive !== undefined && typeof r.ifActive !== 'boolean')
    ) {
      throw new AppError('bad_request', 'malformed actor request');
    }
    // From a node of this cluster, whose lock service authorised it: trusted as this node's own.
    return this.serveHere({ actorId: r.actorId, command: r.command as Command, ...(r.ifActive ? { ifActive: true } : {}) });
  }
}

/** How one node's actors of a kind take part in a cluster. */
export interface ClusterMembership<Command, Reply> {
  /** Commands to these actors, wherever placement puts them. */
  ref: NatsActorRef<Command, Reply>;
  /** Stops answering other nodes and following the lease. */
  stop(): void;
}

/**
 * Puts one node's actors of a kind into the cluster: the reference that reaches them on any node;
 * every activation stopped at once when this node loses its lease (other nodes may take them over
 * now); and `adopt` run when another node's lease lapses, so the actors it ran (their deadlines,
 * their sending) go on somewhere.
 */
export function joinCluster<Command, Reply>(o: NatsActorRefOptions<Command, Reply>, adopt: () => Promise<unknown>): ClusterMembership<Command, Reply> {
  const ref = new NatsActorRef(o);
  const stopFollowing = o.placement.onLeaseLost(() => o.host.passivateAll());
  const stopAdopting = o.placement.onNodeLapsed((node) => {
    adopt().catch((err: unknown) => o.log.error({ err, node, kind: o.kind }, 'adopting the actors of a lapsed node failed'));
  });
  return {
    ref,
    stop: () => {
      stopFollowing();
      stopAdopting();
      ref.stop();
    },
  };
}
