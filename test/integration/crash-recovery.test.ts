import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { newId } from '../../src/ids.js';
import { newConversation } from '../../src/domain/conversation.js';
import { startTestSwitchboard } from '../helpers/switchboard.js';
import { buildOrg } from '../helpers/org.js';
import { tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/wait.js';
import type { NewOutbound } from '../../src/store/store.js';

// A crash between "handed to Plivo" and "recorded" must never send twice: after a restart, a
// message left in `sending` becomes `unknown` for a person to decide; a message still `queued`
// is sent.

describe('restarting after a crash', () => {
  it('sends what was queued, and marks what was mid-send unknown instead of sending it again', async () => {
    const dir = tempDir();
    try {
      const first = await startTestSwitchboard({}, { dataDir: dir.path });
      const org = await buildOrg(first);
      await first.close();

      // What a crash leaves behind, written straight into the store: two queued messages, one of
      // which had reached `sending` when the process died.
      const store = await createSqliteStore({ file: join(dir.path, 'switchboard.db') });
      const now = Date.now();
      const item = (to: { id: string; phone: string }, text: string): NewOutbound => {
        const conversationId = newId();
        return {
          conversation: newConversation({ id: conversationId, accountId: org.account.id, contactId: to.id, folder: 'archived', senderNumber: org.account.numbers[0]!, now }),
          message: { id: newId(), conversationId, accountId: org.account.id, contactId: to.id, direction: 'outbound', text, encoding: 'GSM-7', segments: 1, status: 'queued', fromNumber: org.account.numbers[0]!, toNumber: to.phone, sentByUserId: org.member.id, sentByName: org.member.name, providerId: null, statusSequence: 0, errorCode: null, quietHoursTimeZone: null, createdAt: now, updatedAt: now },
        };
      };
      const [interrupted, waiting] = await store.messages.enqueueOutbound([item(org.students[0]!, 'interrupted'), item(org.students[1]!, 'waiting')]);
      await store.messages.transition(interrupted!.message.id, { status: 'sending', at: now }, ['queued']);
      await store.close();

      const second = await startTestSwitchboard({}, { dataDir: dir.path });
      try {
        const sent = await until(
          second.sb.core.events,
          async () => {
            const m = await second.sb.store.messages.get(waiting!.message.id);
            return m?.status === 'delivered' ? m : null;
          },
          'the queued message delivered after the restart',
        );
        expect(sent.providerId).toBeTruthy();
        expect((await second.sb.store.messages.get(interrupted!.message.id))!.status).toBe('unknown');
        const phone = await second.http.get(`/simulator/messages?number=${encodeURIComponent(org.students[0]!.phone)}`);
        expect(phone.body.messages.map((m: { text: string }) => m.text)).not.toContain('interrupted');
      } finally {
        await second.close();
      }
    } finally {
      dir.remove();
    }
  });
});
