import type { Clock, TimerHandle } from '../../src/clock.js';

// The operators' lock board, coalesced per tick. A busy department changes locks hundreds of times
// a second and a thousand operators may watch it: one frame per change per operator is a million
// frames a second, more than uWS can write on a small machine. Instead the changes of one tick are
// collected per department and go out as one frame carrying every conversation that changed since
// the last one.
//
// Latest wins per conversation: operators watch the current state, so a lock taken and released
// within one tick is reported once, as released. The batch keeps the newest view of every
// conversation that changed, so no change is lost: the board after each frame shows what the
// actors showed when the frame was built. A change that arrives after the frame was built starts
// the next tick.
//
// The tick starts with the first change after a quiet spell, so a change waits at most one tick;
// an idle board arms no timer. A tick with very many changes (a mass release) is sent as several
// frames of at most MAX_PER_FRAME entries, so that no single frame approaches a socket's
// backpressure limit and gets every operator dropped as too slow.

/** About 100 KiB of lock views. */
export const MAX_PER_FRAME = 500;

export interface Keyed {
  conversationId: string;
}

export class BoardBatcher<V extends Keyed> {
  private pending = new Map<string, Map<string, V>>();
  private timer: TimerHandle | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly tickMs: number,
    /** Called per department per tick (more than once past MAX_PER_FRAME), with the latest view of each conversation that changed. */
    private readonly flush: (departmentId: string, views: V[]) => void,
  ) {}

  add(departmentId: string, view: V): void {
    let board = this.pending.get(departmentId);
    if (!board) this.pending.set(departmentId, (board = new Map()));
    board.set(view.conversationId, view);
    this.timer ??= this.clock.setTimeout(() => this.tick(), this.tickMs);
  }

  /** Stops the tick; changes not yet sent are dropped (the sockets are closing). */
  close(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.pending.clear();
  }

  private tick(): void {
    this.timer = null;
    const due = this.pending;
    this.pending = new Map();
    for (const [departmentId, board] of due) {
      const views = [...board.values()];
      for (let i = 0; i < views.length; i += MAX_PER_FRAME) this.flush(departmentId, views.slice(i, i + MAX_PER_FRAME));
    }
  }
}
