import { assign, emit, raise, setup } from 'xstate';
import type { SnapshotFrom } from 'xstate';
import { dueDeadline, quietHoursEnd, quietHoursStart, startRefusal, timeUntil } from './campaign.rules.js';
import type { CampaignContext, CampaignEmitted, CampaignEvent, CampaignInput, CampaignRefusalCode } from './campaign.types.js';

// A campaign: one actor per campaign. Pure: it reads no clock (every event carries the host's
// `now`), does no I/O, and says no through emitted `refused` events. Sending itself (handing
// recipients to the number queues) is the host's work while the machine is in `sending`.
//
//   draft ──START──▶ sending ──22:00──▶ paused.quietHours ──06:00──▶ sending
//   scheduled ──startAt──▶ sending        sending ──PAUSE──▶ paused.person ──RESUME──▶ sending
//   any of them ──CANCEL──▶ cancelled;    sending | paused ──EXHAUSTED──▶ completed
//
// Timers: XState does not persist pending `after` timers (statelyai/xstate#5331), so the deadlines
// live in context (startAt, pauseAt, resumeAt) and every delay is `deadline - asOf`. A timer that
// fires only moves `asOf` to its deadline; the `always` rules then apply it, each deadline computed
// from the one before (22:00 → the next 06:00 → the next 22:00…), so a campaign restored after a
// long outage walks through the days it missed and lands where it would have been. A TICK (sent by
// the host after a restore) re-enters the state, which re-arms its timer.
//
// Catch-up: an event whose `now` is past the current state's deadline first applies the deadline,
// then is judged in the state that led to (a RESUME at 06:01 whose timer is late is not refused
// for quiet hours).

type DeadlineState = 'scheduled' | 'sending' | 'quietHours';

const catchUp = (state: DeadlineState) => ({ guard: { type: 'isOverdueAtEventTime', params: { state } }, actions: ['observeEventTime', 'redeliver'] }) as const;

const refuseIn = (state: string) => ({ actions: ['observeEventTime', { type: 'refuseInThisState', params: { state } }] }) as const;

/** START or RESUME by a person: refused in quiet hours, after 20:00 without sendAnyway. */
const startNow = [
  { guard: 'startRefused', actions: ['observeEventTime', 'refuseStart'] },
  { target: '#campaign.sending', actions: ['observeEventTime', 'beginSending'] },
] as const;

const cancel = { target: '#campaign.cancelled', actions: ['observeEventTime', 'end'] } as const;
const exhaust = { target: '#campaign.completed', actions: ['observeEventTime', 'end'] } as const;

