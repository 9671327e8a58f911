import { describe, expect, it } from 'vitest';
import { SimulatedClock, createActor } from 'xstate';
import { MAX_SCHEDULE_AHEAD_MS, campaignMachine, campaignStatus, scheduleRefusal } from '../../actors/campaign/index.js';
import type { CampaignEmitted, CampaignEvent, CampaignInput, CampaignSnapshot } from '../../actors/campaign/index.js';

// The campaign machine on xstate's SimulatedClock: its timers run on that clock and every event is
// stamped with its time, so "pauses at 22:00" means at 22:00 exactly, without sleeping.

const HOUR = 3_600_000;
const MIN = 60_000;
const NY = 'America/New_York';
const LA = 'America/Los_Angeles';
const KOLKATA = 'Asia/Kolkata';
// Monday 5 January 2026: New York is UTC-5, Los Angeles UTC-8, Kolkata UTC+5:30 (no DST anywhere).
const nyTime = (day: number, hour: number, minute = 0) => Date.UTC(2026, 0, day, hour + 5, minute);
const laTime = (day: number, hour: number, minute = 0) => Date.UTC(2026, 0, day, hour + 8, minute);

type Unstamped<E> = E extends unknown ? Omit<E, 'now'> : never;

function start(input: Partial<CampaignInput> & { now: number }, snapshot?: CampaignSnapshot) {
  const clock = new SimulatedClock();
  clock.set(input.now);
  const full: CampaignInput = { campaignId: 'c-1', timeZone: NY, scheduledAt: null, ...input };
  const actor = snapshot ? createActor(campaignMachine, { clock, input: full, snapshot }) : createActor(campaignMachine, { clock, input: full });
  const refused: CampaignEmitted[] = [];
  actor.on('refused', (e) => refused.push(e));
  actor.start();
  return {
    actor,
    clock,
    refused,
    send: (event: Unstamped<CampaignEvent>) => actor.send({ ...event, now: clock.now() } as CampaignEvent),
    /**
     * Moves the clock to `at` a minute at a time, firing the timers due on the way. (SimulatedClock
     * arms a timer set while it fires others from the end of the increment, so one long increment
     * would start the next timer late; a host's real timers start from when the last one fired.)
     */
    advanceTo: (at: number) => {
      while (clock.now() < at) clock.increment(Math.min(MIN, at - clock.now()));
    },
    status: () => campaignStatus(actor.getSnapshot()),
    context: () => actor.getSnapshot().context,
  };
}

describe('campaign machine: starting', () => {
  it('starts sending at once from a draft during the day, and pauses itself at 22:00', () => {
    const c = start({ now: nyTime(5, 12) });
    expect(c.status().state).toBe('draft');
    c.send({ type: 'START', sendAnyway: false });
    expect(c.status()).toMatchObject({ state: 'sending', pausedReason: null, pauseAt: nyTime(5, 22) });
    c.advanceTo(nyTime(5, 22) - 1);
    expect(c.status().state).toBe('sending');
    c.advanceTo(nyTime(5, 22));
    expect(c.status()).toMatchObject({ state: 'paused', pausedReason: 'quietHours', resumeAt: nyTime(6, 6) });
  });

  it('resumes at 06:00 after quiet hours across midnight, and pauses again at the next 22:00', () => {
    const c = start({ now: nyTime(5, 21) });
    c.send({ type: 'START', sendAnyway: true });
    c.advanceTo(nyTime(6, 0, 30));
    expect(c.status()).toMatchObject({ state: 'paused', pausedReason: 'quietHours' });
    c.advanceTo(nyTime(6, 6) - 1);
    expect(c.status().state).toBe('paused');
    c.advanceTo(nyTime(6, 6));
    expect(c.status()).toMatchObject({ state: 'sending', pauseAt: nyTime(6, 22) });
  });

  it('refuses to start after 20:00 without sendAnyway, and starts with it', () => {
    const c = start({ now: nyTime(5, 20, 15) });
    c.send({ type: 'START', sendAnyway: false });
    expect(c.status().state).toBe('draft');
    expect(c.refused).toEqual([expect.objectContaining({ code: 'confirm_late_send' })]);
    c.send({ type: 'START', sendAnyway: true });
    expect(c.status()).toMatchObject({ state: 'sending', pauseAt: nyTime(5, 22) });
  });

  it('refuses to start during quiet hours, before 06:00 as after 22:00', () => {
    for (const now of [nyTime(5, 22), nyTime(6, 5, 59)]) {
      const c = start({ now });
      c.send({ type: 'START', sendAnyway: true });
      expect(c.status().state).toBe('draft');
      expect(c.refused.map((r) => r.code)).toEqual(['quiet_hours']);
    }
  });

  it("counts quiet hours in the department's time zone", () => {
    // 21:30 in New York is 18:30 in Los Angeles: a Los Angeles campaign may start without confirming
    // and pauses at 22:00 Los Angeles time, 01:00 in New York.
    const c = start({ now: nyTime(5, 21, 30), timeZone: LA });
    c.send({ type: 'START', sendAnyway: false });
    expect(c.status()).toMatchObject({ state: 'sending', pauseAt: laTime(5, 22) });
    expect(laTime(5, 22)).toBe(nyTime(6, 1));
    c.advanceTo(laTime(5, 22));
    expect(c.status()).toMatchObject({ state: 'paused', pausedReason: 'quietHours', resumeAt: laTime(6, 6) });
  });

  it('handles a half-hour time zone (Kolkata)', () => {
    const noonKolkata = Date.UTC(2026, 0, 5, 6, 30);
    const c = start({ now: noonKolkata, timeZone: KOLKATA });
    c.send({ type: 'START', sendAnyway: false });
    expect(c.status().pauseAt).toBe(Date.UTC(2026, 0, 5, 16, 30));
  });
});

