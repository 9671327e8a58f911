import type { CampaignContext, CampaignState, PauseReason } from './campaign.types.js';

/** What a live or persisted snapshot looks like to a reader. */
export interface CampaignSnapshotLike {
  value: unknown;
  context: CampaignContext;
}

export interface CampaignStatus {
  state: CampaignState;
  pausedReason: PauseReason | null;
  scheduledAt: number | null;
  /** The next automatic change: the 22:00 pause while sending, the 06:00 resume while paused for quiet hours. */
  pauseAt: number | null;
  resumeAt: number | null;
}

export function campaignStatus(snapshot: CampaignSnapshotLike): CampaignStatus {
  const { value, context } = snapshot;
  let state: CampaignState;
  let pausedReason: PauseReason | null = null;
  if (typeof value === 'object' && value !== null && 'paused' in value) {
    state = 'paused';
    pausedReason = (value as { paused: PauseReason }).paused;
  } else {
    // `created` is transient: a snapshot is never read in it.
    state = value === 'created' ? 'draft' : (value as CampaignState);
  }
  return { state, pausedReason, scheduledAt: context.startAt, pauseAt: context.pauseAt, resumeAt: context.resumeAt };
}
