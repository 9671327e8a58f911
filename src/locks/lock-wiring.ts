import type { LockDurations } from '../../actors/conversation/index.js';
import type { CoreContext } from '../services/context.js';
import type { MessagingService } from '../services/messaging-service.js';
import type { Idempotency } from '../services/idempotency.js';
import { isConnectionOf, nodeOfConnection, type CoreEvent } from '../events.js';
import type { Logger } from '../logger.js';
import { ActorHost } from '../actors-runtime/actor-host.js';
import { LocalActorRef } from '../actors-runtime/actor-ref.js';
import { joinCluster } from '../actors-runtime/nats-actor-ref.js';
import type { Placement } from '../actors-runtime/placement.js';
import { SUBJECT_PREFIX, type Bus } from '../bus/bus.js';
import { ConversationLockBehavior } from './conversation-lock-actor.js';
import { hostedViews, localLockActors } from './local-lock-actors.js';
import { LOCK_VIEWS_TIMEOUT_MS, otherNodesLockViews, serveLockViews } from './cluster-lock-views.js';
import { CONVERSATION_ACTOR, type LockCommand, type LockReply } from './lock-commands.js';
import { LockService } from './lock-service.js';

export interface LockWiring {
  c: CoreContext;
  messaging: MessagingService;
  idempotency: Idempotency;
  durations: LockDurations;
  passivateAfterMs: number;
  placement: Placement;
  emit: (e: CoreEvent) => void;
  /** This process among the runs of its node id (CoreEvents.boot): its connection ids carry it. */
  boot: string;
  /** A cluster: commands reach the conversation's owning node over this bus. Absent: one node, in process. */
  cluster?: { bus: Bus; requestTimeoutMs: number; deadlineMs: number };
}

export interface Locks {
  service: LockService;
  host: ActorHost<LockCommand, LockReply>;
  /** Stops the node's part in the cluster (answering other nodes, following its lease). */
  stop(): void;
}

/**
 * One node's lock service over its own actor host: reached through the in-process reference on a
 * single node, through NATS to whichever node placement gives the conversation in a cluster.
 */
export function createLocks(w: LockWiring): Locks {
  const host = new ActorHost(
    new ConversationLockBehavior({
      store: w.c.store,
      clock: w.c.clock,
      log: w.c.log,
      durations: w.durations,
      emit: w.emit,
      liveConnections: liveConnections(w.placement, w.boot, w.c.log),
    }),
    { clock: w.c.clock, log: w.c.log, passivateAfterMs: w.passivateAfterMs, owns: (id) => w.placement.owns(CONVERSATION_ACTOR, id) },
  );
  if (!w.cluster) {
    const service = new LockService(w.c, new LocalActorRef(host), localLockActors(host), w.messaging, w.idempotency, w.placement);
    return { service, host, stop: () => undefined };
  }
  // The lock service is made below; the callback runs only once a node lapses.
  const cluster = joinCluster(
    {
      kind: CONVERSATION_ACTOR,
      host,
      placement: w.placement,
      prefix: SUBJECT_PREFIX,
      ...w.cluster,
      log: w.c.log.child({ component: 'actor-ref' }),
    },
    (): Promise<void> => service.adoptOrphans(),
  );
  const views = { bus: w.cluster.bus, prefix: SUBJECT_PREFIX, placement: w.placement, timeoutMs: Math.min(w.cluster.requestTimeoutMs, LOCK_VIEWS_TIMEOUT_MS), log: w.c.log.child({ component: 'lock-views' }) };
  const stopServingViews = serveLockViews({ ...views, nodeId: w.placement.nodeId, views: (accountIds) => hostedViews(host, accountIds) });
  const local = localLockActors(
    host,
    (id, command) => cluster.ref.tell(id, command),
    (accountIds) => otherNodesLockViews(views, accountIds),
  );
  const service: LockService = new LockService(w.c, cluster.ref, local, w.messaging, w.idempotency, w.placement);
  return {
    service,
    host,
    stop: () => {
      stopServingViews();
      cluster.stop();
    },
  };
}

/**
 * Which connections are still open somewhere: this process's own, and those of other nodes whose
 * lease is live. A connection of this node id but an earlier run (a restart) is gone.
 */
function liveConnections(placement: Placement, boot: string, log: Logger): (connIds: readonly string[]) => Promise<ReadonlySet<string>> {
  return async (connIds) => {
    const self = placement.nodeId;
    let nodes = new Set<string>();
    if (connIds.some((id) => nodeOfConnection(id) !== self)) {
      try {
        nodes = await placement.liveNodes();
      } catch (err) {
        // Cannot tell: nobody loses a lock for it (the idle deadlines still run).
        log.warn({ err }, 'could not read which nodes are live; keeping the holders of a restored lock');
        return new Set(connIds);
      }
    }
    return new Set(connIds.filter((id) => isConnectionOf(id, self, boot) || (nodeOfConnection(id) !== self && nodes.has(nodeOfConnection(id)))));
  };
}
