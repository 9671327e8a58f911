import { api, ApiError, describe, ok, type Account, type Schemas } from './api.js';
import { h, time } from './dom.js';
import { measureAsTyped, showMeasure } from './measure.js';
import type { Event } from './live.js';

// Campaigns of one account: the list (state and counts, live), a form to create one, and one
// campaign's page (its progress live from the `campaign` frames, pause / resume / cancel, each
// recipient's status with a filter). The server judges everything — recipients, merge fields,
// quiet hours, the 20:00 rule, which command a state allows — and its refusals are shown next to
// the field they name (`details[].path`), or next to the button that was refused.

type Campaign = Schemas['Campaign'];
type Counts = Schemas['CampaignCounts'];
type RecipientStatus = Schemas['RecipientStatus'];
export type CampaignFrame = Extract<Event, { type: 'campaign' }>;

/** A campaigns screen on display: the app hands it every `campaign` frame. */
export interface CampaignScreen {
  apply(frame: CampaignFrame): void;
}

const COUNT_LABELS: Array<[keyof Counts, string]> = [
  ['total', 'Recipients'],
  ['queued', 'Queued'],
  ['sent', 'Sent'],
  ['delivered', 'Delivered'],
  ['failed', 'Failed'],
  ['unknown', 'Unknown (not re-sent)'],
  ['skippedOptedOut', 'Skipped: opted out'],
  ['skippedDuplicate', 'Skipped: duplicate'],
  ['skippedInvalid', 'Skipped: invalid'],
  ['replies', 'Replies'],
];
const STATUS_LABELS: Record<RecipientStatus, string> = {
  queued: 'Queued',
  sent: 'Sent',
  delivered: 'Delivered',
  failed: 'Failed',
  skipped_opted_out: 'Skipped: opted out',
  skipped_invalid: 'Skipped: invalid',
  unknown: 'Unknown',
};

/** `estimatedDurationMs` as people read it: "5 h 33 min", "12 min", "under a minute". */
export function duration(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 1) return 'under a minute';
  const hours = Math.floor(minutes / 60);
  return hours > 0 ? `${hours} h ${minutes % 60} min` : `${minutes} min`;
}

function stateText(c: Pick<Campaign, 'state' | 'pausedReason' | 'scheduledAt'>): string {
  if (c.state === 'paused') return c.pausedReason === 'quietHours' ? 'Paused for quiet hours (resumes at 06:00)' : 'Paused';
  if (c.state === 'scheduled' && c.scheduledAt !== null) return `Scheduled for ${time(c.scheduledAt)}`;
  return c.state[0]!.toUpperCase() + c.state.slice(1);
}

function progress(counts: Counts): string {
  const done = counts.sent + counts.delivered + counts.failed + counts.unknown;
  const skipped = counts.skippedOptedOut + counts.skippedInvalid;
  return `${done} of ${counts.total - skipped} sent${skipped ? `, ${skipped} skipped` : ''}`;
}

/** Puts each refusal next to the field its `details[].path` names; what names no field shown goes to `fallback`. */
function showRefusal(e: unknown, fields: Map<string, HTMLElement>, fallback: HTMLElement): void {
  let shown = false;
  for (const d of e instanceof ApiError ? e.details : []) {
    // `recipients.phones.3` → the recipients field; `name` → the name field.
    const el = fields.get(d.path) ?? fields.get(d.path.split('.')[0]!);
    if (!el) continue;
    el.textContent = el.textContent ? `${el.textContent}; ${d.message}` : `${d.message} (${e instanceof ApiError ? e.code : ''})`;
    shown = true;
  }
  if (!shown) fallback.textContent = describe(e);
}

// ---- the list and the create form ----------------------------------------------------------------

