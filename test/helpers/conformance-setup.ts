import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, inject } from 'vitest';
import { seen, takeViolations } from './conformance.js';

// Runs in every integration test file: a frame that did not conform fails the test it arrived in,
// and what the file met is left for the conformance project (test/conformance/coverage.test.ts).

function failOnViolations(): void {
  const found = takeViolations();
  if (found.length > 0) throw new Error(found.join('\n'));
}

afterEach(failOnViolations);

afterAll(() => {
  writeFileSync(join(inject('conformanceDir'), `${process.pid}-${randomUUID()}.json`), JSON.stringify(seen()));
  failOnViolations();
});
