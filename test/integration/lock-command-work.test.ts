import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSwitchboard, type TestSwitchboard } from '../helpers/switchboard.js';
import { buildOrg, conversationWith, type Org } from '../helpers/org.js';
import type { CoreEvent } from '../../src/events.js';

// What one lock command makes, per transition, on a busy node (thousands of commands a second):
// the lock's view is made once, and the command's answer and its announcement carry that one
// object (both treat it as read-only). Real core on a real SQLite store.

let t: TestSwitchboard;
let org: Org;
beforeAll(async () => {
  t = await startTestSwitchboard();
  org = await buildOrg(t);
});
afterAll(() => t.close());

describe('a lock command’s work', () => {
  it('makes the lock’s view once: the answer and the lock event carry the same object', async () => {
    const conversationId = await conversationWith(t, org, '+16175554201');
    const member = await t.sb.core.auth.authenticate(org.member.token);
    const announced: Array<Extract<CoreEvent, { type: 'lock' }>> = [];
    const off = t.sb.core.events.watchAll((e) => {
      if (e.type === 'lock' && e.view.conversationId === conversationId) announced.push(e);
    });
    try {
      const opened = await t.sb.core.locks.open(member, 'n1:test:1', conversationId);
      const left = await t.sb.core.locks.leave(member, 'n1:test:1', conversationId);
      // The account's, the board's and the holder's copies of each change: one view among them.
      const views = [...new Set(announced.map((e) => e.view))];
      expect(views).toHaveLength(2);
      expect(views[0]).toBe(opened.view);
      expect(views[1]).toBe(left);
      expect(opened.view).toMatchObject({ conversationId, accountId: org.account.id, state: 'locked', holder: { userId: org.member.id } });
      expect(left).toMatchObject({ conversationId, accountId: org.account.id, state: 'idle' });
      expect(opened.view).not.toHaveProperty('token');
    } finally {
      off();
    }
  });
});
