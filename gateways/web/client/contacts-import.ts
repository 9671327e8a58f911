import { api, ApiError, describe, ok } from './api.js';
import { h } from './dom.js';

// Importing students from a CSV file (admins): the file goes as it is to POST /contacts/import
// (text/csv). The server reads and judges it, all or nothing: it answers how many contacts were
// created and updated, or refuses the file and names each bad row (as a spreadsheet numbers
// them), its column and why; those are listed here, nothing is checked in the browser.

export function renderImport(target: HTMLElement): void {
  const file = h('input', { id: 'csv-file', type: 'file', accept: '.csv,text/csv', required: true, 'aria-describedby': 'csv-help' });
  const button = h('button', { type: 'submit' }, 'Import');
  const result = h('div', { class: 'import-result', role: 'status', 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'import', 'aria-label': 'Import contacts' },
    h('h2', {}, 'Import contacts'),
    h('label', { for: 'csv-file' }, 'CSV file'),
    file,
    h(
      'p',
      { id: 'csv-help', class: 'muted' },
      'The first row names the columns: Phone (required), FirstName, LastName, StaffId (a user id or email; a blank cell clears the assignment) and any custom field. A student already on file (same phone) is updated. A file with any bad row imports nothing.',
    ),
    button,
    result,
  );
  form.onsubmit = (e) => {
    e.preventDefault();
    const chosen = file.files?.[0];
    if (!chosen) return;
    button.disabled = true;
    result.replaceChildren(h('p', {}, `Importing ${chosen.name}…`));
    void chosen
      .text()
      .then((csv) => api.POST('/api/v1/contacts/import', { body: csv, headers: { 'content-type': 'text/csv' }, bodySerializer: (b) => (typeof b === 'string' ? b : JSON.stringify(b)) }))
      .then(ok)
      .then((r) => result.replaceChildren(h('p', { class: 'imported' }, `Imported ${chosen.name}: ${r.created} new, ${r.updated} updated.`)))
      .catch((err: unknown) => result.replaceChildren(...refusal(err)))
      .finally(() => (button.disabled = false));
  };
  target.replaceChildren(form);
}

/** The server's refusal, with its bad rows (`row 3.Phone`), or the whole file's problem (`header`, `line 7`), in a table. */
function refusal(err: unknown): Node[] {
  const details = err instanceof ApiError ? err.details : [];
  const message = h('p', { class: 'field-error' }, err instanceof ApiError ? `${err.message} (${err.code})` : describe(err));
  if (details.length === 0) return [message];
  const rows = details.map((d) => {
    const [, row, column] = /^row (\d+)\.(.*)$/.exec(d.path) ?? [null, d.path, ''];
    return h('tr', {}, h('td', {}, row ?? ''), h('td', {}, column ?? ''), h('td', {}, d.message));
  });
  const head = h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Row'), h('th', { scope: 'col' }, 'Column'), h('th', { scope: 'col' }, 'Why')));
  return [message, h('table', { 'aria-label': 'Rejected rows' }, head, h('tbody', {}, ...rows))];
}
