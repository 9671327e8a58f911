import { api, ApiError, ok, type Schemas } from './api.js';
import { h } from './dom.js';

// The group-account wizard: details → six numbers → forwarding → members → confirm. The server
// judges everything (six distinct free numbers, members of the department, unique apiCode); its
// refusals are shown next to the field they name, on the step that has it.

type Step = 'details' | 'numbers' | 'forwarding' | 'members' | 'confirm';
const STEPS: Array<[Step, string]> = [
  ['details', 'Details'],
  ['numbers', 'Numbers'],
  ['forwarding', 'Forwarding'],
  ['members', 'Members'],
  ['confirm', 'Confirm'],
];
/** Which step shows the error of each request field. */
const FIELD_STEP: Record<string, Step> = { name: 'details', apiCode: 'details', departmentId: 'details', color: 'details', numbers: 'numbers', forwardingNumber: 'forwarding', memberIds: 'members' };

export function renderWizard(target: HTMLElement, done: (account: Schemas['Account']) => void): void {
  const chosen = new Set<string>();
  const members = new Set<string>();
  const errors = new Map<string, HTMLElement>();
  const fieldError = (field: string) => {
    const el = h('p', { class: 'field-error', id: `${field}-error`, role: 'alert' });
    errors.set(field, el);
    return el;
  };

  const name = h('input', { id: 'ga-name', 'aria-describedby': 'name-error' });
  const apiCode = h('input', { id: 'ga-apicode', placeholder: 'made from the name when blank', 'aria-describedby': 'apiCode-error' });
  const department = h('select', { id: 'ga-department', 'aria-describedby': 'departmentId-error' });
  const color = h('input', { id: 'ga-color', type: 'color', value: '#2f6fde', 'aria-describedby': 'color-error' });
  const areaCode = h('input', { id: 'ga-areacode', inputmode: 'numeric', placeholder: '617' });
  const prefix = h('input', { id: 'ga-prefix', inputmode: 'numeric', placeholder: 'optional, e.g. 555' });
  const results = h('ul', { class: 'choices', 'aria-label': 'Available numbers' });
  const picked = h('p', { class: 'muted', 'aria-live': 'polite' });
  const forwarding = h('input', { id: 'ga-forwarding', type: 'tel', placeholder: 'blank: calls are not forwarded', 'aria-describedby': 'forwardingNumber-error' });
  const memberList = h('ul', { class: 'choices', 'aria-label': 'Members' });
  const summary = h('dl', { class: 'summary' });
  const formError = h('p', { class: 'field-error', role: 'alert' });

  const showPicked = () => (picked.textContent = `${chosen.size} of 6 chosen: ${[...chosen].join(', ')}`);
  const search = h('button', { type: 'button' }, 'Search');
  search.onclick = () => {
    errors.get('numbers')!.textContent = '';
    void api
      .GET('/api/v1/numbers/available', { params: { query: { areaCode: areaCode.value, ...(prefix.value ? { prefix: prefix.value } : {}) } } })
      .then(ok)
      .then((list) => {
        results.replaceChildren(
          ...list.items.map((n) => {
            const box = h('input', { type: 'checkbox', value: n.number, id: `n-${n.number}` });
            box.checked = chosen.has(n.number);
            box.onchange = () => {
              if (box.checked) chosen.add(n.number);
              else chosen.delete(n.number);
              showPicked();
            };
            return h('li', {}, h('label', { for: `n-${n.number}` }, box, ` ${n.number}${n.city ? ` (${n.city})` : ''}`));
          }),
        );
        if (list.items.length === 0) results.replaceChildren(h('li', { class: 'muted' }, 'No numbers available there.'));
      })
      .catch((e: unknown) => (errors.get('numbers')!.textContent = message(e)));
  };

  const panels = new Map<Step, HTMLElement>([
    ['details', h('fieldset', {}, h('legend', {}, 'Details'), h('label', { for: 'ga-name' }, 'Name'), name, fieldError('name'), h('label', { for: 'ga-apicode' }, 'API code'), apiCode, fieldError('apiCode'), h('label', { for: 'ga-department' }, 'Department'), department, fieldError('departmentId'), h('label', { for: 'ga-color' }, 'Color'), color, fieldError('color'))],
    ['numbers', h('fieldset', {}, h('legend', {}, 'Choose six numbers'), h('label', { for: 'ga-areacode' }, 'Area code'), areaCode, h('label', { for: 'ga-prefix' }, 'Prefix (exchange)'), prefix, search, results, picked, fieldError('numbers'))],
    ['forwarding', h('fieldset', {}, h('legend', {}, 'Forwarding'), h('label', { for: 'ga-forwarding' }, 'Forward voice calls to'), forwarding, fieldError('forwardingNumber'))],
    ['members', h('fieldset', {}, h('legend', {}, 'Members'), memberList, fieldError('memberIds'))],
    ['confirm', h('fieldset', {}, h('legend', {}, 'Confirm'), summary)],
  ]);

  let step: Step = 'details';
  const back = h('button', { type: 'button', class: 'secondary' }, 'Back');
  const next = h('button', { type: 'submit' }, 'Next');
  const progress = h('ol', { class: 'steps' }, ...STEPS.map(([s, label]) => h('li', { 'data-step': s }, label)));
  const show = (s: Step) => {
    step = s;
    for (const [k, el] of panels) el.hidden = k !== s;
    for (const li of progress.children) li.toggleAttribute('aria-current', (li as HTMLElement).dataset['step'] === s);
    back.hidden = s === 'details';
    next.textContent = s === 'confirm' ? 'Create group account' : 'Next';
    if (s === 'members') void loadMembers();
    if (s === 'confirm') renderSummary();
    panels.get(s)!.querySelector<HTMLElement>('input, select')?.focus();
  };
  const loadMembers = async () => {
    const users = ok(await api.GET('/api/v1/users', { params: { query: { departmentId: department.value } } }));
    memberList.replaceChildren(
      ...users.items
        .filter((u) => !u.disabled)
        .map((u) => {
          const box = h('input', { type: 'checkbox', id: `m-${u.id}` });
          box.checked = members.has(u.id);
          box.onchange = () => (box.checked ? members.add(u.id) : members.delete(u.id));
          return h('li', {}, h('label', { for: `m-${u.id}` }, box, ` ${u.name} (${u.email})`));
        }),
    );
  };
  const renderSummary = () => {
    const row = (k: string, v: string) => [h('dt', {}, k), h('dd', {}, v)];
    summary.replaceChildren(
      ...row('Name', name.value),
      ...row('API code', apiCode.value || '(from the name)'),
      ...row('Department', department.selectedOptions[0]?.textContent ?? ''),
      ...row('Color', color.value),
      ...row('Numbers', [...chosen].join(', ')),
      ...row('Forwarding', forwarding.value || 'none'),
      ...row('Members', `${members.size}`),
    );
  };

  const form = h('form', { class: 'wizard', 'aria-label': 'New group account', novalidate: true }, h('h2', {}, 'New group account'), progress, ...panels.values(), formError, h('div', { class: 'actions' }, back, next));
  back.onclick = () => show(STEPS[Math.max(0, STEPS.findIndex(([s]) => s === step) - 1)]![0]);
  form.onsubmit = (e) => {
    e.preventDefault();
    if (step !== 'confirm') return show(STEPS[STEPS.findIndex(([s]) => s === step) + 1]![0]);
    for (const el of errors.values()) el.textContent = '';
    formError.textContent = '';
    void api
      .POST('/api/v1/group-accounts', {
        body: {
          name: name.value,
          ...(apiCode.value ? { apiCode: apiCode.value } : {}),
          departmentId: department.value,
          color: color.value,
          numbers: [...chosen],
          forwardingNumber: forwarding.value || null,
          memberIds: [...members],
        },
      })
      .then(ok)
      .then(done)
      .catch((err: unknown) => {
        const details = err instanceof ApiError ? err.details : [];
        let first: Step | null = null;
        for (const d of details) {
          const field = d.path.split('.')[0]!;
          const el = errors.get(field);
          if (!el) continue;
          el.textContent = el.textContent ? `${el.textContent}; ${d.message}` : d.message;
          first ??= FIELD_STEP[field] ?? null;
        }
        if (first) show(first);
        else formError.textContent = message(err);
      });
  };

  void api
    .GET('/api/v1/departments')
    .then(ok)
    .then((list) => department.replaceChildren(...list.items.map((d) => h('option', { value: d.id }, `${d.name} (${d.code})`))))
    .catch((e: unknown) => (formError.textContent = message(e)));
  target.replaceChildren(form);
  show('details');
}

function message(e: unknown): string {
  return e instanceof ApiError ? `${e.message} (${e.code})` : e instanceof Error ? e.message : String(e);
}
