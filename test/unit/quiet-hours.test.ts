import { describe, expect, it } from 'vitest';
import { isLateEvening, isQuietHours, quietHoursEnd } from '../../src/domain/quiet-hours.js';

const NY = 'America/New_York';
// 2026-01-05 is a Monday in winter (UTC-5); 2026-07-06 in summer (UTC-4).
const at = (iso: string) => Date.parse(iso);

describe('quiet hours', () => {
  it('are 22:00 to 06:00 in the department time zone', () => {
    expect(isQuietHours(at('2026-01-05T14:00:00-05:00'), NY)).toBe(false);
    expect(isQuietHours(at('2026-01-05T21:59:59-05:00'), NY)).toBe(false);
    expect(isQuietHours(at('2026-01-05T22:00:00-05:00'), NY)).toBe(true);
    expect(isQuietHours(at('2026-01-06T05:59:59-05:00'), NY)).toBe(true);
    expect(isQuietHours(at('2026-01-06T06:00:00-05:00'), NY)).toBe(false);
    // 23:00 in New York is 20:00 in Los Angeles: not quiet there.
    expect(isQuietHours(at('2026-01-05T23:00:00-05:00'), 'America/Los_Angeles')).toBe(false);
  });

  it('mark 20:00 to 22:00 as late evening (bulk sends need "send anyway")', () => {
    expect(isLateEvening(at('2026-01-05T19:59:00-05:00'), NY)).toBe(false);
    expect(isLateEvening(at('2026-01-05T20:00:00-05:00'), NY)).toBe(true);
    expect(isLateEvening(at('2026-01-05T22:00:00-05:00'), NY)).toBe(false);
  });

  it('end at the next 06:00 local time', () => {
    expect(quietHoursEnd(at('2026-01-05T23:17:42-05:00'), NY)).toBe(at('2026-01-06T06:00:00-05:00'));
    expect(quietHoursEnd(at('2026-01-06T02:00:00-05:00'), NY)).toBe(at('2026-01-06T06:00:00-05:00'));
    expect(quietHoursEnd(at('2026-07-06T22:30:00-04:00'), NY)).toBe(at('2026-07-07T06:00:00-04:00'));
    const noon = at('2026-01-05T12:00:00-05:00');
    expect(quietHoursEnd(noon, NY)).toBe(noon);
  });

  it('end at 06:00 on the night the clocks change', () => {
    // US DST starts 2026-03-08 at 02:00 (EST → EDT).
    expect(quietHoursEnd(at('2026-03-07T23:00:00-05:00'), NY)).toBe(at('2026-03-08T06:00:00-04:00'));
    // and ends 2026-11-01 at 02:00 (EDT → EST).
    expect(quietHoursEnd(at('2026-10-31T23:00:00-04:00'), NY)).toBe(at('2026-11-01T06:00:00-05:00'));
  });
});
