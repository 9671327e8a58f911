import { describe, expect, it, vi } from 'vitest';
import { MemoryBus } from '../../src/bus/memory-bus.js';
import { busContract } from './bus.contract.js';

// One process, one bus: every "node" of the contract is the same instance.
busContract('memory', () => {
  let bus: MemoryBus | null = null;
  let reported: ((err: unknown) => void) | undefined;
  return {
    servers: 1,
    connect: async (_server, onHandlerError) => {
      if (onHandlerError) reported = onHandlerError;
      if (!bus) bus = new MemoryBus({ onHandlerError: (err) => reported?.(err) });
      return bus;
    },
  };
});

describe('MemoryBus, beyond the contract', () => {
  const event = {
    type: 'lock',
    view: { conversationId: 'c1', accountId: 'a1', state: 'locked', holder: { userId: 'u1', name: 'Dana Reyes' }, since: 1_767_600_000_000 },
    departmentId: 'd1',
    holderConnIds: ['n1:ab12:7'],
    lockToken: 16_777_217,
  };

  it('delivers to exact and wildcard subscribers together in the order they subscribed', () => {
    const bus = new MemoryBus();
    const seen: string[] = [];
    bus.subscribe('sb.evt.account.a1', () => seen.push('exact 1'));
    bus.subscribe('sb.evt.>', () => seen.push('wildcard 1'));
    bus.subscribe('sb.evt.account.*', () => seen.push('wildcard 2'));
    bus.subscribe('sb.evt.account.a1', () => seen.push('exact 2'));
    bus.subscribe('sb.evt.>', () => seen.push('wildcard 3'));
    bus.publish('sb.evt.account.a1', {});
    expect(seen).toEqual(['exact 1', 'wildcard 1', 'wildcard 2', 'exact 2', 'wildcard 3']);
  });

  it('hands a payload that clearly fits to its subscribers without encoding it', () => {
    const bus = new MemoryBus();
    const seen: unknown[] = [];
    bus.subscribe('sb.evt.board.d1', (p) => seen.push(p));
    bus.subscribe('sb.evt.person.*', (p) => seen.push(p));
    const stringify = vi.spyOn(JSON, 'stringify');
    try {
      bus.publish('sb.evt.board.d1', event);
      expect(stringify).not.toHaveBeenCalled();
    } finally {
      stringify.mockRestore();
    }
    expect(seen).toEqual([event]);
  });

  it('measures exactly near the limit: what fits passes, one byte over is refused as NATS would', () => {
    const bus = new MemoryBus({ maxPayloadBytes: 1_000 });
    const fits = { text: 'é'.repeat(490) }; // {"text":"…"} = 11 + 980 bytes
    expect(() => bus.publish('a.b', fits)).not.toThrow();
    const over = { text: 'é'.repeat(495) };
    expect(() => bus.publish('a.b', over)).toThrow(expect.objectContaining({ code: 'payload_too_large' }));
    // Many small fields add up as well as one big one does.
    const wide = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, i]));
    expect(() => bus.publish('a.b', wide)).toThrow(expect.objectContaining({ code: 'payload_too_large' }));
  });

  it('refuses what JSON cannot carry, as a cluster would', () => {
    const bus = new MemoryBus();
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(() => bus.publish('a.b', cyclic)).toThrow(TypeError);
    expect(() => bus.publish('a.b', { n: 1n })).toThrow(TypeError);
  });

  it('delivers to a subscriber added during a publish from the next publish on', () => {
    const bus = new MemoryBus();
    const seen: string[] = [];
    bus.subscribe('a.b', () => {
      seen.push('first');
      if (seen.length === 1) bus.subscribe('a.b', () => seen.push('late'));
    });
    bus.publish('a.b', 1);
    expect(seen).toEqual(['first']);
    bus.publish('a.b', 2);
    expect(seen).toEqual(['first', 'first', 'late']);
  });
});
