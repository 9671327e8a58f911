import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { controlDamon, kdamonds } from '../bench/kernel-damon.js';
import { tempDir } from '../helpers/temp-dir.js';

// The benchmarks' handling of the kernel's DAMON, on a stand-in for its sysfs directory: a run
// that pauses it must turn back on exactly what it turned off, and say what it did.

const dirs: Array<{ remove(): void }> = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});

function sysfs(states: string[]): { admin: string; state(i: number): string } {
  const d = tempDir();
  dirs.push(d);
  const admin = join(d.path, 'kdamonds');
  mkdirSync(admin);
  writeFileSync(join(admin, 'nr_kdamonds'), String(states.length));
  states.forEach((state, i) => {
    mkdirSync(join(admin, String(i)));
    writeFileSync(join(admin, String(i), 'state'), `${state}\n`);
  });
  return { admin, state: (i) => readFileSync(join(admin, String(i), 'state'), 'utf8').trim() };
}

describe('the benchmarks and the kernel DAMON', () => {
  it('lists the kdamonds with their states, and none where sysfs has no DAMON', () => {
    const fs = sysfs(['on', 'off']);
    expect(kdamonds(fs.admin).map((k) => k.state)).toEqual(['on', 'off']);
    expect(kdamonds(join(fs.admin, 'missing'))).toEqual([]);
  });

  it('only reports unless a pause is asked for', () => {
    const fs = sysfs(['on']);
    const c = controlDamon({}, fs.admin);
    expect(c.describe()).toMatch(/running \(1 kdamond; BENCH_PAUSE_DAMON=1/);
    expect(fs.state(0)).toBe('on');
    expect(controlDamon({ BENCH_PAUSE_DAMON: '1' }, sysfs(['off']).admin).describe()).toBe('kernel DAMON: not running');
  });

  it('pauses the running kdamonds and turns back on only those, once', () => {
    const fs = sysfs(['on', 'off', 'on']);
    const listeners = process.listenerCount('exit');
    const c = controlDamon({ BENCH_PAUSE_DAMON: '1' }, fs.admin);
    expect([fs.state(0), fs.state(1), fs.state(2)]).toEqual(['off', 'off', 'off']);
    expect(c.describe()).toMatch(/PAUSED for this run .*2 kdamonds/);
    expect(process.listenerCount('exit')).toBe(listeners + 1);
    c.restore();
    expect([fs.state(0), fs.state(1), fs.state(2)]).toEqual(['on', 'off', 'on']);
    expect(process.listenerCount('exit')).toBe(listeners);
    writeFileSync(join(fs.admin, '0', 'state'), 'off');
    c.restore();
    expect(fs.state(0)).toBe('off');
  });

  it('says why when it cannot pause, and turns back on what it had paused', () => {
    const fs = sysfs(['on', 'on']);
    const refusing = (file: string, text: string) => {
      if (file.endsWith(join('1', 'state'))) throw new Error('EACCES: permission denied');
      writeFileSync(file, text);
    };
    expect(() => controlDamon({ BENCH_PAUSE_DAMON: '1' }, fs.admin, refusing)).toThrow(/cannot turn off .*1\/state \(EACCES.*run as root/);
    expect([fs.state(0), fs.state(1)]).toEqual(['on', 'on']);
  });
});
