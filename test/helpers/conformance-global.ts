import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

// One directory per test run where each integration test file leaves what it met
// (conformance-setup.ts) for the conformance project to read. Vitest runs this once per project,
// all in its own process: the directory is kept on globalThis so every project gets the same one.

declare module 'vitest' {
  export interface ProvidedContext {
    conformanceDir: string;
  }
}

const shared = globalThis as typeof globalThis & { switchboardConformance?: { dir: string; users: number } };

export default function setup(project: TestProject): () => void {
  shared.switchboardConformance ??= { dir: mkdtempSync(join(tmpdir(), 'switchboard-conformance-')), users: 0 };
  const run = shared.switchboardConformance;
  run.users += 1;
  project.provide('conformanceDir', run.dir);
  return () => {
    run.users -= 1;
    if (run.users === 0) {
      rmSync(run.dir, { recursive: true, force: true });
      delete shared.switchboardConformance;
    }
  };
}
