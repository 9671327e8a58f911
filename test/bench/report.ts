// The benchmark table: one row per figure, its same-run baseline, the ratio, the goal and the
// verdict. Rows without a goal are context (latencies, diagnostics) and have no verdict.

export interface ResultRow {
  name: string;
  figure: number;
  unit: string;
  /** The same figure for the bare baseline, measured in the same run. */
  baseline: number | null;
  /** figure / baseline. */
  ratio: number | null;
  goal: string;
  pass: boolean | null;
}

export interface BenchOutcome {
  name: string;
  rows: ResultRow[];
  /** Everything else measured (for the JSON file and for explaining a miss). */
  details: Record<string, unknown>;
  /** Lines printed under the table. */
  notes: string[];
}

export function row(r: Omit<ResultRow, 'ratio'> & { ratio?: number | null }): ResultRow {
  const ratio = r.ratio !== undefined ? r.ratio : r.baseline ? r.figure / r.baseline : null;
  return { ...r, ratio };
}

function fmt(n: number | null, unit = ''): string {
  if (n === null || !Number.isFinite(n)) return '—';
  const abs = Math.abs(n);
  const s = abs >= 100 ? n.toFixed(0) : abs >= 10 ? n.toFixed(1) : abs >= 1 ? n.toFixed(2) : n.toFixed(3);
  return unit ? `${s} ${unit}` : s;
}

export function formatTable(rows: ResultRow[]): string {
  const header = ['benchmark', 'figure', 'unit', 'baseline', 'ratio', 'goal', 'result'];
  const body = rows.map((r) => [
    r.name,
    fmt(r.figure),
    r.unit,
    fmt(r.baseline),
    r.ratio === null ? '—' : `${fmt(r.ratio)}×`,
    r.goal,
    r.pass === null ? '' : r.pass ? 'PASS' : 'FAIL',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const numeric = new Set([1, 3, 4]);
  const line = (cells: string[]) => cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}