export const campaignMachine = setup({
  types: {
    context: {} as CampaignContext,
    events: {} as CampaignEvent,
    input: {} as CampaignInput,
    emitted: {} as CampaignEmitted,
  },
  guards: {
    hasStartAt: ({ context }) => context.startAt !== null,
    isOverdueAtEventTime: ({ context, event }, params: { state: DeadlineState }) =>
      dueDeadline(params.state, context, Math.max(context.asOf, event.now)),
    isDue: ({ context }, params: { state: DeadlineState }) => dueDeadline(params.state, context, context.asOf),
    startRefused: ({ context, event }) =>
      (event.type === 'START' || event.type === 'RESUME') &&
      startRefusal(Math.max(context.asOf, event.now), context.timeZone, event.sendAnyway) !== null,
  },
  actions: {
    observeEventTime: assign(({ context, event }) => ({ asOf: Math.max(context.asOf, event.now) })),
    reachDeadline: assign(({ context }, params: { deadline: 'startAt' | 'pauseAt' | 'resumeAt' }) => ({
      asOf: Math.max(context.asOf, context[params.deadline] ?? context.asOf),
    })),
    redeliver: raise(({ event }) => event),
    beginSending: assign(({ context }) => sendingFrom(context, context.asOf)),
    beginScheduled: assign(({ context }) => sendingFrom(context, context.startAt ?? context.asOf)),
    pauseForQuietHours: assign(({ context }) => {
      const at = context.pauseAt ?? context.asOf;
      return { pausedAt: at, resumeAt: quietHoursEnd(at, context.timeZone), pauseAt: null };
    }),
    resumeAfterQuietHours: assign(({ context }) => {
      const at = context.resumeAt ?? context.asOf;
      return { pausedAt: null, resumeAt: null, pauseAt: quietHoursStart(at, context.timeZone) };
    }),
    pauseByPerson: assign(({ context }) => ({ pausedAt: context.pausedAt ?? context.asOf, pauseAt: null, resumeAt: null })),
    end: assign(({ context }) => ({ endedAt: context.asOf, startAt: null, pauseAt: null, resumeAt: null })),
    refuseStart: emit(({ context, event }) => {
      const sendAnyway = event.type === 'START' || event.type === 'RESUME' ? event.sendAnyway : false;
      const refusal = startRefusal(context.asOf, context.timeZone, sendAnyway) ?? { code: 'campaign_state' as const, message: 'Cannot start now' };
      return { type: 'refused' as const, ...refusal };
    }),
    refuseInThisState: emit(({ event }, params: { state: string }) => refusal('campaign_state', `A campaign cannot ${verb(event.type)} when it is ${params.state}`)),
    refuseResumeInQuietHours: emit(({ context }) =>
      refusal('quiet_hours', `The campaign is paused for quiet hours and resumes by itself at 06:00 (${context.timeZone})`),
    ),
  },
  delays: {
    untilStart: ({ context }) => timeUntil(context.startAt, context.asOf),
    untilPause: ({ context }) => timeUntil(context.pauseAt, context.asOf),
    untilResume: ({ context }) => timeUntil(context.resumeAt, context.asOf),
  },
}).createMachine({
  id: 'campaign',
  context: ({ input }) => ({
    campaignId: input.campaignId,
    timeZone: input.timeZone,
    asOf: input.now,
    startAt: input.scheduledAt,
    pauseAt: null,
    resumeAt: null,
    startedAt: null,
    pausedAt: null,
    endedAt: null,
  }),
  initial: 'created',
  states: {
    created: { always: [{ guard: 'hasStartAt', target: 'scheduled' }, { target: 'draft' }] },
    draft: {
      on: {
        START: startNow,
        CANCEL: cancel,
        PAUSE: refuseIn('a draft'),
        RESUME: refuseIn('a draft'),
        TICK: { actions: 'observeEventTime' },
        EXHAUSTED: { actions: 'observeEventTime' },
      },
    },
    scheduled: {
      after: { untilStart: { target: 'scheduled', reenter: true, actions: { type: 'reachDeadline', params: { deadline: 'startAt' } } } },
      always: { guard: { type: 'isDue', params: { state: 'scheduled' } }, target: 'sending', actions: 'beginScheduled' },
      on: {
        START: [catchUp('scheduled'), ...startNow],
        CANCEL: [catchUp('scheduled'), cancel],
        PAUSE: [catchUp('scheduled'), refuseIn('scheduled')],
        RESUME: [catchUp('scheduled'), refuseIn('scheduled')],
        TICK: { target: 'scheduled', reenter: true, actions: 'observeEventTime' },
        EXHAUSTED: { actions: 'observeEventTime' },
      },
    },
    sending: {
      after: { untilPause: { target: 'sending', reenter: true, actions: { type: 'reachDeadline', params: { deadline: 'pauseAt' } } } },
      always: { guard: { type: 'isDue', params: { state: 'sending' } }, target: '#campaign.paused.quietHours', actions: 'pauseForQuietHours' },
      on: {
        PAUSE: [catchUp('sending'), { target: '#campaign.paused.person', actions: ['observeEventTime', 'pauseByPerson'] }],
        CANCEL: [catchUp('sending'), cancel],
        EXHAUSTED: [catchUp('sending'), exhaust],
        START: [catchUp('sending'), refuseIn('sending')],
        RESUME: [catchUp('sending'), refuseIn('sending')],
        TICK: { target: 'sending', reenter: true, actions: 'observeEventTime' },
      },
    },
    paused: {
      initial: 'person',
      on: {
        CANCEL: cancel,
        EXHAUSTED: exhaust,
        START: refuseIn('paused (resume it)'),
      },
      states: {
        person: {
          on: {
            RESUME: startNow,
            // Pausing a paused campaign changes nothing and is not an error (a retried click).
            PAUSE: { actions: 'observeEventTime' },
            TICK: { actions: 'observeEventTime' },
          },
        },
        quietHours: {
          after: { untilResume: { target: 'quietHours', reenter: true, actions: { type: 'reachDeadline', params: { deadline: 'resumeAt' } } } },
          always: { guard: { type: 'isDue', params: { state: 'quietHours' } }, target: '#campaign.sending', actions: 'resumeAfterQuietHours' },
          on: {
            RESUME: [catchUp('quietHours'), { actions: ['observeEventTime', 'refuseResumeInQuietHours'] }],
            // A person's pause outlasts the night: the campaign then waits for them, not for 06:00.
            PAUSE: [catchUp('quietHours'), { target: 'person', actions: ['observeEventTime', 'pauseByPerson'] }],
            CANCEL: [catchUp('quietHours'), cancel],
            EXHAUSTED: [catchUp('quietHours'), exhaust],
            TICK: { target: 'quietHours', reenter: true, actions: 'observeEventTime' },
          },
        },
      },
    },
    completed: {
      on: {
        START: refuseIn('completed'),
        PAUSE: refuseIn('completed'),
        RESUME: refuseIn('completed'),
        CANCEL: refuseIn('completed'),
        TICK: { actions: 'observeEventTime' },
        EXHAUSTED: { actions: 'observeEventTime' },
      },
    },
    cancelled: {
      on: {
        START: refuseIn('cancelled'),
        PAUSE: refuseIn('cancelled'),
        RESUME: refuseIn('cancelled'),
        CANCEL: { actions: 'observeEventTime' },
        TICK: { actions: 'observeEventTime' },
        EXHAUSTED: { actions: 'observeEventTime' },
      },
    },
  },
});

export type CampaignMachine = typeof campaignMachine;
export type CampaignSnapshot = SnapshotFrom<typeof campaignMachine>;

/** Sending from `at`: the day's 22:00 is the next pause. */
function sendingFrom(context: CampaignContext, at: number): Partial<CampaignContext> {
  return { startedAt: context.startedAt ?? at, startAt: null, pausedAt: null, resumeAt: null, pauseAt: quietHoursStart(at, context.timeZone) };
}

function refusal(code: CampaignRefusalCode, message: string): CampaignEmitted {
  return { type: 'refused', code, message };
}

function verb(type: CampaignEvent['type']): string {
  return type === 'START' ? 'start' : type === 'PAUSE' ? 'be paused' : type === 'RESUME' ? 'resume' : type === 'CANCEL' ? 'be cancelled' : 'do that';
}
