import type { User } from '../../src/domain/types.js';

// What the gateway keeps per socket (uWS user data). Kept small on purpose: 19,000 sockets per node
// is a design target, and the user record is shared between a user's sockets.

export interface Connection {
  /** Unique on this node; the lock actors know holders' connections by it. */
  readonly id: string;
  /** Shared by all of the user's sockets on this node, without the password hash (see ws-gateway). */
  user: User;
  /** A userChanged event arrived while this socket's upgrade read the record: re-read it on open. */
  readonly userStale: boolean;
  readonly sessionTokenHash: string;
  /** The session's end: its sockets are closed (sessionEnded) then, by the session's timer (session-timers.ts). */
  readonly sessionExpiresAt: number;
  /** Accounts subscribed to (account ids), created on first subscribe. */
  accounts: Set<string> | null;
  /** Departments whose lock board is watched. */
  boards: Set<string> | null;
  /** Conversations this socket has open (for the lock's connection tracking). */
  open: Set<string> | null;
  /** Token bucket for the per-connection command rate. */
  tokens: number;
  refilledAt: number;
  /** Consecutive frames refused for rate; past a limit the socket is closed. */
  strikes: number;
  closed: boolean;
  /** The last command queued on this socket (one connection's commands run in order); null when none is. */
  chain: Promise<void> | null;
}

export interface RateLimit {
  perSecond: number;
  burst: number;
  /** Frames refused in a row before the socket is closed. */
  maxStrikes: number;
}

/** Takes one token; false when the connection is over its rate. */
export function takeToken(c: Connection, limit: RateLimit, now: number): boolean {
  const elapsed = now - c.refilledAt;
  if (elapsed > 0) {
    c.tokens = Math.min(limit.burst, c.tokens + (elapsed * limit.perSecond) / 1000);
    c.refilledAt = now;
  }
  if (c.tokens >= 1) {
    c.tokens -= 1;
    c.strikes = 0;
    return true;
  }
  c.strikes += 1;
  return false;
}
