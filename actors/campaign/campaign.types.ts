// The campaign's vocabulary: its states, what it is told, what it answers. Plain data only.

export const CAMPAIGN_STATES = ['draft', 'scheduled', 'sending', 'paused', 'completed', 'cancelled'] as const;
export type CampaignState = (typeof CAMPAIGN_STATES)[number];

/** Why a campaign is paused: a person paused it, or it reached 22:00 and resumes at 06:00 by itself. */
export const PAUSE_REASONS = ['person', 'quietHours'] as const;
export type PauseReason = (typeof PAUSE_REASONS)[number];

export interface CampaignInput {
  campaignId: string;
  /** The department's IANA time zone: quiet hours (22:00–06:00) are counted there. */
  timeZone: string;
  /** Scheduled start, validated beforehand (see scheduleRefusal); null: a draft started by a person. */
  scheduledAt: number | null;
  now: number;
}

export interface CampaignContext {
  campaignId: string;
  timeZone: string;
  /** The latest time the machine knows of (the latest event's `now`, or a deadline a timer reached). */
  asOf: number;
  // Deadlines, absolute; the timers are derived from them, so a restored snapshot re-arms exactly.
  /** Scheduled start (state `scheduled`). */
  startAt: number | null;
  /** The next 22:00 while sending: the campaign pauses itself then. */
  pauseAt: number | null;
  /** The next 06:00 while paused for quiet hours: it resumes by itself then. */
  resumeAt: number | null;
  startedAt: number | null;
  pausedAt: number | null;
  endedAt: number | null;
}

export type StartEvent = { type: 'START'; now: number; sendAnyway: boolean };
export type PauseEvent = { type: 'PAUSE'; now: number };
export type ResumeEvent = { type: 'RESUME'; now: number; sendAnyway: boolean };
export type CancelEvent = { type: 'CANCEL'; now: number };
/** Time passed (a timer fired, or the actor was restored): apply every deadline due by `now`, re-arm the rest. */
export type TickEvent = { type: 'TICK'; now: number };
/** Every recipient has left the campaign's queue (sent, failed, skipped…). */
export type ExhaustedEvent = { type: 'EXHAUSTED'; now: number };

export type CampaignEvent = StartEvent | PauseEvent | ResumeEvent | CancelEvent | TickEvent | ExhaustedEvent;

/** Why a command was refused; the host turns it into the error with the same code. */
export type CampaignRefusalCode = 'campaign_state' | 'quiet_hours' | 'confirm_late_send';

export type CampaignEmitted = { type: 'refused'; code: CampaignRefusalCode; message: string };