describe('campaign machine: scheduling', () => {
  it('starts a scheduled campaign at its time exactly', () => {
    const c = start({ now: nyTime(5, 9), scheduledAt: nyTime(5, 14) });
    expect(c.status()).toMatchObject({ state: 'scheduled', scheduledAt: nyTime(5, 14) });
    c.advanceTo(nyTime(5, 14) - 1);
    expect(c.status().state).toBe('scheduled');
    c.advanceTo(nyTime(5, 14));
    expect(c.status()).toMatchObject({ state: 'sending', pauseAt: nyTime(5, 22) });
    expect(c.context().startedAt).toBe(nyTime(5, 14));
  });

  it('can be started early or cancelled before its time', () => {
    const early = start({ now: nyTime(5, 9), scheduledAt: nyTime(5, 14) });
    early.send({ type: 'START', sendAnyway: false });
    expect(early.status().state).toBe('sending');
    const dropped = start({ now: nyTime(5, 9), scheduledAt: nyTime(5, 14) });
    dropped.send({ type: 'CANCEL' });
    dropped.advanceTo(nyTime(5, 15));
    expect(dropped.status().state).toBe('cancelled');
  });

  it('accepts a time at most a year ahead, within 06:00–22:00, after 20:00 only with sendAnyway', () => {
    const now = nyTime(5, 12);
    expect(scheduleRefusal(now, now + MAX_SCHEDULE_AHEAD_MS, NY, false)).toBeNull();
    expect(scheduleRefusal(now, now + MAX_SCHEDULE_AHEAD_MS + 1, NY, false)?.code).toBe('schedule_out_of_range');
    expect(scheduleRefusal(now, now, NY, false)?.code).toBe('schedule_out_of_range');
    expect(scheduleRefusal(now, nyTime(5, 22), NY, true)?.code).toBe('quiet_hours');
    expect(scheduleRefusal(now, nyTime(6, 5, 59), NY, true)?.code).toBe('quiet_hours');
    expect(scheduleRefusal(now, nyTime(6, 6), NY, false)).toBeNull();
    expect(scheduleRefusal(now, nyTime(5, 20), NY, false)?.code).toBe('confirm_late_send');
    expect(scheduleRefusal(now, nyTime(5, 20), NY, true)).toBeNull();
    // 20:00 in New York is 17:00 in Los Angeles: no confirmation needed there.
    expect(scheduleRefusal(now, nyTime(5, 20), LA, false)).toBeNull();
  });
});

