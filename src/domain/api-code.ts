// apiCode: the URL-safe handle of a group account in API calls, made from its name
// ("Admissions – Fall 2026" → "admissions-fall-2026") and made unique with a numeric suffix.

export function slugify(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 32)
    .replace(/-+$/g, '');
  return slug.length >= 2 ? slug : `account-${slug || 'x'}`;
}

export async function uniqueApiCode(name: string, isTaken: (code: string) => Promise<boolean>): Promise<string> {
  const base = slugify(name);
  if (!(await isTaken(base))) return base;
  for (let i = 2; i < 1000; i++) {
    const candidate = `${base}-${i}`;
    if (!(await isTaken(candidate))) return candidate;
  }
  throw new Error(`no free apiCode for ${base}`);
}