export async function renderCampaigns(target: HTMLElement, account: Account): Promise<CampaignScreen> {
  const ref = account.apiCode ?? 'personal';
  const list = ok(await api.GET('/api/v1/campaigns', { params: { query: { account: ref } } }));
  // The live `campaign` event carries no schedule: each row keeps the one the list was read with.
  const rows = new Map<string, { state: HTMLElement; progress: HTMLElement; scheduledAt: number | null }>();
  const body = h('tbody', {});
  const row = (c: Campaign) => {
    const cells = { state: h('td', { class: 'state' }, stateText(c)), progress: h('td', { class: 'progress' }, progress(c.counts)), scheduledAt: c.scheduledAt };
    rows.set(c.id, cells);
    // A scheduled single message (POST /messages with scheduledAt) runs as a campaign: marked as such.
    const name = c.kind === 'message' ? `Scheduled message: ${c.name}` : c.name;
    return h('tr', { 'data-campaign': c.id, 'data-kind': c.kind }, h('td', {}, h('a', { href: `#/campaign/${c.id}` }, name)), cells.state, cells.progress, h('td', {}, time(c.createdAt)));
  };
  body.replaceChildren(...list.items.map(row));
  const table = h(
    'table',
    { 'aria-label': 'Campaigns' },
    h('thead', {}, h('tr', {}, ...['Campaign', 'State', 'Progress', 'Created'].map((c) => h('th', { scope: 'col' }, c)))),
    body,
  );
  const empty = h('p', { class: 'empty' }, 'No campaigns yet.');
  empty.hidden = list.items.length > 0;
  target.replaceChildren(h('h2', {}, `${account.name}: Campaigns`), table, empty, createForm(account));
  return {
    apply(frame) {
      if (frame.accountId !== account.id) return;
      const cells = rows.get(frame.id);
      if (!cells) {
        // A campaign someone else just created: the list is read again, newest first.
        void api
          .GET('/api/v1/campaigns', { params: { query: { account: ref } } })
          .then(ok)
          .then((l) => {
            body.replaceChildren(...l.items.map(row));
            empty.hidden = l.items.length > 0;
          })
          .catch(() => undefined);
        return;
      }
      cells.state.textContent = stateText({ ...frame, scheduledAt: cells.scheduledAt });
      cells.progress.textContent = progress(frame.counts);
    },
  };
}

