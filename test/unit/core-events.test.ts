import { describe, expect, it } from 'vitest';
import { MemoryBus } from '../../src/bus/memory-bus.js';
import { connectionId, CoreEvents, nodeOfConnection, type CoreEvent } from '../../src/events.js';

// Which subjects the core's events travel on decides which nodes receive them: an account's
// events reach the nodes watching it, a lock token only the node of the holder's connection.

function node(nodeId = 'node-a') {
  const bus = new MemoryBus();
  const errors: unknown[] = [];
  const events = new CoreEvents({ bus, prefix: 'sb', nodeId, onError: (err) => errors.push(err) });
  const seen: Array<{ subject: string; event: CoreEvent }> = [];
  bus.subscribe('sb.evt.>', (payload, subject) => seen.push({ subject, event: payload as CoreEvent }));
  return { bus, events, seen, errors };
}

const view = { conversationId: 'c1', accountId: 'acc1', state: 'locked' as const, holder: { userId: 'u1', name: 'Dana' }, since: 1 };

describe('core events on the bus', () => {
  it("sends a lock change to its account and board without the token, and the token only to the holders' nodes", () => {
    const { events, seen } = node();
    const holders = [connectionId('node-a', 'b1', 1), connectionId('node-b', 'b2', 7), connectionId('node-a', 'b1', 2)];
    events.emit({ type: 'lock', view, departmentId: 'd1', holderConnIds: holders, lockToken: 42 });
    expect(seen.map((s) => s.subject)).toEqual(['sb.evt.account.acc1', 'sb.evt.board.d1', 'sb.evt.node.node-a', 'sb.evt.node.node-b']);
    expect(seen[0]!.event).toMatchObject({ holderConnIds: [], lockToken: null });
    expect(seen[1]!.event).toMatchObject({ holderConnIds: [], lockToken: null });
    expect(seen[2]!.event).toMatchObject({ holderConnIds: [holders[0], holders[2]], lockToken: 42 });
    expect(seen[3]!.event).toMatchObject({ holderConnIds: [holders[1]], lockToken: 42 });
  });

  it("sends a membership change to each person who lost or gained access, and a connection's warning to its node", () => {
    const { events, seen } = node();
    events.emit({ type: 'membership', accountId: 'acc1', apiCode: 'outreach', name: 'Outreach', removedUserIds: ['u1', 'u2'], addedUserIds: ['u3'] });
    events.emit({ type: 'lockIdleWarning', conversationId: 'c1', accountId: 'acc1', userId: 'u1', connIds: ['node-b:x:1'], releaseAt: 5 });
    const change = (e: CoreEvent) => (e.type === 'membership' ? [e.removedUserIds, e.addedUserIds] : undefined);
    expect(seen.map((s) => [s.subject, change(s.event)])).toEqual([
      ['sb.evt.person.u1', [['u1'], []]],
      ['sb.evt.person.u2', [['u2'], []]],
      ['sb.evt.person.u3', [[], ['u3']]],
      ['sb.evt.node.node-b', undefined],
    ]);
  });

  it('delivers to a watcher only the scope it watches', () => {
    const { events } = node();
    const got: string[] = [];
    const stop = events.watch({ kind: 'account', accountId: 'acc1' }, (e) => got.push(e.type));
    events.watch({ kind: 'connections' }, (e) => got.push(`mine:${e.type}`));
    events.emit({ type: 'conversation', accountId: 'acc2', conversation: {} as never });
    events.emit({ type: 'lockReleased', conversationId: 'c1', accountId: 'acc1', userId: 'u1', connIds: ['node-b:x:1'], reason: 'left' });
    events.emit({ type: 'lockReleased', conversationId: 'c1', accountId: 'acc1', userId: 'u1', connIds: ['node-a:x:1'], reason: 'left' });
    events.emit({ type: 'conversation', accountId: 'acc1', conversation: {} as never });
    stop();
    events.emit({ type: 'conversation', accountId: 'acc1', conversation: {} as never });
    expect(got).toEqual(['mine:lockReleased', 'conversation']);
  });

  it('reports instead of throwing into the core when an event cannot be published', () => {
    const { events, errors } = node();
    expect(() => events.emit({ type: 'userChanged', userId: 'u.1' })).not.toThrow();
    expect(errors).toHaveLength(1);
    expect(nodeOfConnection(connectionId('node-a', 'boot', 3))).toBe('node-a');
  });
});
