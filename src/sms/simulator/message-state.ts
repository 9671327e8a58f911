import type { MessageRow } from './simulator-db.js';

// An outbound message's state is a schedule fixed when it is sent (queued now, sent and delivered
// or failed later), read against the clock. Nothing has to run for the state to move on, so a
// stopped simulator picks up exactly where the clock is when it starts again.

export type OutboundState = 'queued' | 'sent' | 'delivered' | 'failed' | 'undelivered';

export function outboundState(m: MessageRow, now: number): OutboundState {
  if (m.final_at !== null && m.final_state !== null && now >= m.final_at) return m.final_state;
  if (m.sent_at !== null && now >= m.sent_at) return 'sent';
  return 'queued';
}
