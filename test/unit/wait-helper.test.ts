import { describe, expect, it } from 'vitest';
import type { CoreEvent, Listener } from '../../src/events.js';
import { until } from '../helpers/wait.js';

// The test helper that waits for a state reached through events: it must not sleep through the
// one event that says the state was reached.

describe('until', () => {
  it('hears an event that comes while its first check is still reading', async () => {
    const listeners = new Set<Listener>();
    const hub = { watchAll: (l: Listener) => (listeners.add(l), () => void listeners.delete(l)) };
    const change: CoreEvent = { type: 'userChanged', userId: 'U1' };
    let state = 'sending';
    let reads = 0;
    const reached = until(
      hub,
      async () => {
        const seen = state;
        if (reads++ === 0) {
          // The first read has its answer; the change lands and is announced before it returns.
          state = 'paused';
          for (const l of listeners) l(change);
        }
        return seen === 'paused' ? seen : null;
      },
      'the pause',
      1_000,
    );
    await expect(reached).resolves.toBe('paused');
  });
});