function createForm(account: Account): HTMLElement {
  const fields = new Map<string, HTMLElement>();
  const fieldError = (field: string) => {
    const el = h('p', { class: 'field-error', id: `campaign-${field}-error`, role: 'alert' });
    fields.set(field, el);
    return el;
  };
  const name = h('input', { id: 'campaign-name', name: 'name', required: true, 'aria-describedby': 'campaign-name-error' });
  const text = h('textarea', { id: 'campaign-text', name: 'text', rows: '4', required: true, maxlength: '1600', 'aria-describedby': 'campaign-text-error' });
  const measure = h('p', { class: 'measure', 'aria-live': 'polite' });
  const phones = h('textarea', { id: 'campaign-phones', name: 'phones', rows: '4', placeholder: '+16175550101\n(617) 555-0102', 'aria-describedby': 'campaign-recipients-error' });
  const tags = h('input', { id: 'campaign-tags', placeholder: 'fall-2026; transfer', 'aria-describedby': 'campaign-recipients-error' });
  const file = h('input', { id: 'campaign-csv', type: 'file', accept: '.csv,text/csv', 'aria-describedby': 'campaign-recipients-error' });
  const now = h('input', { type: 'radio', name: 'when', id: 'campaign-now', value: 'now', checked: true });
  const later = h('input', { type: 'radio', name: 'when', id: 'campaign-later', value: 'later' });
  const at = h('input', { type: 'datetime-local', id: 'campaign-at', 'aria-label': 'Send at', 'aria-describedby': 'campaign-scheduledAt-error' });
  const anyway = h('input', { type: 'checkbox', id: 'campaign-anyway' });
  const anywayLabel = h('label', { class: 'send-anyway', hidden: true }, anyway, ' Send anyway (after 20:00 for the recipients)');
  const formError = h('p', { class: 'field-error', role: 'alert' });
  const button = h('button', { type: 'submit' }, 'Create campaign');
  const syncWhen = () => (at.disabled = !later.checked);
  now.onchange = later.onchange = syncWhen;
  syncWhen();
  measureAsTyped(text, measure, (e) => (formError.textContent = describe(e)));

  const form = h(
    'form',
    { class: 'campaign-form', 'aria-label': 'New campaign' },
    h('h3', {}, 'New campaign'),
    h('label', { for: 'campaign-name' }, 'Name'),
    name,
    fieldError('name'),
    h('label', { for: 'campaign-text' }, 'Text (merge fields: {FirstName}, {LastName}, custom fields)'),
    text,
    measure,
    fieldError('text'),
    h('label', { for: 'campaign-phones' }, 'Recipients (phone numbers, one per line or comma separated)'),
    phones,
    h('label', { for: 'campaign-csv' }, 'and/or a CSV file (its Phone column)'),
    file,
    h('label', { for: 'campaign-tags' }, 'and/or the contacts with all of these tags (separated by ;)'),
    tags,
    fieldError('recipients'),
    h('fieldset', { class: 'when' }, h('legend', {}, 'When'), h('label', {}, now, ' Send now'), h('label', {}, later, ' Schedule for '), at, fieldError('scheduledAt'), anywayLabel),
    fieldError('sendAnyway'),
    button,
    formError,
  );
  // A draft created by this form whose start was refused (quiet hours, the 20:00 rule): trying
  // again starts that draft rather than creating a second campaign.
  let draft: string | null = null;
  const start = async (id: string) => {
    ok(await api.POST('/api/v1/campaigns/{id}/start', { params: { path: { id } }, body: { sendAnyway: anyway.checked } }));
    location.hash = `#/campaign/${id}`;
  };
  form.onsubmit = (e) => {
    e.preventDefault();
    for (const el of [...fields.values(), formError]) el.textContent = '';
    const scheduled = later.checked;
    button.disabled = true;
    void (async () => {
      if (draft && !scheduled) return start(draft);
      const csv = await file.files?.[0]?.text();
      const tagList = tags.value.split(';').map((t) => t.trim()).filter(Boolean);
      const created = ok(
        await api.POST('/api/v1/campaigns', {
          body: {
            ...(account.apiCode ? { groupAccountCode: account.apiCode } : {}),
            name: name.value,
            text: text.value,
            // Pasted lists: one phone per line or comma; the server reads each one's style.
            recipients: {
              phones: phones.value.split(/[\n,;]+/).map((p) => p.trim()).filter(Boolean),
              ...(csv ? { csv } : {}),
              ...(tagList.length > 0 ? { filter: { tags: tagList } } : {}),
            },
            ...(scheduled ? { scheduledAt: at.value ? new Date(at.value).getTime() : Number.NaN } : {}),
            sendAnyway: anyway.checked,
          },
        }),
      );
      if (scheduled) location.hash = `#/campaign/${created.id}`;
      else {
        draft = created.id;
        await start(created.id);
      }
    })()
      .catch((err: unknown) => {
        if (err instanceof ApiError && err.code === 'confirm_late_send') anywayLabel.hidden = false;
        if (draft && err instanceof ApiError) {
          fields.get('scheduledAt')!.textContent = `${err.message} (${err.code}). The campaign is saved as a draft: confirm to start it.`;
        } else showRefusal(err, fields, formError);
      })
      .finally(() => (button.disabled = false));
  };
  return form;
}

// ---- one campaign -------------------------------------------------------------------------------------

