import type { LockDurations } from '../../actors/conversation/index.js';
import type { CoreContext } from '../services/context.js';
import type { MessagingService } from '../services/messaging-service.js';
import type { Idempotency } from '../services/idempotency.js';
import type { CoreEvent } from '../events.js';
import { ActorHost } from '../actors-runtime/actor-host.js';
import { LocalActorRef } from '../actors-runtime/actor-ref.js';
import { NatsActorRef } from '../actors-runtime/nats-actor-ref.js';
import type { Placement } from '../actors-runtime/placement.js';
import type { Bus } from '../bus/bus.js';
import { ConversationLockBehavior } from './conversation-lock-actor.js';
import { localLockActors } from './local-lock-actors.js';
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
    new ConversationLockBehavior({ store: w.c.store, clock: w.c.clock, log: w.c.log, durations: w.durations, emit: w.emit }),
    { clock: w.c.clock, log: w.c.log, passivateAfterMs: w.passivateAfterMs, owns: (id) => w.placement.owns(CONVERSATION_ACTOR, id) },
  );
  if (!w.cluster) {
    const service = new LockService(w.c, new LocalActorRef(host), localLockActors(host), w.messaging, w.idempotency, w.placement);
    return { service, host, stop: () => undefined };
  }
  const ref = new NatsActorRef({
    kind: CONVERSATION_ACTOR,
    host,
    placement: w.placement,
    bus: w.cluster.bus,
    prefix: 'sb',
    requestTimeoutMs: w.cluster.requestTimeoutMs,
    deadlineMs: w.cluster.deadlineMs,
    log: w.c.log.child({ component: 'actor-ref' }),
  });
  // Without a lease this node may no longer run any actor: other nodes may take them over now.
  const stopFollowing = w.placement.onLeaseLost(() => host.passivateAll());
  const local = localLockActors(host, (id, command) => ref.tell(id, command));
  const service = new LockService(w.c, ref, local, w.messaging, w.idempotency, w.placement);
  return {
    service,
    host,
    stop: () => {
      stopFollowing();
      ref.stop();
    },
  };
}
