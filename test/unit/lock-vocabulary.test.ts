import { describe, expect, it } from 'vitest';
import { HELD_LOCK_STATES, LOCK_STATES, RELEASE_REASONS } from '../../actors/conversation/index.js';
import { LockView } from '../../src/schemas/views.js';
import { ReleasedEvent } from '../../src/schemas/ws.js';

// The lock's states and release reasons are defined once, by the actor; the wire schemas (and
// through them the generated documents) list exactly those.
describe('the lock vocabulary', () => {
  it('the wire schema of a lock lists exactly the actor’s states', () => {
    expect(LockView.shape.state.options).toEqual([...LOCK_STATES]);
    expect(HELD_LOCK_STATES).toEqual(['locked', 'idleWarning']);
  });

  it('the released frame lists exactly the actor’s release reasons', () => {
    expect(ReleasedEvent.shape.reason.options).toEqual([...RELEASE_REASONS]);
  });
});
