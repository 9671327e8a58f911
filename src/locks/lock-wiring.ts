import type { LockDurations } from '../../actors/conversation/index.js';
import type { CoreContext } from '../services/context.js';
import type { MessagingService } from '../services/messaging-service.js';
import type { Idempotency } from '../services/idempotency.js';
import type { CoreEvent } from '../events.js';
import { ActorHost } from '../actors-runtime/actor-host.js';
import { LocalActorRef } from '../actors-runtime/actor-ref.js';
import type { Placement } from '../actors-runtime/placement.js';
import { ConversationLockBehavior } from './conversation-lock-actor.js';
import { localLockActors } from './local-lock-actors.js';
import type { LockCommand, LockReply } from './lock-commands.js';
import { LockService } from './lock-service.js';

export interface LockWiring {
  c: CoreContext;
  messaging: MessagingService;
  idempotency: Idempotency;
  durations: LockDurations;
  passivateAfterMs: number;
  placement: Placement;
  emit: (e: CoreEvent) => void;
}

/** One node's lock service over its own actor host, reached through the in-process reference. */
export function createLocks(w: LockWiring): { service: LockService; host: ActorHost<LockCommand, LockReply> } {
  const host = new ActorHost(
    new ConversationLockBehavior({ store: w.c.store, clock: w.c.clock, log: w.c.log, durations: w.durations, emit: w.emit }),
    { clock: w.c.clock, log: w.c.log, passivateAfterMs: w.passivateAfterMs },
  );
  const service = new LockService(w.c, new LocalActorRef(host), localLockActors(host), w.messaging, w.idempotency, w.placement);
  return { service, host };
}
