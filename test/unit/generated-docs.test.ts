import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GENERATED } from '../../docs/generate.js';

describe('generated documents', () => {
  for (const [name, make] of Object.entries(GENERATED)) {
    it(`${name} is what the schemas generate (run npm run docs after changing them)`, async () => {
      expect(readFileSync(new URL(`../../${name}`, import.meta.url), 'utf8')).toBe(await make());
    });
  }
});
