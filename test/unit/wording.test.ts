import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Code, docs and README say what the code does and why. Words about how a change came to be
// written ("the name the brief used", "a later issue") age into riddles for the next reader.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SELF = 'test/unit/wording.test.ts';
const PROCESS_WORDS = /\b(the brief|later issue|later milestone|next milestone|this issue)\b/i;

describe('wording of code and docs', () => {
  it('never speaks of briefs, issues or milestones', () => {
    // Tracked files plus new ones not yet committed, as git sees the working tree.
    const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', 'src', 'actors', 'gateways', 'docs', 'test', 'docker', 'README.md'], {
      cwd: ROOT,
      encoding: 'utf8',
    })
      .split('\n')
      .filter((f) => f !== '' && f !== SELF && !f.endsWith('.json'));
    const hits: string[] = [];
    for (const file of files) {
      let text: string;
      try {
        text = readFileSync(ROOT + file, 'utf8');
      } catch {
        continue; // listed by git but deleted in the working tree
      }
      text.split('\n').forEach((line, i) => {
        if (PROCESS_WORDS.test(line)) hits.push(`${file}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(hits).toEqual([]);
  });
});
