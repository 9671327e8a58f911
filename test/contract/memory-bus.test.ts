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
