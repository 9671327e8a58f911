import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { OPERATIONS } from '../../gateways/rest/openapi.js';
import { asyncApiDocument } from '../../gateways/ws/asyncapi.js';
import type { Seen } from '../helpers/conformance.js';

// Runs after the rest of the suite (vitest.config.ts: groupOrder). Every integration test checked
// what it received against the API descriptions (test/helpers/conformance.ts); here: did the suite
// as a whole meet every operation of docs/openapi.json and every server frame of
// docs/asyncapi.json? Run alone, with nothing before it, it fails: run the whole suite.

/** Documented answers (`operationId status`) no integration test receives, and why. */
const NOT_EXERCISED: Record<string, string> = {};
/** Server frames no integration test receives, and why. */
const FRAMES_NOT_EXERCISED: Record<string, string> = {};

function merged(): { operations: Map<string, Set<number>>; frames: Set<string>; files: number } {
  const dir = inject('conformanceDir');
  const operations = new Map<string, Set<number>>();
  const frames = new Set<string>();
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  for (const file of files) {
    const seen = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Seen;
    for (const [id, statuses] of Object.entries(seen.operations)) {
      const known = operations.get(id) ?? operations.set(id, new Set()).get(id)!;
      for (const s of statuses) known.add(s);
    }
    for (const f of seen.frames) frames.add(f);
  }
  return { operations, frames, files: files.length };
}

describe('conformance coverage of the integration suite', () => {
  const { operations, frames, files } = merged();
  const serverMessages = Object.entries((asyncApiDocument() as { operations: Record<string, { action: string; messages: Array<{ $ref: string }>; reply?: { messages: Array<{ $ref: string }> } }> }).operations).flatMap(
    ([, op]) => (op.action === 'send' ? op.messages : (op.reply?.messages ?? [])).map((m) => m.$ref.split('/').pop()!),
  );
  const allFrames = [...new Set(serverMessages)].sort();

  it('met every operation of docs/openapi.json, with each of its documented answers', () => {
    expect(files, 'no integration test file left a record: run the whole suite (npm test)').toBeGreaterThan(0);
    const answers = OPERATIONS.flatMap((op) => op.answers.map((a) => `${op.id} ${a.status}`));
    const met = (answer: string) => {
      const [id, status] = answer.split(' ');
      return operations.get(id!)?.has(Number(status)) ?? false;
    };
    const summary = OPERATIONS.map((op) => `${operations.has(op.id) ? '✓' : '✗'} ${op.id}: ${[...(operations.get(op.id) ?? [])].sort().join(', ')}`);
    process.stdout.write(
      `HTTP operations met: ${OPERATIONS.filter((op) => operations.has(op.id)).length} of ${OPERATIONS.length}; ` +
        `documented answers met: ${answers.filter(met).length} of ${answers.length}\n${summary.join('\n')}\n`,
    );
    expect(answers.filter((a) => !met(a) && !(a in NOT_EXERCISED))).toEqual([]);
    // An exemption that is met after all is stale.
    expect(Object.keys(NOT_EXERCISED).filter(met)).toEqual([]);
  });

  it('met every frame of docs/asyncapi.json the server sends', () => {
    process.stdout.write(`WebSocket frames met: ${allFrames.filter((f) => frames.has(f)).length} of ${allFrames.length}: ${allFrames.map((f) => `${frames.has(f) ? '✓' : '✗'} ${f}`).join(', ')}\n`);
    expect(allFrames.filter((f) => !frames.has(f) && !(f in FRAMES_NOT_EXERCISED))).toEqual([]);
    expect(Object.keys(FRAMES_NOT_EXERCISED).filter((f) => frames.has(f))).toEqual([]);
  });
});
