import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { BoardBatcher, MAX_PER_FRAME } from '../../gateways/ws/board-batcher.js';

// The operators' lock board, one frame per department per tick, with a simulated clock.

interface View {
  conversationId: string;
  state: 'idle' | 'locked';
}

function batcher(tickMs = 20) {
  const clock = new ManualClock();
  const frames: Array<{ departmentId: string; views: View[]; at: number }> = [];
  const b = new BoardBatcher<View>(clock, tickMs, (departmentId, views) => frames.push({ departmentId, views, at: clock.now() }));
  return { clock, frames, b, start: clock.now() };
}

describe('the lock-board batcher', () => {
  it('sends the changes of one tick as one frame per department, a tick after the first of them', () => {
    const { clock, frames, b, start } = batcher();
    b.add('d1', { conversationId: 'c1', state: 'locked' });
    clock.advance(5);
    b.add('d1', { conversationId: 'c2', state: 'locked' });
    b.add('d2', { conversationId: 'c3', state: 'locked' });
    clock.advance(14);
    expect(frames).toEqual([]);
    clock.advance(1);
    expect(frames).toEqual([
      { departmentId: 'd1', views: [{ conversationId: 'c1', state: 'locked' }, { conversationId: 'c2', state: 'locked' }], at: start + 20 },
      { departmentId: 'd2', views: [{ conversationId: 'c3', state: 'locked' }], at: start + 20 },
    ]);
  });

  it('keeps the latest view of a conversation within a tick: a lock taken and given back ends free', () => {
    const { clock, frames, b } = batcher();
    b.add('d1', { conversationId: 'c1', state: 'locked' });
    b.add('d1', { conversationId: 'c1', state: 'idle' });
    clock.advance(20);
    expect(frames.map((f) => f.views)).toEqual([[{ conversationId: 'c1', state: 'idle' }]]);
  });

  it('starts a new tick with the next change, and arms no timer while the board is quiet', () => {
    const { clock, frames, b, start } = batcher();
    b.add('d1', { conversationId: 'c1', state: 'locked' });
    clock.advance(20);
    expect(clock.pending()).toBe(0);
    clock.advance(1_000);
    expect(frames).toHaveLength(1);
    b.add('d1', { conversationId: 'c1', state: 'idle' });
    clock.advance(20);
    expect(frames.map((f) => [f.at - start, f.views])).toEqual([
      [20, [{ conversationId: 'c1', state: 'locked' }]],
      [1_040, [{ conversationId: 'c1', state: 'idle' }]],
    ]);
  });

  it('splits a tick with very many changes into frames of at most MAX_PER_FRAME, all sent in that tick', () => {
    const { clock, frames, b } = batcher();
    const n = MAX_PER_FRAME * 2 + 1;
    for (let i = 0; i < n; i++) b.add('d1', { conversationId: `c${i}`, state: 'idle' });
    clock.advance(20);
    expect(frames.map((f) => f.views.length)).toEqual([MAX_PER_FRAME, MAX_PER_FRAME, 1]);
    expect(new Set(frames.flatMap((f) => f.views.map((v) => v.conversationId))).size).toBe(n);
  });

  it('drops what is waiting when closed', () => {
    const { clock, frames, b } = batcher();
    b.add('d1', { conversationId: 'c1', state: 'locked' });
    b.close();
    expect(clock.pending()).toBe(0);
    clock.advance(100);
    expect(frames).toEqual([]);
  });
});
