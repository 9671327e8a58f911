import { describe, expect, it } from 'vitest';
import { isLateEvening, isQuietHours, localHour, quietHoursEnd } from '../../src/domain/quiet-hours.js';

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

  it('reads the local hour the same with its kept quarter hour as without, minute by minute through offset changes and odd offsets', () => {
    const zones = [NY, 'Asia/Kathmandu', 'Australia/Eucla', 'Australia/Lord_Howe', 'America/St_Johns', 'Europe/London'];
    const plain = (t: number, timeZone: string) =>
      Number(new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', hour: '2-digit' }).formatToParts(t).find((p) => p.type === 'hour')!.value);
    // Both of 2026's offset changes of each zone that has them (New York's, London's, Lord Howe's
    // 30-minute one, St John's), and a day of each zone, minute by minute, in order and back.
    const spans = ['2026-03-08T04:00:00Z', '2026-11-01T03:00:00Z', '2026-03-29T00:00:00Z', '2026-04-04T13:00:00Z', '2026-10-03T14:00:00Z', '2026-01-05T00:00:00Z'];
    for (const start of spans) {
      const from = at(start);
      const minutes = Array.from({ length: 24 * 60 }, (_, i) => from + i * 60_000 + (i % 7) * 1000);
      for (const t of [...minutes, ...minutes.reverse()]) {
        for (const zone of zones) expect(localHour(t, zone), `${zone} at ${new Date(t).toISOString()}`).toBe(plain(t, zone));
      }
    }
    // Local mean time (New York's before 1883: UTC-4:56:02) is never kept: it changes hour off the quarter.
    const lmt = at('1850-06-01T04:56:02Z');
    expect(localHour(lmt - 1000, NY)).toBe(plain(lmt - 1000, NY));
    expect(localHour(lmt, NY)).toBe(plain(lmt, NY));
  });
});
