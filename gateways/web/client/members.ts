import { api, ApiError, describe, ok, type Schemas } from './api.js';
import { h } from './dom.js';

// Members of an existing group account (admins): the current members, each removable, and the
// people of the account's department to add. Every change is one PUT of the whole list; the
// server judges it (who may change it, who may be a member) and its refusals are shown next to
// the member they name, or next to the "add" field for the person being added. The people given
// or losing access are told live by the server (accessGranted, access_revoked).

type User = Schemas['User'];

export async function renderMembers(target: HTMLElement, apiCode: string): Promise<void> {
  const path = { params: { path: { apiCode } } };
  const account = ok(await api.GET('/api/v1/group-accounts/{apiCode}', path));
  let members = account.memberIds ?? [];
  const people = new Map<string, User>();
  if (account.departmentId) {
    for (const u of ok(await api.GET('/api/v1/users', { params: { query: { departmentId: account.departmentId } } })).items) people.set(u.id, u);
  }
  // Owners may be members without belonging to the department.
  for (const id of members.filter((m) => !people.has(m))) {
    const u = await api.GET('/api/v1/users/{id}', { params: { path: { id } } }).then(ok, () => null);
    if (u) people.set(id, u);
  }
  const label = (id: string) => {
    const u = people.get(id);
    return u ? `${u.name} (${u.email})${u.disabled ? ', disabled' : ''}` : id;
  };

  const list = h('ul', { class: 'members', 'aria-label': 'Current members' });
  const candidate = h('select', { id: 'add-member', 'aria-describedby': 'add-member-error' });
  const add = h('button', { type: 'submit' }, 'Add');
  const addError = h('p', { class: 'field-error', id: 'add-member-error', role: 'alert' });
  const formError = h('p', { class: 'field-error', role: 'alert' });
  const done = h('p', { role: 'status' });
  const rowErrors = new Map<string, HTMLElement>();

  const draw = () => {
    rowErrors.clear();
    list.replaceChildren(
      ...members.map((id) => {
        const error = h('p', { class: 'field-error', id: `member-${id}-error`, role: 'alert' });
        rowErrors.set(id, error);
        const name = people.get(id)?.name ?? id;
        return h(
          'li',
          { 'data-member': id },
          h('span', {}, label(id)),
          h('button', { type: 'button', class: 'secondary', 'aria-label': `Remove ${name}`, 'aria-describedby': error.id, onclick: () => save(members.filter((m) => m !== id), null, `${name} was removed.`) }, 'Remove'),
          error,
        );
      }),
    );
    if (members.length === 0) list.replaceChildren(h('li', { class: 'muted' }, "No members: only the department's admins and owners can use it."));
    const others = [...people.values()].filter((u) => !members.includes(u.id));
    candidate.replaceChildren(...others.map((u) => h('option', { value: u.id }, label(u.id))));
    if (others.length === 0) candidate.replaceChildren(h('option', { value: '' }, 'Everyone in the department is a member'));
    add.disabled = others.length === 0;
  };

  const save = (next: string[], adding: string | null, said: string) => {
    for (const el of [addError, formError, done, ...rowErrors.values()]) el.textContent = '';
    void api
      .PUT('/api/v1/group-accounts/{apiCode}/members', { ...path, body: { memberIds: next } })
      .then(ok)
      .then((r) => {
        members = r.memberIds;
        draw();
        done.textContent = said;
      })
      .catch((e: unknown) => {
        // `memberIds.3`: the fourth id sent; its refusal goes next to that person.
        let shown = false;
        for (const d of e instanceof ApiError ? e.details : []) {
          const id = next[Number(/^memberIds\.(\d+)$/.exec(d.path)?.[1] ?? NaN)];
          const el = id === undefined ? undefined : id === adding ? addError : rowErrors.get(id);
          if (!el) continue;
          el.textContent = el.textContent ? `${el.textContent}; ${d.message}` : d.message;
          shown = true;
        }
        if (!shown) formError.textContent = describe(e);
      });
  };

  const form = h(
    'form',
    { class: 'add-member', 'aria-label': 'New member' },
    h('label', { for: 'add-member' }, 'Add a member'),
    candidate,
    addError,
    add,
  );
  form.onsubmit = (e) => {
    e.preventDefault();
    const id = candidate.value;
    if (id) save([...members, id], id, `${people.get(id)?.name ?? id} was added.`);
  };
  draw();
  target.replaceChildren(h('h2', {}, `Members of ${account.name}`), list, form, formError, done);
}
