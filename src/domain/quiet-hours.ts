// Quiet hours (US practice, DOMAIN.md): scheduled and bulk sends only between 06:00 and 22:00 in
// the department's time zone; after 20:00 a bulk send needs an explicit "send anyway".

export const QUIET_START_HOUR = 22;
export const QUIET_END_HOUR = 6;
export const LATE_HOUR = 20;

interface LocalTime {
  hour: number;
  minute: number;
  second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function localTime(at: number, timeZone: string): LocalTime {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    formatters.set(timeZone, f);
  }
  const parts = Object.fromEntries(f.formatToParts(at).map((p) => [p.type, p.value]));
  return { hour: Number(parts.hour), minute: Number(parts.minute), second: Number(parts.second) };
}

// The local hour of a zone is the same all through a quarter of an hour of UTC (every zone's
// offset, and every change of it, falls on a quarter hour), and every queued text asks for it:
// the hour of the quarter hour last asked about is kept per zone, checked at both of its ends, so
// a zone whose offset is not a whole quarter hour (local mean time, long ago) is never cached.
const QUARTER_HOUR_MS = 15 * 60_000;
const hours = new Map<string, { from: number; hour: number }>();

/** The local hour (0–23) at `at` in `timeZone`. */
export function localHour(at: number, timeZone: string): number {
  const from = at - (((at % QUARTER_HOUR_MS) + QUARTER_HOUR_MS) % QUARTER_HOUR_MS);
  const kept = hours.get(timeZone);
  if (kept?.from === from) return kept.hour;
  const hour = localTime(from, timeZone).hour;
  if (localTime(from + QUARTER_HOUR_MS - 1, timeZone).hour !== hour) return localTime(at, timeZone).hour;
  hours.set(timeZone, { from, hour });
  return hour;
}

export function isQuietHours(at: number, timeZone: string): boolean {
  const hour = localHour(at, timeZone);
  return hour >= QUIET_START_HOUR || hour < QUIET_END_HOUR;
}

export function isLateEvening(at: number, timeZone: string): boolean {
  const { hour } = localTime(at, timeZone);
  return hour >= LATE_HOUR && hour < QUIET_START_HOUR;
}

/** When quiet hours end (the next 06:00 local), or `at` itself when it is not quiet. */
export function quietHoursEnd(at: number, timeZone: string): number {
  if (!isQuietHours(at, timeZone)) return at;
  const { hour } = localTime(at, timeZone);
  return nextLocalHour(at, timeZone, QUIET_END_HOUR, hour >= QUIET_START_HOUR ? 24 - hour + QUIET_END_HOUR : QUIET_END_HOUR - hour);
}

/** When quiet hours begin next (the next 22:00 local), or `at` itself when it is quiet already. */
export function quietHoursStart(at: number, timeZone: string): number {
  if (isQuietHours(at, timeZone)) return at;
  const { hour } = localTime(at, timeZone);
  return nextLocalHour(at, timeZone, QUIET_START_HOUR, QUIET_START_HOUR - hour);
}

/** The time `hoursUntil` wall-clock hours after the start of `at`'s hour, where the local clock reads `hour`:00. */
function nextLocalHour(at: number, timeZone: string, hour: number, hoursUntil: number): number {
  const { minute, second } = localTime(at, timeZone);
  // Wall-clock arithmetic, then correct for a change of UTC offset in between (DST nights): the
  // local time at the candidate must read hour:00.
  let candidate = at + hoursUntil * 3600_000 - minute * 60_000 - second * 1000 - (at % 1000);
  for (let i = 0; i < 3; i++) {
    const local = localTime(candidate, timeZone);
    const off = hour * 60 - (local.hour * 60 + local.minute);
    if (off === 0) break;
    const shortest = ((((off + 720) % 1440) + 1440) % 1440) - 720;
    candidate += shortest * 60_000;
  }
  return candidate;
}
