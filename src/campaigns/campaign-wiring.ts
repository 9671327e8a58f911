import type { CoreContext } from '../services/context.js';
import type { Idempotency } from '../services/idempotency.js';
import { ActorHost } from '../actors-runtime/actor-host.js';
import { LocalActorRef } from '../actors-runtime/actor-ref.js';
import { joinCluster } from '../actors-runtime/nats-actor-ref.js';
import type { Placement } from '../actors-runtime/placement.js';
import { SUBJECT_PREFIX, type Bus } from '../bus/bus.js';
import { CampaignBehavior } from './campaign-actor.js';
import { CampaignService, CAMPAIGN_ACTOR, type CampaignSettings } from './campaign-service.js';

export interface CampaignWiring {
  c: CoreContext;
  settings: CampaignSettings;
  idempotency: Idempotency;
  passivateAfterMs: number;
  placement: Placement;
  /** A cluster: commands reach the campaign's owning node over this bus. Absent: one node, in process. */
  cluster?: { bus: Bus; requestTimeoutMs: number; deadlineMs: number };
}

export interface Campaigns {
  service: CampaignService;
  /** Stops every campaign activation of this node and its part in the cluster. */
  stop(): Promise<void>;
}

/**
 * Campaigns on an actor host of their own, placed like conversations: single-active per campaign
 * (one node sends a campaign's texts), reached in process on one node and through NATS to the
 * owner in a cluster. A node that loses its lease stops its campaigns at once; the campaigns of a
 * node whose lease lapsed are resumed where placement puts them.
 */
export function createCampaigns(w: CampaignWiring): Campaigns {
  const behavior = new CampaignBehavior(w.c, w.settings);
  const host = new ActorHost(behavior, {
    clock: w.c.clock,
    log: w.c.log.child({ component: 'campaigns' }),
    passivateAfterMs: w.passivateAfterMs,
    owns: (id) => w.placement.owns(CAMPAIGN_ACTOR, id),
  });
  const close = async () => {
    await host.stop();
    behavior.close();
  };
  if (!w.cluster) {
    return { service: new CampaignService(w.c, w.idempotency, new LocalActorRef(host), w.placement, w.settings), stop: close };
  }
  // The service is made below; the callback runs only once a node lapses.
  const cluster = joinCluster(
    {
      kind: CAMPAIGN_ACTOR,
      host,
      placement: w.placement,
      prefix: SUBJECT_PREFIX,
      ...w.cluster,
      log: w.c.log.child({ component: 'actor-ref', kind: CAMPAIGN_ACTOR }),
    },
    (): Promise<number> => service.recover(),
  );
  const service: CampaignService = new CampaignService(w.c, w.idempotency, cluster.ref, w.placement, w.settings);
  return {
    service,
    stop: async () => {
      cluster.stop();
      await close();
    },
  };
}
