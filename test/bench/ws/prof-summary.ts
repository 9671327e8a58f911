import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Where the server's time went, from a .cpuprofile written by `run-ws.ts --profile DIR`:
// self time per function, self time per module (file or package), and inclusive time of chosen
// functions of ours. `npx tsx test/bench/ws/prof-summary.ts DIR/ws-lock-round-trip-run1.cpuprofile`

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** The repository's root, so our files are named as in the tree (src/…, gateways/…). */
const ROOT = resolve(fileURLToPath(import.meta.url), '..', '..', '..', '..') + '/';

export function moduleOf(url: string): string {
  if (!url) return '(native/v8)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return url;
  const path = url.replace('file://', '');
  return path.startsWith(ROOT) ? path.slice(ROOT.length) : url;
}

export function summarizeProfile(file: string, top = 30): string {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    self.set(id, (self.get(id) ?? 0) + dt);
    total += dt;
  });
  const fnSelf = new Map<string, number>();
  const modSelf = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, t] of self) {
    const n = byId.get(id)!;
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${moduleOf(f.url)}:${f.lineNumber + 1}`;
    fnSelf.set(key, (fnSelf.get(key) ?? 0) + t);
    const mod = f.url ? moduleOf(f.url) : f.functionName;
    modSelf.set(mod, (modSelf.get(mod) ?? 0) + t);
    // Inclusive time per module of our code (each module counted once per stack).
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const cf = byId.get(cur)!.callFrame;
      const m = cf.url ? moduleOf(cf.url) : '';
      const k = `${cf.functionName || '(anonymous)'} ${m}`;
      if (!m.startsWith('src/') && !m.startsWith('gateways/') && !m.startsWith('actors/') && !m.includes('better-sqlite3') && !m.includes('zod') && !m.includes('xstate')) continue;
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + t);
    }
  }
  const pct = (t: number): string => `${((t / total) * 100).toFixed(1).padStart(5)}%`;
  const lines = [`${file}: ${(total / 1e6).toFixed(1)} s sampled`];
  const list = (title: string, m: Map<string, number>, n: number): void => {
    lines.push(title);
    for (const [k, t] of [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n)) lines.push(`  ${pct(t)}  ${k}`);
  };
  list('self time by module:', modSelf, 20);
  list('self time by function:', fnSelf, top);
  list('inclusive time (our code, zod, xstate, better-sqlite3):', inclusive, top);
  return lines.join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const f of process.argv.slice(2)) console.log(summarizeProfile(f, Number(process.env.TOP ?? 30)));
}
