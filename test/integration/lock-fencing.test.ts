import { cpSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { personPrincipal } from '../../src/auth/principal.js';
import { singleNodePlacement, type Placement } from '../../src/actors-runtime/placement.js';
import { NotOwner } from '../../src/actors-runtime/actor-host.js';
import type { CoreEvent } from '../../src/events.js';
import type { Core } from '../../src/core.js';
import { createLocks } from '../../src/locks/lock-wiring.js';
import { startTestSwitchboard } from '../helpers/switchboard.js';
import { buildOrg, conversationWith } from '../helpers/org.js';
import { tempDir } from '../helpers/temp-dir.js';

// Fencing by owner epochs: two activations of one conversation's lock (a node that paused and
// another that took over, here two actor hosts on one store) can never both commit. The newer
// activation claimed the next epoch before its first grant; the store refuses every write of the
// older one, even when that one still believes in a token it handed out.

/** Another activation of the node's conversations (as on another node), on the same store. */
function secondActivation(core: Core, o: { placement?: Placement; emit?: (e: CoreEvent) => void } = {}) {
  return createLocks({
    c: core.context,
    messaging: core.messaging,
    idempotency: core.idempotency,
    durations: { idleWarningMs: 180_000, releaseAfterWarningMs: 60_000, disconnectGraceMs: 15_000 },
    passivateAfterMs: 60_000,
    placement: o.placement ?? singleNodePlacement(),
    emit: o.emit ?? (() => undefined),
    boot: 'second',
  });
}

describe('owner epochs', () => {
  it('refuses the reply of an activation that a newer one superseded, and stores nothing', async () => {
    const t = await startTestSwitchboard();
    try {
      const org = await buildOrg(t);
      const conversationId = await conversationWith(t, org, '+16175553101');
      const dana = personPrincipal((await t.sb.store.users.get(org.member.id))!);
      const { core } = t.sb;
      const older = core.locks;
      const opened = await older.open(dana, 'conn-a', conversationId);
      if (!opened.granted) throw new Error('the first open should be granted');

      // A second activation elsewhere (the first one paused, say): it claims the next epoch and
      // restores Dana's lock under a new token.
      const newer = secondActivation(core);
      try {
        const reopened = await newer.service.open(dana, 'conn-b', conversationId);
        expect(reopened).toMatchObject({ granted: true });
        if (!reopened.granted) return;
        expect(reopened.lockToken).toBeGreaterThan(opened.lockToken);

        // The older activation still believes in its token; the store does not.
        const before = await t.sb.store.messages.listForConversation(conversationId, { limit: 50 });
        await expect(older.reply(dana, conversationId, opened.lockToken, 'from the paused node')).rejects.toMatchObject({ code: 'stale_lock_token' });
        expect(await t.sb.store.messages.listForConversation(conversationId, { limit: 50 })).toHaveLength(before.length);

      } finally {
        await newer.host.stop();
      }
    } finally {
      await t.close();
    }
  });

  it('tells a grant before saving it; a crash loses that save, and the next epoch fences the lost token off', async () => {
    const dir = tempDir();
    const crashed = tempDir();
    const clock = new ManualClock(Date.parse('2026-01-05T10:00:00-05:00'));
    try {
      const first = await startTestSwitchboard({}, { dataDir: dir.path, clock });
      let org;
      let conversationId: string;
      let lost: number;
      try {
        org = await buildOrg(first);
        conversationId = await conversationWith(first, org, '+16175553102');
        const dana = personPrincipal((await first.sb.store.users.get(org.member.id))!);
        const granted = await first.sb.core.locks.open(dana, 'conn-1', conversationId);
        if (!granted.granted) throw new Error('the open should be granted');
        lost = granted.lockToken;
        // kill -9 now: what is on disk is what a crash leaves. The grant was told, its save is
        // still on its way (write-behind), so the copy does not have it.
        cpSync(dir.path, crashed.path, { recursive: true });
      } finally {
        await first.close();
      }

      const second = await startTestSwitchboard({}, { dataDir: crashed.path, clock });
      try {
        expect((await second.sb.store.locks.get(conversationId))?.holderUserId ?? null).toBeNull();
        const dean = personPrincipal((await second.sb.store.users.get(org.deptAdmin.id))!);
        const dana = personPrincipal((await second.sb.store.users.get(org.member.id))!);
        // The restarted node knows nothing of Dana's lock: Dean gets it, under the next epoch.
        const deans = await second.sb.core.locks.open(dean, 'conn-2', conversationId);
        if (!deans.granted) throw new Error('Dean should get the free lock');
        expect(deans.lockToken).toBeGreaterThan(lost);
        expect(await second.sb.store.locks.ownership(conversationId)).toMatchObject({ ownerEpoch: 2 });
        // Dana's token was never saved, and is refused all the same.
        await expect(second.sb.core.locks.reply(dana, conversationId, lost, 'after the crash')).rejects.toMatchObject({ code: 'stale_lock_token' });
        const sent = await second.sb.core.locks.reply(dean, conversationId, deans.lockToken, 'Dean here');
        expect(sent.text).toBe('Dean here');
      } finally {
        await second.close();
      }
    } finally {
      dir.remove();
      crashed.remove();
    }
  });

  it("tells a restored holder their new token on the connection they hold it through, whoever's command activated the lock", async () => {
    const t = await startTestSwitchboard();
    try {
      const org = await buildOrg(t);
      const conversationId = await conversationWith(t, org, '+16175553105');
      const dana = personPrincipal((await t.sb.store.users.get(org.member.id))!);
      const dean = personPrincipal((await t.sb.store.users.get(org.deptAdmin.id))!);
      const { core } = t.sb;
      const opened = await core.locks.open(dana, 'node-a:boot:1', conversationId);
      if (!opened.granted) throw new Error('the first open should be granted');
      await core.locks.settled();
      // Another activation (the owner moved to another node) restores Dana's lock; Dean's look
      // at the conversation is what activates it there.
      const told: CoreEvent[] = [];
      const newer = secondActivation(core, {
        emit: (e) => told.push(e),
        // Dana's socket is on a node that is alive.
        placement: { ...singleNodePlacement('node-b'), liveNodes: () => Promise.resolve(new Set(['node-a', 'node-b'])) },
      });
      try {
        expect(await newer.service.open(dean, 'node-b:boot:1', conversationId)).toMatchObject({ granted: false });
        const tokens = told.filter((e) => e.type === 'lock' && e.lockToken !== null);
        expect(tokens).toHaveLength(1);
        expect(tokens[0]).toMatchObject({ holderConnIds: ['node-a:boot:1'], view: { holder: { userId: org.member.id } } });
        const renewed = (tokens[0] as Extract<CoreEvent, { type: 'lock' }>).lockToken!;
        expect(renewed).toBeGreaterThan(opened.lockToken);
        // The token she was told is the one the lock takes.
        const sent = await newer.service.reply(dana, conversationId, renewed, 'with the new token');
        expect(sent.text).toBe('with the new token');
      } finally {
        await newer.host.stop();
      }
    } finally {
      await t.close();
    }
  });

  it('claims no owner epoch for an activation on a node that stopped owning the conversation while it activated', async () => {
    const t = await startTestSwitchboard();
    try {
      const org = await buildOrg(t);
      const conversationId = await conversationWith(t, org, '+16175553104');
      const dana = personPrincipal((await t.sb.store.users.get(org.member.id))!);
      const { core } = t.sb;
      const before = await t.sb.store.locks.ownership(conversationId);
      // Owned when the activation starts, no longer by the time it would claim the epoch (the
      // node's lease ran out while it read the store).
      let asked = 0;
      const placement: Placement = { ...singleNodePlacement('node-x'), owns: () => asked++ === 0 };
      const locks = secondActivation(core, { placement });
      try {
        await expect(locks.service.open(dana, 'conn-x', conversationId)).rejects.toBeInstanceOf(NotOwner);
        expect(asked).toBe(2);
        expect(await t.sb.store.locks.ownership(conversationId)).toEqual(before);
      } finally {
        await locks.host.stop();
      }
    } finally {
      await t.close();
    }
  });

  it('coalesces the saves of transitions that come faster than the store commits', async () => {
    const t = await startTestSwitchboard();
    try {
      const org = await buildOrg(t);
      const conversationId = await conversationWith(t, org, '+16175553103');
      const dana = personPrincipal((await t.sb.store.users.get(org.member.id))!);
      const saves = vi.spyOn(t.sb.store.locks, 'save');
      const TIMES = 15;
      // 30 transitions (each open grants, each leave releases), all queued at once.
      await Promise.all(
        Array.from({ length: TIMES }, async () => {
          await t.sb.core.locks.open(dana, 'conn-1', conversationId);
          await t.sb.core.locks.leave(dana, 'conn-1', conversationId);
        }),
      );
      await t.sb.core.locks.settled();
      expect(saves.mock.calls.length).toBeLessThan(TIMES);
      // The last state is the one saved.
      expect(await t.sb.store.locks.get(conversationId)).toMatchObject({ state: 'idle', holderUserId: null });
      saves.mockRestore();
    } finally {
      await t.close();
    }
  });
});
