import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBus } from '../../src/bus/memory-bus.js';
import { isBusError } from '../../src/bus/bus.js';
import { singleNodePlacement } from '../../src/actors-runtime/placement.js';
import { silentLogger } from '../../src/logger.js';
import { newId } from '../../src/ids.js';
import { MAX_ACCOUNTS_PER_QUESTION, otherNodesLockViews, serveLockViews } from '../../src/locks/cluster-lock-views.js';
import type { AccountLockView } from '../../src/locks/lock-view.js';

// The other nodes' answers for a first picture, over the in-process bus (the cluster test in
// test/integration/cluster-bus.test.ts runs them over NATS): what is asked, what is believed.

const ACCOUNT = newId();
const OTHER_ACCOUNT = newId();
const held = (accountId: string): AccountLockView => ({ conversationId: newId(), accountId, state: 'locked', holder: { userId: newId(), name: 'Dana Reyes' }, since: 1 });

describe('lock views across nodes', () => {
  const bus = new MemoryBus();
  const stops: Array<() => void> = [];
  afterEach(() => stops.splice(0).forEach((stop) => stop()));

  /** Node a asks; `live` are the nodes its placement counts as live. */
  const ask = (live: string[], accountIds: string[]) =>
    otherNodesLockViews({ bus, prefix: 'sb', placement: { ...singleNodePlacement('a'), liveNodes: () => Promise.resolve(new Set(['a', ...live])) }, timeoutMs: 200, log: silentLogger }, accountIds);

  it("gathers every other live node's views of the accounts asked about, and leaves out a node that does not answer", async () => {
    const fromB = held(ACCOUNT);
    const fromC = held(ACCOUNT);
    const asked: string[][] = [];
    stops.push(serveLockViews({ bus, prefix: 'sb', nodeId: 'b', views: (ids) => (asked.push([...ids]), [fromB]) }));
    stops.push(serveLockViews({ bus, prefix: 'sb', nodeId: 'c', views: () => [fromC] }));
    // Node d is live by its lease but answers nobody (it just died).
    const views = await ask(['b', 'c', 'd'], [ACCOUNT]);
    expect(views).toHaveLength(2);
    expect(views).toEqual(expect.arrayContaining([fromB, fromC]));
    expect(asked).toEqual([[ACCOUNT]]);
  });

  it('believes only well-formed views of the accounts it asked about', async () => {
    const good = held(ACCOUNT);
    stops.push(serveLockViews({ bus, prefix: 'sb', nodeId: 'b', views: () => [good, held(OTHER_ACCOUNT), { ...held(ACCOUNT), state: 'stolen' } as unknown as AccountLockView] }));
    expect(await ask(['b'], [ACCOUNT])).toEqual([good]);
  });

  it('refuses a malformed question with bad_request, and asks nobody about no accounts', async () => {
    stops.push(serveLockViews({ bus, prefix: 'sb', nodeId: 'b', views: () => [held(ACCOUNT)] }));
    for (const question of [null, {}, { accountIds: 'x' }, { accountIds: ['not an id'] }, { accountIds: Array.from({ length: MAX_ACCOUNTS_PER_QUESTION + 1 }, () => ACCOUNT) }]) {
      const err = await bus.request('sb.locks.views.b', question, { timeoutMs: 200 }).catch((e: unknown) => e);
      expect(isBusError(err, 'remote'), JSON.stringify(question)).toBe(true);
      expect((err as Error).message).toContain('malformed lock views question');
    }
    expect(await ask(['b'], [])).toEqual([]);
  });
});
