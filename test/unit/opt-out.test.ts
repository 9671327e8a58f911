import { describe, expect, it } from 'vitest';
import { keywordIntent } from '../../src/domain/opt-out.js';

describe('opt-out keywords', () => {
  it.each(['STOP', 'stop', ' Stop \n', 'STOPALL', 'UNSUBSCRIBE', 'cancel', 'END', 'quit', 'REVOKE', 'OptOut'])('"%s" opts out', (t) => {
    expect(keywordIntent(t)).toBe('optOut');
  });

  it.each(['START', 'unstop', 'Yes'])('"%s" opts back in', (t) => {
    expect(keywordIntent(t)).toBe('optIn');
  });

  it.each(['HELP', 'info '])('"%s" asks for help', (t) => {
    expect(keywordIntent(t)).toBe('help');
  });

  it.each(['Please stop texting me', 'STOP!', 'stop it', 'STOP ALL', 'yes please', ''])('"%s" is an ordinary message', (t) => {
    expect(keywordIntent(t)).toBeNull();
  });
});
