// Plivo's DND service reads whole-message keywords, case-insensitive, surrounding whitespace
// allowed ("Please stop texting me" is not an opt-out). plivo.md §9; the lists differ a little
// between Plivo's doc versions, so this is their union.

export type MessageIntent = 'optout' | 'optin' | 'help' | '';

const OPT_OUT = new Set(['STOP', 'STOPALL', 'STOP ALL', 'UNSUBSCRIBE', 'UNSUB', 'CANCEL', 'END', 'QUIT', 'REVOKE', 'OPTOUT', 'OPT OUT']);
const OPT_IN = new Set(['START', 'UNSTOP', 'YES', 'RESUME']);
const HELP = new Set(['HELP', 'INFO']);

export function messageIntent(text: string): MessageIntent {
  const word = text.trim().replace(/\s+/g, ' ').toUpperCase();
  if (OPT_OUT.has(word)) return 'optout';
  if (OPT_IN.has(word)) return 'optin';
  if (HELP.has(word)) return 'help';
  return '';
}
