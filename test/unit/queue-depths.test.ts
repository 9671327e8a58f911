import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBus } from '../../src/bus/memory-bus.js';
import { ManualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/logger.js';
import { DEPTHS_SUBJECT, QueueDepths } from '../../src/sms/queue-depths.js';

// Two nodes' pictures of each other's send queues over one bus, on a clock the test moves.

describe('queue depths across nodes', () => {
  const bus = new MemoryBus();
  const clock = new ManualClock();
  const made: QueueDepths[] = [];
  const node = (nodeId: string, local: Map<string, number>) => {
    const d = new QueueDepths({ bus, prefix: 'sb', nodeId, clock, log: silentLogger, intervalMs: 100, local: () => local });
    made.push(d);
    return d;
  };
  afterEach(() => made.splice(0).forEach((d) => d.stop()));

  it('reports a burst of changes once, after the interval, and replaces the whole picture of that node', async () => {
    const aQueues = new Map([['+16175550001', 3]]);
    const a = node('a', aQueues);
    const b = node('b', new Map());
    const heard: unknown[] = [];
    const off = bus.subscribe(`sb.${DEPTHS_SUBJECT}`, (p) => heard.push(p));

    a.changed();
    a.changed();
    clock.advance(99);
    await bus.flush();
    expect(heard).toEqual([]);
    clock.advance(1);
    await bus.flush();
    expect(heard).toEqual([{ node: 'a', depths: [['+16175550001', 3]] }]);
    expect(b.depth('+16175550001')).toBe(3);
    // A node never takes its own report for another's.
    expect(a.depth('+16175550001')).toBe(0);

    // The queue emptied: missing from the next report, the number is idle again.
    aQueues.set('+16175550001', 0);
    aQueues.set('+16175550002', 1);
    a.changed();
    clock.advance(100);
    await bus.flush();
    expect(b.depth('+16175550001')).toBe(0);
    expect(b.depth('+16175550002')).toBe(1);
    off();
  });

  it("forgets a lapsed node's numbers, and ignores a malformed report", async () => {
    const b = node('b', new Map());
    bus.publish(`sb.${DEPTHS_SUBJECT}`, { node: 'a', depths: [['+16175550001', 2]] });
    bus.publish(`sb.${DEPTHS_SUBJECT}`, { node: 'c', depths: [['+16175550002', -1]] });
    bus.publish(`sb.${DEPTHS_SUBJECT}`, { depths: [['+16175550002', 5]] });
    await bus.flush();
    expect(b.depth('+16175550001')).toBe(2);
    expect(b.depth('+16175550002')).toBe(0);
    b.forget('a');
    expect(b.depth('+16175550001')).toBe(0);
  });
});
