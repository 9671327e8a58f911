import * as plivo from 'plivo';

// Voice answers as Plivo XML, built with the SDK's own XML builder (plivo.md §7). The SDK checks
// attribute names against Plivo's whitelist, so a typo fails here and not on a live call.

export function dialXml(to: string, callerId: string, timeoutSeconds = 25): string {
  const r = plivo.Response();
  const dial = r.addDial({ callerId: digits(callerId), timeout: timeoutSeconds });
  dial.addNumber(digits(to));
  return r.toXML();
}

export function speakAndHangUpXml(text: string): string {
  const r = plivo.Response();
  r.addSpeak(text);
  r.addHangup();
  return r.toXML();
}

function digits(e164: string): string {
  return e164.replace(/^\+/, '');
}
