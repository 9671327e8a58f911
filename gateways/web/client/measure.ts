import { api, ok, type Schemas } from './api.js';

// The live length of a text being written: characters against the limit, encoding and segments,
// as the server measures them (POST /messages/measure). Only the answer to the latest keystroke
// is shown; the server counts (GSM-7 extension characters, UCS-2), never the browser.

export function measureAsTyped(text: HTMLTextAreaElement, out: HTMLElement, onError: (e: unknown) => void): void {
  let ticket = 0;
  text.addEventListener('input', () => {
    const mine = ++ticket;
    void api
      .POST('/api/v1/messages/measure', { body: { text: text.value } })
      .then(ok)
      .then((m) => {
        if (mine !== ticket) return;
        showMeasure(out, m);
      })
      .catch(onError);
  });
}

/** A measurement (of a text being written, or of a campaign's text for one recipient) as people read it. */
export function showMeasure(out: HTMLElement, m: Schemas['Measurement']): void {
  out.textContent = `${m.characters} / ${m.maxLength} characters · ${m.encoding} · ${m.segments} segment${m.segments === 1 ? '' : 's'} (${m.remainingInSegment} left in this one)`;
  out.classList.toggle('over', m.characters > m.maxLength);
}
