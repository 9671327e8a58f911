import { isLateEvening, isQuietHours, quietHoursEnd, quietHoursStart } from '../../src/domain/quiet-hours.js';
import type { CampaignContext, CampaignRefusalCode } from './campaign.types.js';

// The sending-hours rules of a campaign (DOMAIN.md "Opt-out and compliance"), as pure functions of
// the time and the department's time zone; the machine's guards and the service's checks both ask
// these, so the two never disagree.

/** A campaign may be scheduled at most this far ahead. */
export const MAX_SCHEDULE_AHEAD_MS = 365 * 24 * 3600_000;

export type ScheduleRefusal = { code: 'schedule_out_of_range' | 'quiet_hours' | 'confirm_late_send'; message: string };

/** Why a start at `scheduledAt` (asked at `now`) is refused, or null when it is fine. */
export function scheduleRefusal(now: number, scheduledAt: number, timeZone: string, sendAnyway: boolean): ScheduleRefusal | null {
  if (scheduledAt <= now) return { code: 'schedule_out_of_range', message: 'scheduledAt is in the past; start the campaign instead' };
  if (scheduledAt > now + MAX_SCHEDULE_AHEAD_MS) return { code: 'schedule_out_of_range', message: 'A campaign can be scheduled at most a year ahead' };
  if (isQuietHours(scheduledAt, timeZone)) {
    return { code: 'quiet_hours', message: `Campaigns send only between 06:00 and 22:00 (${timeZone}); schedule it in those hours` };
  }
  if (isLateEvening(scheduledAt, timeZone) && !sendAnyway) {
    return { code: 'confirm_late_send', message: `That is after 20:00 for your recipients (${timeZone}); confirm with sendAnyway` };
  }
  return null;
}

/** Why a person may not start (or resume) sending at `at`, or null. */
export function startRefusal(at: number, timeZone: string, sendAnyway: boolean): { code: CampaignRefusalCode; message: string } | null {
  if (isQuietHours(at, timeZone)) {
    return { code: 'quiet_hours', message: `Campaigns send only between 06:00 and 22:00 (${timeZone}); schedule it or start after 06:00` };
  }
  if (isLateEvening(at, timeZone) && !sendAnyway) {
    return { code: 'confirm_late_send', message: `It is after 20:00 for your recipients (${timeZone}); confirm with sendAnyway to send now` };
  }
  return null;
}

export { quietHoursEnd, quietHoursStart };

/** The deadline the current state waits for, as the timer's delay from `asOf`; never negative. */
export function timeUntil(deadline: number | null, asOf: number): number {
  // A state arms only the timer of a deadline it has; 0 makes a missing one a harmless tick.
  return deadline === null ? 0 : Math.max(0, deadline - asOf);
}

/** Which deadline has passed by `at` in the state the context describes (the earliest first). */
export function dueDeadline(state: 'scheduled' | 'sending' | 'quietHours', context: CampaignContext, at: number): boolean {
  const deadline = state === 'scheduled' ? context.startAt : state === 'sending' ? context.pauseAt : context.resumeAt;
  return deadline !== null && deadline <= at;
}
