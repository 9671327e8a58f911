// Carrier opt-out keywords (CTIA): the whole message, any case, surrounding white space ignored.
// "Please stop texting me" is a message, not an opt-out.

export type KeywordIntent = 'optOut' | 'optIn' | 'help';

const OPT_OUT = new Set(['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'REVOKE', 'OPTOUT']);
const OPT_IN = new Set(['START', 'UNSTOP', 'YES']);
const HELP = new Set(['HELP', 'INFO']);

export function keywordIntent(text: string): KeywordIntent | null {
  const word = text.trim().toUpperCase();
  if (OPT_OUT.has(word)) return 'optOut';
  if (OPT_IN.has(word)) return 'optIn';
  if (HELP.has(word)) return 'help';
  return null;
}