describe('campaign machine: pause, resume, cancel, complete', () => {
  it('pauses for a person and waits for them, also past 06:00', () => {
    const c = start({ now: nyTime(5, 10) });
    c.send({ type: 'START', sendAnyway: false });
    c.advanceTo(nyTime(5, 11));
    c.send({ type: 'PAUSE' });
    expect(c.status()).toMatchObject({ state: 'paused', pausedReason: 'person', pauseAt: null });
    c.advanceTo(nyTime(6, 7));
    expect(c.status()).toMatchObject({ state: 'paused', pausedReason: 'person' });
    c.send({ type: 'RESUME', sendAnyway: false });
    expect(c.status()).toMatchObject({ state: 'sending', pauseAt: nyTime(6, 22) });
  });

  it('a pause during quiet hours outlasts the night; resuming in quiet hours is refused', () => {
    const c = start({ now: nyTime(5, 21) });
    c.send({ type: 'START', sendAnyway: true });
    c.advanceTo(nyTime(5, 23));
    c.send({ type: 'RESUME', sendAnyway: true });
    expect(c.refused.map((r) => r.code)).toEqual(['quiet_hours']);
    c.send({ type: 'PAUSE' });
    expect(c.status()).toMatchObject({ state: 'paused', pausedReason: 'person' });
    c.advanceTo(nyTime(6, 8));
    expect(c.status()).toMatchObject({ state: 'paused', pausedReason: 'person' });
  });

  it('resuming after 20:00 needs sendAnyway, as starting does', () => {
    const c = start({ now: nyTime(5, 10) });
    c.send({ type: 'START', sendAnyway: false });
    c.send({ type: 'PAUSE' });
    c.advanceTo(nyTime(5, 20, 30));
    c.send({ type: 'RESUME', sendAnyway: false });
    expect(c.refused.map((r) => r.code)).toEqual(['confirm_late_send']);
    c.send({ type: 'RESUME', sendAnyway: true });
    expect(c.status().state).toBe('sending');
  });

  it('completes when exhausted, and then refuses every command', () => {
    const c = start({ now: nyTime(5, 10) });
    c.send({ type: 'START', sendAnyway: false });
    c.send({ type: 'EXHAUSTED' });
    expect(c.status().state).toBe('completed');
    expect(c.context().endedAt).toBe(nyTime(5, 10));
    for (const type of ['START', 'RESUME'] as const) c.send({ type, sendAnyway: true });
    c.send({ type: 'PAUSE' });
    c.send({ type: 'CANCEL' });
    expect(c.refused.map((r) => r.code)).toEqual(['campaign_state', 'campaign_state', 'campaign_state', 'campaign_state']);
    expect(c.status().state).toBe('completed');
  });

  it('cancels from sending and from either pause; a cancelled campaign cannot start again', () => {
    for (const pause of [null, 'person', 'quietHours'] as const) {
      const c = start({ now: nyTime(5, 21) });
      c.send({ type: 'START', sendAnyway: true });
      if (pause === 'person') c.send({ type: 'PAUSE' });
      if (pause === 'quietHours') c.advanceTo(nyTime(5, 23));
      c.send({ type: 'CANCEL' });
      expect(c.status().state).toBe('cancelled');
      c.advanceTo(nyTime(6, 7));
      c.send({ type: 'START', sendAnyway: true });
      expect(c.status().state).toBe('cancelled');
      expect(c.refused.map((r) => r.code)).toEqual(['campaign_state']);
    }
  });

  it('judges an event after the deadline its late timer missed', () => {
    // No timer has fired (the clock was not advanced), but the event says it is 06:30: the 06:00
    // resume happens first, then the pause, from sending.
    const c = start({ now: nyTime(5, 21) });
    c.send({ type: 'START', sendAnyway: true });
    c.advanceTo(nyTime(5, 23));
    c.actor.send({ type: 'PAUSE', now: nyTime(6, 6, 30) });
    expect(c.status()).toMatchObject({ state: 'paused', pausedReason: 'person' });
    expect(c.context().pausedAt).toBe(nyTime(6, 6, 30));
  });
});

describe('campaign machine: restore', () => {
  it('re-arms exactly from a persisted snapshot: paused for quiet hours resumes at 06:00, not a millisecond off', () => {
    const first = start({ now: nyTime(5, 21) });
    first.send({ type: 'START', sendAnyway: true });
    first.advanceTo(nyTime(5, 23));
    const saved = JSON.parse(JSON.stringify(first.actor.getPersistedSnapshot())) as CampaignSnapshot;
    first.actor.stop();

    const restored = start({ now: nyTime(6, 2) }, saved);
    restored.send({ type: 'TICK' });
    expect(restored.status()).toMatchObject({ state: 'paused', pausedReason: 'quietHours', resumeAt: nyTime(6, 6) });
    restored.advanceTo(nyTime(6, 6) - 1);
    expect(restored.status().state).toBe('paused');
    restored.advanceTo(nyTime(6, 6));
    expect(restored.status()).toMatchObject({ state: 'sending', pauseAt: nyTime(6, 22) });
  });

  it('after a long outage, lands where it would have been: through the missed nights', () => {
    const first = start({ now: nyTime(5, 12) });
    first.send({ type: 'START', sendAnyway: false });
    const saved = JSON.parse(JSON.stringify(first.actor.getPersistedSnapshot())) as CampaignSnapshot;
    first.actor.stop();

    const atNight = start({ now: nyTime(7, 23) }, saved);
    atNight.send({ type: 'TICK' });
    expect(atNight.status()).toMatchObject({ state: 'paused', pausedReason: 'quietHours', resumeAt: nyTime(8, 6) });

    const inTheDay = start({ now: nyTime(7, 9) }, saved);
    inTheDay.send({ type: 'TICK' });
    expect(inTheDay.status()).toMatchObject({ state: 'sending', pauseAt: nyTime(7, 22) });
    inTheDay.advanceTo(nyTime(7, 22));
    expect(inTheDay.status().state).toBe('paused');
  });

  it('a scheduled campaign restored before its time starts at its time', () => {
    const first = start({ now: nyTime(5, 9), scheduledAt: nyTime(5, 14) });
    const saved = JSON.parse(JSON.stringify(first.actor.getPersistedSnapshot())) as CampaignSnapshot;
    first.actor.stop();
    const restored = start({ now: nyTime(5, 13, 59) }, saved);
    restored.send({ type: 'TICK' });
    restored.advanceTo(nyTime(5, 14) - 1);
    expect(restored.status().state).toBe('scheduled');
    restored.advanceTo(nyTime(5, 14) + MIN);
    expect(restored.status().state).toBe('sending');
    expect(restored.context().startedAt).toBe(nyTime(5, 14));
    expect(HOUR).toBe(60 * MIN);
  });
});
