import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { CoreContext } from '../../src/services/context.js';

// Gateways are thin: they call the core's services, never reach past them into the store, the
// clock or the configuration the services are built from (`core.context`). And the core knows no
// URL paths: those belong to the edge, which hands the core whole URLs where it needs them.
const GATEWAYS = fileURLToPath(new URL('../../gateways/', import.meta.url));
const CORE = fileURLToPath(new URL('../../src/', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('the gateways', () => {
  it('reach the core only through its services, not through core.context', () => {
    const offenders = sources(GATEWAYS).filter((file) => readFileSync(file, 'utf8').includes('core.context'));
    expect(offenders).toEqual([]);
  });
});

describe('the core', () => {
  // Each service takes the settings it names, built from the configuration in core.ts: none of
  // them can read (or come to depend on) the rest of it through the context.
  it('gives its services no configuration through their context; only core.ts reads it', () => {
    expectTypeOf<CoreContext>().not.toHaveProperty('config');
    const readers = sources(CORE).filter((file) => !/[\\/](core|config)\.ts$/.test(file) && /\.config\b/.test(readFileSync(file, 'utf8')));
    expect(readers).toEqual([]);
  });

  it('owns no webhook URL paths', () => {
    const offenders = sources(CORE).filter((file) => /['"`]\/webhooks/.test(readFileSync(file, 'utf8')));
    expect(offenders).toEqual([]);
  });
});