export async function renderCampaign(target: HTMLElement, id: string, accounts: Account[]): Promise<CampaignScreen> {
  const path = { params: { path: { id } } };
  let campaign = ok(await api.GET('/api/v1/campaigns/{id}', path));
  const account = accounts.find((a) => a.id === campaign.accountId);
  const state = h('p', { class: 'campaign-state', role: 'status' });
  const estimate = h('p', { class: 'estimate' });
  const counts = h('dl', { class: 'counts', 'aria-label': 'Counts' });
  const commandError = h('p', { class: 'field-error', id: 'campaign-command-error', role: 'alert' });
  const anyway = h('input', { type: 'checkbox', id: 'command-anyway' });
  const anywayLabel = h('label', { class: 'send-anyway', hidden: true }, anyway, ' Send anyway (after 20:00 for the recipients)');
  const buttons = new Map(
    (['start', 'pause', 'resume', 'cancel'] as const).map((command) => [
      command,
      h('button', { type: 'button', class: command === 'cancel' ? 'secondary' : '', 'aria-describedby': 'campaign-command-error', onclick: () => run(command) }, command[0]!.toUpperCase() + command.slice(1)),
    ]),
  );
  const filter = h(
    'select',
    { id: 'recipient-status', 'aria-label': 'Show recipients' },
    h('option', { value: '' }, 'All recipients'),
    ...Object.entries(STATUS_LABELS).map(([value, label]) => h('option', { value }, label)),
  );
  const recipients = h('tbody', {});
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'More');
  let lastSeq: number | null = null;
  let loading = 0;

  const draw = () => {
    state.textContent = stateText(campaign);
    state.dataset['state'] = campaign.state;
    const ongoing = campaign.state !== 'completed' && campaign.state !== 'cancelled';
    estimate.textContent = ongoing ? `About ${duration(campaign.estimatedDurationMs)} to go at this account's sending pace` : '';
    counts.replaceChildren(...COUNT_LABELS.flatMap(([key, label]) => [h('dt', {}, label), h('dd', { 'data-count': key }, String(campaign.counts[key]))]));
    // The buttons a state can take (the server refuses the others all the same).
    const can: Record<string, boolean> = {
      start: campaign.state === 'draft' || campaign.state === 'scheduled',
      pause: campaign.state === 'sending' || (campaign.state === 'paused' && campaign.pausedReason === 'quietHours'),
      resume: campaign.state === 'paused',
      cancel: ongoing,
    };
    for (const [command, button] of buttons) button.hidden = !can[command];
  };
  const run = (command: 'start' | 'pause' | 'resume' | 'cancel') => {
    commandError.textContent = '';
    const answer =
      command === 'start' || command === 'resume'
        ? api.POST(command === 'start' ? '/api/v1/campaigns/{id}/start' : '/api/v1/campaigns/{id}/resume', { ...path, body: { sendAnyway: anyway.checked } })
        : api.POST(command === 'pause' ? '/api/v1/campaigns/{id}/pause' : '/api/v1/campaigns/{id}/cancel', path);
    void answer
      .then(ok)
      .then((c) => {
        campaign = c;
        draw();
      })
      .catch((e: unknown) => {
        if (e instanceof ApiError && e.code === 'confirm_late_send') anywayLabel.hidden = false;
        commandError.textContent = describe(e);
      });
  };
  const previewPhone = h('input', { id: 'preview-phone', type: 'tel', placeholder: '+16175550101', 'aria-describedby': 'preview-error' });
  const previewText = h('p', { class: 'campaign-text', hidden: true, 'aria-label': 'Preview' });
  const previewMeasure = h('p', { class: 'measure' });
  const previewError = h('p', { class: 'field-error', id: 'preview-error', role: 'alert' });
  const preview = (who: { phone: string } | { contactId: string }) => {
    previewError.textContent = '';
    void api
      .GET('/api/v1/campaigns/{id}/preview', { params: { path: { id }, query: who } })
      .then(ok)
      .then((p) => {
        previewText.hidden = false;
        previewText.textContent = p.text;
        showMeasure(previewMeasure, p);
        previewMeasure.prepend(`For ${p.phone}: `);
      })
      .catch((e: unknown) => {
        previewText.hidden = true;
        previewMeasure.textContent = '';
        previewError.textContent = describe(e);
      });
  };
  const previewForm = h(
    'form',
    { class: 'campaign-preview', 'aria-label': 'Preview for a recipient' },
    h('label', { for: 'preview-phone' }, 'Preview for phone'),
    previewPhone,
    h('button', { type: 'submit', class: 'secondary' }, 'Preview'),
    previewError,
    previewText,
    previewMeasure,
  );
  previewForm.onsubmit = (e) => {
    e.preventDefault();
    preview({ phone: previewPhone.value });
  };
  const loadRecipients = (append: boolean) => {
    const ticket = ++loading;
    const status = filter.value as RecipientStatus | '';
    void api
      .GET('/api/v1/campaigns/{id}/recipients', { params: { path: { id }, query: { ...(status ? { status } : {}), ...(append && lastSeq !== null ? { after: lastSeq } : {}) } } })
      .then(ok)
      .then((page) => {
        if (ticket !== loading) return;
        const rows = page.items.map((r) =>
          h(
            'tr',
            { 'data-status': r.status },
            h('td', {}, r.phone),
            h('td', {}, STATUS_LABELS[r.status]),
            h('td', {}, r.senderNumber ?? ''),
            h('td', {}, r.handedAt ? time(r.handedAt) : ''),
            h('td', {}, r.repliedAt ? `Replied ${time(r.repliedAt)}` : ''),
            h('td', {}, h('button', { type: 'button', class: 'link', 'aria-label': `Preview for ${r.phone}`, onclick: () => preview(r.contactId ? { contactId: r.contactId } : { phone: r.phone }) }, 'Preview')),
          ),
        );
        if (append) recipients.append(...rows);
        else recipients.replaceChildren(...rows);
        lastSeq = page.items.at(-1)?.seq ?? lastSeq;
        more.hidden = page.items.length < 100;
      })
      .catch((e: unknown) => (commandError.textContent = describe(e)));
  };
  filter.onchange = () => {
    lastSeq = null;
    loadRecipients(false);
  };
  more.onclick = () => loadRecipients(true);

  draw();
  loadRecipients(false);
  target.replaceChildren(
    h('p', {}, h('a', { href: `#/campaigns/${account?.apiCode ?? 'personal'}` }, `${account?.name ?? 'Account'}: all campaigns`)),
    h('h2', {}, campaign.name),
    h('p', { class: 'campaign-text' }, campaign.text),
    state,
    estimate,
    counts,
    h('div', { class: 'actions' }, ...buttons.values()),
    anywayLabel,
    commandError,
    previewForm,
    h('h3', {}, 'Recipients'),
    filter,
    h(
      'table',
      { 'aria-label': 'Recipients' },
      h('thead', {}, h('tr', {}, ...['Phone', 'Status', 'From', 'Handed over', 'Reply', ''].map((c) => h('th', { scope: 'col' }, c)))),
      recipients,
    ),
    more,
  );
  let frames = 0;
  return {
    apply(frame) {
      if (frame.id !== id) return;
      const seen = ++frames;
      campaign = { ...campaign, state: frame.state, pausedReason: frame.pausedReason, counts: frame.counts };
      draw();
      // Paging through the recipients: the rows on screen stay as they are until the filter changes.
      if (more.hidden) loadRecipients(false);
      // The frame carries state and counts; what is left to send (the estimate) is read with the
      // campaign, and used only if no newer frame came meanwhile.
      void api
        .GET('/api/v1/campaigns/{id}', path)
        .then(ok)
        .then((c) => {
          if (seen !== frames) return;
          // Delivery reports may have moved on since the frame: the rows follow the counts.
          const moved = JSON.stringify(c.counts) !== JSON.stringify(campaign.counts);
          campaign = c;
          draw();
          if (moved && more.hidden) loadRecipients(false);
        })
        .catch(() => undefined);
    },
  };
}
