import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { startTestSwitchboard } from '../helpers/switchboard.js';
import { buildOrg, conversationWith, login } from '../helpers/org.js';
import { tempDir } from '../helpers/temp-dir.js';
import { WsClient } from '../helpers/ws-client.js';
import { nextEvent } from '../helpers/wait.js';

// The actor host across restarts and failures: a held lock survives a restart with its deadlines
// (under the new activation's owner epoch, so with a new token), and one broken conversation never
// takes the others down.

describe('the lock actor host', () => {
  it('keeps a held lock across a restart for a holder who comes back, with a new token; the old one is refused', async () => {
    const dir = tempDir();
    const clock = new ManualClock(Date.parse('2026-01-05T10:00:00-05:00'));
    try {
      const first = await startTestSwitchboard({}, { dataDir: dir.path, clock });
      const org = await buildOrg(first);
      const conversationId = await conversationWith(first, org, '+16175553001');
      const ws = await WsClient.connect(first.sb.wsUrl, org.member.token);
      const opened = await ws.request({ type: 'open', conversationId });
      clock.advance(60_000); // one quiet minute of the three before the warning
      ws.close();
      await first.close();

      const second = await startTestSwitchboard({}, { dataDir: dir.path, clock });
      try {
        const token = await login(second, 'dana@college.edu');
        // Still hers after the restart (the reload grace had not run out), under a new token: the
        // restarted node is a new activation, and tokens of the old one are fenced off.
        const back = await WsClient.connect(second.sb.wsUrl, token);
        const reopened = await back.request({ type: 'open', conversationId });
        expect(reopened).toMatchObject({ granted: true, lockToken: expect.any(Number) });
        expect(reopened.lockToken).toBeGreaterThan(opened.lockToken);
        const stale = await back.request({ type: 'reply', conversationId, lockToken: opened.lockToken, text: 'from before the restart' });
        expect(stale.code).toBe('stale_lock_token');
        // Coming back counts as activity: three quiet minutes from now, the warning.
        clock.advance(180_000 - 1);
        // Asserted after the host's pending work and a round trip on the same socket, so a warning
        // sent a millisecond early would be seen.
        await second.sb.core.locks.settled();
        await back.request({ type: 'ping' });
        expect(back.frames.some((f) => f.type === 'idleWarning')).toBe(false);
        clock.advance(1);
        await back.next((f) => f.type === 'idleWarning' && f.conversationId === conversationId, 'the warning on the restarted node');
        back.close();
      } finally {
        await second.close();
      }
    } finally {
      dir.remove();
    }
  });

  it('releases, after a restart, a lock whose holder never came back', async () => {
    const dir = tempDir();
    const clock = new ManualClock(Date.parse('2026-01-05T10:00:00-05:00'));
    try {
      const first = await startTestSwitchboard({}, { dataDir: dir.path, clock });
      const org = await buildOrg(first);
      const conversationId = await conversationWith(first, org, '+16175553002');
      const ws = await WsClient.connect(first.sb.wsUrl, org.member.token);
      await ws.request({ type: 'open', conversationId });
      ws.close();
      await first.close();

      const second = await startTestSwitchboard({}, { dataDir: dir.path, clock });
      try {
        const released = nextEvent(
          second.sb.core.events,
          (e) => e.type === 'lockReleased' && e.conversationId === conversationId && e.reason === 'disconnected',
          'the lock released after the grace, on the restarted node',
        );
        clock.advance(15_000);
        await released;
        // Told at once, saved behind: once the host has settled, the store has it too.
        await second.sb.core.locks.settled();
        const record = await second.sb.store.locks.get(conversationId);
        expect(record).toMatchObject({ state: 'idle', holderUserId: null });
      } finally {
        await second.close();
      }
    } finally {
      dir.remove();
    }
  });

  it('contains a conversation whose saved lock is corrupt: it starts unlocked, the others are untouched', async () => {
    const t = await startTestSwitchboard();
    try {
      const org = await buildOrg(t);
      const broken = await conversationWith(t, org, '+16175553003');
      const fine = await conversationWith(t, org, '+16175553004');
      const dana = await WsClient.connect(t.sb.wsUrl, org.member.token);
      expect((await dana.request({ type: 'open', conversationId: fine })).granted).toBe(true);
      // Corrupt the saved snapshot of the other conversation behind the host's back.
      await t.sb.store.locks.save(
        { conversationId: broken, accountId: org.account.id, snapshot: '{"status":"active","value":{"nowhere":"x"},"context":{}', token: 0, ownerEpoch: 0, state: 'locked', holderUserId: org.member.id, holderName: 'Dana Reyes', since: 0, releaseAt: null, updatedAt: 0 },
      );
      const dean = await WsClient.connect(t.sb.wsUrl, org.deptAdmin.token);
      expect((await dean.request({ type: 'open', conversationId: broken })).granted).toBe(true);
      expect((await dean.request({ type: 'open', conversationId: fine })).granted).toBe(false);
      dana.close();
      dean.close();
    } finally {
      await t.close();
    }
  });
  it('runs the deadlines of every held lock on one clock timer, each at its own time', async () => {
    const clock = new ManualClock(Date.parse('2026-01-05T10:00:00-05:00'));
    const t = await startTestSwitchboard({}, { clock });
    try {
      const org = await buildOrg(t);
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) ids.push(await conversationWith(t, org, `+1617555${String(4000 + i)}`));
      const p = await t.sb.core.auth.authenticate(org.member.token);
      const before = clock.pending();
      // One lock a second: twenty different deadlines.
      for (const [i, id] of ids.entries()) {
        expect((await t.sb.core.locks.open(p, `conn-${i}`, id)).granted).toBe(true);
        clock.advance(1_000);
      }
      await t.sb.core.locks.settled();
      // A timer per lock would be twenty more; the node's lock deadlines take one.
      expect(clock.pending() - before).toBeLessThanOrEqual(1);
      // Each still goes at its own idle release (warning after 3 minutes, release a minute later).
      clock.advance(240_000 - 20_000);
      await t.sb.core.locks.settled();
      const states = async () => Promise.all(ids.map(async (id) => (await t.sb.store.locks.get(id))?.state));
      expect(await states()).toEqual([...Array(1).fill('idle'), ...Array(19).fill('idleWarning')]);
      clock.advance(18_999);
      await t.sb.core.locks.settled();
      expect((await states()).filter((s) => s === 'idle')).toHaveLength(19);
      clock.advance(1);
      await t.sb.core.locks.settled();
      expect(await states()).toEqual(Array(20).fill('idle'));
    } finally {
      await t.close();
    }
  });
});
