// The form a hostile client posts to a webhook URL: `f0=1&f1=1&…`, as many fields as asked for or
// as fit in `maxBytes`. Built by the load generator (which sends it) and by the benchmark (which
// reports its size), so the two agree.

export function hostileForm(fields: number, maxBytes: number): { body: string; fields: number } {
  const parts: string[] = [];
  let bytes = -1;
  for (let i = 0; i < fields; i++) {
    const part = `f${i}=1`;
    if (bytes + 1 + part.length > maxBytes) break;
    parts.push(part);
    bytes += 1 + part.length;
  }
  return { body: parts.join('&'), fields: parts.length };
}
