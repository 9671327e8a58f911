// The campaign machine's public surface.
//
// Hosting it: stamp every event with the host clock's `now`; listen to `refused` with
// `actor.on('refused', ...)`; persist `actor.getPersistedSnapshot()` after each transition.
// Restoring: `createActor(campaignMachine, { snapshot, input })`, start it, then send
// `{ type: 'TICK', now }`: that applies what the downtime missed and re-arms the timers.

export { campaignMachine } from './campaign.machine.js';
export type { CampaignMachine, CampaignSnapshot } from './campaign.machine.js';
export { CAMPAIGN_STATES, PAUSE_REASONS } from './campaign.types.js';
export type {
  CampaignInput,
  CampaignContext,
  CampaignState,
  PauseReason,
  CampaignEvent,
  CampaignEmitted,
  CampaignRefusalCode,
} from './campaign.types.js';
export { MAX_SCHEDULE_AHEAD_MS, scheduleRefusal, startRefusal } from './campaign.rules.js';
export type { ScheduleRefusal } from './campaign.rules.js';
export { campaignStatus } from './campaign.selectors.js';
export type { CampaignStatus } from './campaign.selectors.js';
