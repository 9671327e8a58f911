// Bulk sends are refused or held during quiet hours (22:00–06:00 in the department's time zone),
// so a test that sends in bulk on a clock it does not set must not depend on the hour it runs at.

/** A fixed-offset time zone in which it is about noon at `now`. */
export function middayTimeZone(now: number): string {
  const shift = ((12 - new Date(now).getUTCHours() + 36) % 24) - 12;
  return shift === 0 ? 'Etc/GMT' : `Etc/GMT${shift > 0 ? '-' : '+'}${Math.abs(shift)}`;
}
