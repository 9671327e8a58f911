import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { moduleOf } from './ws/prof-summary.js';

// What the server allocated where, from a .heapprofile written with BENCH_PROFILE and
// BENCH_ALLOCATIONS=true (V8's sampling heap profiler: each sample stands for about 64 KiB of
// allocations): bytes per function where they were allocated, per module, and per function of ours
// on the stack (inclusive). `npx tsx test/bench/heap-summary.ts DIR/campaign.heapprofile`

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapNode[];
}

const ours = (m: string): boolean => m.startsWith('src/') || m.startsWith('gateways/') || m.startsWith('actors/');

export function summarizeHeapProfile(file: string, top = 30): string {
  const { head } = JSON.parse(readFileSync(file, 'utf8')) as { head: HeapNode };
  const self = new Map<string, number>();
  const byModule = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  const add = (m: Map<string, number>, k: string, v: number): void => void m.set(k, (m.get(k) ?? 0) + v);
  const walk = (n: HeapNode, stack: string[]): void => {
    const f = n.callFrame;
    const mod = moduleOf(f.url);
    const key = `${f.functionName || '(anonymous)'} ${mod}:${f.lineNumber + 1}`;
    const here = ours(mod) && !stack.includes(key) ? [...stack, key] : stack;
    if (n.selfSize > 0) {
      total += n.selfSize;
      add(self, key, n.selfSize);
      add(byModule, mod, n.selfSize);
      for (const k of here) add(inclusive, k, n.selfSize);
    }
    for (const c of n.children) walk(c, here);
  };
  walk(head, []);
  const lines = [`${file}: ${(total / 1048576).toFixed(1)} MiB sampled`];
  const list = (title: string, m: Map<string, number>): void => {
    lines.push(title);
    for (const [k, v] of [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${((v / total) * 100).toFixed(1).padStart(5)}%  ${(v / 1048576).toFixed(1).padStart(7)} MiB  ${k}`);
  };
  list('allocated by module:', byModule);
  list('allocated by function:', self);
  list('allocated under (our code, inclusive):', inclusive);
  return lines.join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const f of process.argv.slice(2)) console.log(summarizeHeapProfile(f, Number(process.env.TOP ?? 30)));
}
