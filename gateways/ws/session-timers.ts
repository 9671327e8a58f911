import type { Clock, TimerHandle } from '../../src/clock.js';

// When each session with open sockets on this node ends. One timer per session, not per socket
// (a person's tabs share a session) and not a sweep over every socket: a node with 19,000 sockets
// holds as many timers as it has sessions, and nothing runs until one of them is due.

/** Node's timers overflow past 2^31-1 ms (about 24.8 days) and fire at once; longer waits go in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Session {
  userId: string;
  expiresAt: number;
  sockets: number;
  timer: TimerHandle | null;
}

export class SessionTimers {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly clock: Clock,
    /** The session's end has come: close its sockets. Called once per session. */
    private readonly onExpired: (tokenHash: string, userId: string) => void,
  ) {}

  /** A socket of the session opened. */
  add(tokenHash: string, userId: string, expiresAt: number): void {
    const known = this.sessions.get(tokenHash);
    if (known) {
      known.sockets += 1;
      return;
    }
    const session: Session = { userId, expiresAt, sockets: 1, timer: null };
    this.sessions.set(tokenHash, session);
    this.arm(tokenHash, session);
  }

  /** A socket of the session closed; the last one takes the timer with it. */
  remove(tokenHash: string): void {
    const session = this.sessions.get(tokenHash);
    if (!session || --session.sockets > 0) return;
    if (session.timer) this.clock.clearTimeout(session.timer);
    this.sessions.delete(tokenHash);
  }

  /** Sessions with open sockets (and so with a timer). */
  size(): number {
    return this.sessions.size;
  }

  private arm(tokenHash: string, session: Session): void {
    const wait = Math.min(Math.max(0, session.expiresAt - this.clock.now()), MAX_TIMER_MS);
    session.timer = this.clock.setTimeout(() => {
      session.timer = null;
      if (this.sessions.get(tokenHash) !== session) return;
      if (this.clock.now() < session.expiresAt) return this.arm(tokenHash, session);
      this.sessions.delete(tokenHash);
      this.onExpired(tokenHash, session.userId);
    }, wait);
  }
}
