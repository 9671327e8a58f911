import { GCProfiler } from 'node:v8';

// What a stretch of work allocates and what of it survives, from V8's own record of every GC in
// the stretch (v8.GCProfiler: the heap's spaces before and after each collection). Unlike CPU
// time or latency these figures hardly move with the neighbours on a shared machine.
//
// - allocated: every byte the stretch put on the heap (the growth of the used heap between
//   collections, plus what the collections freed);
// - promoted: what scavenges moved out of the young generation into the old one (old, code and
//   large-object spaces grown by scavenges): the garbage that lives long enough to cost a
//   mark-compact later, and whose copying makes each scavenge slow;
// - survivors: what the young generation still held after its last scavenge (objects copied
//   once, on their way to promotion).

export interface HeapFlow {
  allocatedBytes: number;
  promotedBytes: number;
  survivorBytes: number;
  scavenges: number;
  markCompacts: number;
  /** Pause per collection as V8 measured it (µs), every kind. */
  pausesUs: number[];
}

interface SpaceStat {
  spaceName: string;
  spaceUsedSize: number;
}
interface GcStat {
  gcType: string;
  cost: number;
  beforeGC: { heapStatistics: { usedHeapSize: number }; heapSpaceStatistics: SpaceStat[] };
  afterGC: { heapStatistics: { usedHeapSize: number }; heapSpaceStatistics: SpaceStat[] };
}

const YOUNG = new Set(['new_space', 'new_large_object_space']);

function oldUsed(spaces: SpaceStat[]): number {
  let used = 0;
  for (const s of spaces) if (!YOUNG.has(s.spaceName)) used += s.spaceUsedSize;
  return used;
}

function youngUsed(spaces: SpaceStat[]): number {
  let used = 0;
  for (const s of spaces) if (YOUNG.has(s.spaceName)) used += s.spaceUsedSize;
  return used;
}

/** Starts recording; `stop()` returns what the heap did since. One recording at a time per process. */
export function recordHeapFlow(usedHeapSize: () => number): { stop(): HeapFlow } {
  const profiler = new GCProfiler();
  const startUsed = usedHeapSize();
  profiler.start();
  return {
    stop(): HeapFlow {
      const endUsed = usedHeapSize();
      const stats = (profiler.stop()?.statistics ?? []) as GcStat[];
      const flow: HeapFlow = { allocatedBytes: 0, promotedBytes: 0, survivorBytes: 0, scavenges: 0, markCompacts: 0, pausesUs: [] };
      let lastUsed = startUsed;
      for (const s of stats) {
        flow.allocatedBytes += Math.max(0, s.beforeGC.heapStatistics.usedHeapSize - lastUsed);
        lastUsed = s.afterGC.heapStatistics.usedHeapSize;
        flow.pausesUs.push(s.cost);
        if (s.gcType === 'Scavenge' || s.gcType === 'MinorMarkSweep' || s.gcType === 'MinorMarkCompact') {
          flow.scavenges++;
          flow.promotedBytes += Math.max(0, oldUsed(s.afterGC.heapSpaceStatistics) - oldUsed(s.beforeGC.heapSpaceStatistics));
          flow.survivorBytes = youngUsed(s.afterGC.heapSpaceStatistics);
        } else if (s.gcType === 'MarkSweepCompact') {
          flow.markCompacts++;
        }
      }
      flow.allocatedBytes += Math.max(0, endUsed - lastUsed);
      return flow;
    },
  };
}

/** One line: bytes per operation allocated and promoted, and the collections. */
export function describeHeapFlow(flow: HeapFlow, operations: number): string {
  const per = (b: number): string => `${Math.round(b / operations).toLocaleString('en-US')} B`;
  const pauses = [...flow.pausesUs].sort((a, b) => a - b);
  const total = pauses.reduce((a, b) => a + b, 0);
  const longest = pauses.at(-1) ?? 0;
  return (
    `allocated ${per(flow.allocatedBytes)}, promoted ${per(flow.promotedBytes)} per operation; ` +
    `${flow.scavenges} scavenges, ${flow.markCompacts} mark-compacts, pauses ${(total / 1000).toFixed(1)} ms in all, longest ${(longest / 1000).toFixed(2)} ms`
  );
}
