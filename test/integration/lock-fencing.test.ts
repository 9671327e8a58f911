import { describe, expect, it } from 'vitest';
import { personPrincipal } from '../../src/auth/principal.js';
import { singleNodePlacement } from '../../src/actors-runtime/placement.js';
import { createLocks } from '../../src/locks/lock-wiring.js';
import { startTestSwitchboard } from '../helpers/switchboard.js';
import { buildOrg, conversationWith } from '../helpers/org.js';

// Fencing by owner epochs: two activations of one conversation's lock (a node that paused and
// another that took over, here two actor hosts on one store) can never both commit. The newer
// activation claimed the next epoch before its first grant; the store refuses every write of the
// older one, even when that one still believes in a token it handed out.

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
      const newer = createLocks({
        c: core.context,
        messaging: core.messaging,
        idempotency: core.idempotency,
        durations: { idleWarningMs: 180_000, releaseAfterWarningMs: 60_000, disconnectGraceMs: 15_000 },
        passivateAfterMs: 60_000,
        placement: singleNodePlacement,
        emit: () => undefined,
      });
      try {
        const reopened = await newer.service.open(dana, 'conn-b', conversationId);
        expect(reopened).toMatchObject({ granted: true });
        if (!reopened.granted) return;
        expect(reopened.lockToken).toBeGreaterThan(opened.lockToken);

        // The older activation still believes in its token; the store does not.
        const before = await t.sb.store.messages.listForConversation(conversationId, { limit: 50 });
        await expect(older.reply(dana, conversationId, opened.lockToken, 'from the paused node')).rejects.toMatchObject({ code: 'stale_lock_token' });
        expect(await t.sb.store.messages.listForConversation(conversationId, { limit: 50 })).toHaveLength(before.length);

        // Without a placement table both hosts activate on demand, so the refused one has started
        // an activation of its own (a newer epoch again). Whoever is current, its holder replies.
        const current = await newer.service.open(dana, 'conn-b', conversationId);
        if (!current.granted) throw new Error('Dana should still hold the lock');
        const sent = await newer.service.reply(dana, conversationId, current.lockToken, 'from the current owner');
        expect(sent.text).toBe('from the current owner');
      } finally {
        newer.host.stop();
      }
    } finally {
      await t.close();
    }
  });
});
