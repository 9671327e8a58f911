import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { User } from '../../src/domain/types.js';
import { startTestSwitchboard, type TestSwitchboard } from '../helpers/switchboard.js';
import { PASSWORD, buildOrg, login, type Org } from '../helpers/org.js';

// Who may change whom. A person who belongs to two departments is the business of both: a
// department admin changes their password, name, role, departments or status only when
// managing every department they belong to, before and after the change. Otherwise an admin of
// one department could take over a person of another (reset the password, sign in as them, read
// the other department's conversations). Every denial is checked to have changed nothing.

let t: TestSwitchboard;
let org: Org;
let adminOfBoth: { id: string; token: string };
let registrarId: string;

beforeAll(async () => {
  t = await startTestSwitchboard();
  org = await buildOrg(t);
  const created = await t.http.post(
    '/api/v1/users',
    { email: 'bea@college.edu', name: 'Bea Both', role: 'deptAdmin', departmentIds: [org.departmentId, org.otherDepartmentId], password: PASSWORD, personalAreaCode: '617' },
    org.owner.token,
  );
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  adminOfBoth = { id: created.body.id, token: await login(t, 'bea@college.edu') };
  const registrar = await t.http.post('/api/v1/departments', { name: 'Registrar', code: 'REG' }, org.owner.token);
  registrarId = registrar.body.id;
});
afterAll(async () => t?.close());

let seq = 0;
/** A fresh staff member (of both departments unless told), signed in. */
async function newPerson(departmentIds = [org.departmentId, org.otherDepartmentId]): Promise<{ id: string; email: string; token: string; before: User }> {
  const email = `person${++seq}@college.edu`;
  const r = await t.http.post('/api/v1/users', { email, name: `Person ${seq}`, role: 'staff', departmentIds, password: PASSWORD, personalAreaCode: '617' }, org.owner.token);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return { id: r.body.id, email, token: await login(t, email), before: (await t.sb.store.users.get(r.body.id))! };
}

type Actor = 'owner' | 'adminOfBoth' | 'adminOfOne' | 'staff' | 'self';
const ACTORS: Actor[] = ['owner', 'adminOfBoth', 'adminOfOne', 'staff', 'self'];

function tokenOf(actor: Actor, self: string): string {
  switch (actor) {
    case 'owner':
      return org.owner.token;
    case 'adminOfBoth':
      return adminOfBoth.token;
    case 'adminOfOne':
      return org.deptAdmin.token;
    case 'staff':
      return org.member.token;
    case 'self':
      return self;
  }
}

const NEW_PASSWORD = 'a brand new password';

interface Change {
  name: string;
  patch: () => Record<string, unknown>;
  /** What the stored user looks like after the change went through. */
  applied: (before: User, after: User) => void;
  expect: Record<Actor, number>;
}

// Staff cannot see other people at all (404). An admin of only one of the person's departments
// can see them (they work in that department) but change nothing about them (403).
const changes: Change[] = [
  {
    name: 'password',
    patch: () => ({ password: NEW_PASSWORD }),
    applied: (before, after) => expect(after.passwordHash).not.toBe(before.passwordHash),
    // Their own password needs the current one (see below).
    expect: { owner: 200, adminOfBoth: 200, adminOfOne: 403, staff: 404, self: 403 },
  },
  {
    name: 'name',
    patch: () => ({ name: 'Renamed Person' }),
    applied: (_before, after) => expect(after.name).toBe('Renamed Person'),
    expect: { owner: 200, adminOfBoth: 200, adminOfOne: 403, staff: 404, self: 200 },
  },
  {
    name: 'role',
    patch: () => ({ role: 'deptAdmin' }),
    applied: (_before, after) => expect(after.role).toBe('deptAdmin'),
    expect: { owner: 200, adminOfBoth: 200, adminOfOne: 403, staff: 404, self: 403 },
  },
  {
    name: 'departments (leaving one)',
    patch: () => ({ departmentIds: [org.departmentId] }),
    applied: (_before, after) => expect(after.departmentIds).toEqual([org.departmentId]),
    expect: { owner: 200, adminOfBoth: 200, adminOfOne: 403, staff: 404, self: 403 },
  },
  {
    name: 'disabled',
    patch: () => ({ disabled: true }),
    applied: (_before, after) => expect(after.disabled).toBe(true),
    expect: { owner: 200, adminOfBoth: 200, adminOfOne: 403, staff: 404, self: 403 },
  },
];

describe('changing a person who belongs to two departments', () => {
  for (const change of changes) {
    for (const actor of ACTORS) {
      const want = change.expect[actor];
      it(`${change.name} by ${actor} → ${want}`, async () => {
        const person = await newPerson();
        const r = await t.http.patch(`/api/v1/users/${person.id}`, change.patch(), tokenOf(actor, person.token));
        expect(r.status, JSON.stringify(r.body)).toBe(want);
        const after = (await t.sb.store.users.get(person.id))!;
        if (want === 200) {
          change.applied(person.before, after);
        } else {
          expect(r.body.error.code).toBe(want === 404 ? 'not_found' : actor === 'self' && change.name === 'password' ? 'invalid_current_password' : 'forbidden');
          expect(after).toEqual(person.before);
          // Their sessions live on: nothing happened to them.
          expect((await t.http.get('/api/v1/me', person.token)).status).toBe(200);
        }
      });
    }
  }

  it('reading them: owners, admins of any of their departments and they themselves; not staff', async () => {
    const person = await newPerson();
    const statuses = await Promise.all(ACTORS.map(async (a) => (await t.http.get(`/api/v1/users/${person.id}`, tokenOf(a, person.token))).status));
    expect(Object.fromEntries(ACTORS.map((a, i) => [a, statuses[i]]))).toEqual({ owner: 200, adminOfBoth: 200, adminOfOne: 200, staff: 404, self: 200 });
    const listed = await t.http.get('/api/v1/users', org.deptAdmin.token);
    expect(listed.body.items.map((u: { id: string }) => u.id)).toContain(person.id);
  });

  it('an admin of one department cannot take over the person: no password reset, no sign-in with it', async () => {
    const person = await newPerson();
    const reset = await t.http.patch(`/api/v1/users/${person.id}`, { password: NEW_PASSWORD }, org.deptAdmin.token);
    expect(reset.status).toBe(403);
    expect((await t.http.post('/api/v1/sessions', { email: person.email, password: NEW_PASSWORD })).status).toBe(401);
    expect((await t.http.post('/api/v1/sessions', { email: person.email, password: PASSWORD })).status).toBe(201);
  });

  it('a reset by an admin of all their departments works: the new password signs in', async () => {
    const person = await newPerson();
    expect((await t.http.patch(`/api/v1/users/${person.id}`, { password: NEW_PASSWORD }, adminOfBoth.token)).status).toBe(200);
    expect((await t.http.post('/api/v1/sessions', { email: person.email, password: NEW_PASSWORD })).status).toBe(201);
  });
});

describe('the departments after the change count too', () => {
  it('an admin of both cannot add a department they do not manage', async () => {
    const person = await newPerson();
    const r = await t.http.patch(`/api/v1/users/${person.id}`, { departmentIds: [org.departmentId, org.otherDepartmentId, registrarId] }, adminOfBoth.token);
    expect(r.status).toBe(403);
    expect((await t.sb.store.users.get(person.id))!.departmentIds).toEqual(person.before.departmentIds);
  });

  it('an admin of one department manages its own people, but cannot move them into another', async () => {
    const person = await newPerson([org.departmentId]);
    expect((await t.http.patch(`/api/v1/users/${person.id}`, { name: 'Still Mine' }, org.deptAdmin.token)).status).toBe(200);
    expect((await t.http.patch(`/api/v1/users/${person.id}`, { departmentIds: [org.departmentId, org.otherDepartmentId] }, org.deptAdmin.token)).status).toBe(403);
    expect((await t.http.patch(`/api/v1/users/${person.id}`, { role: 'owner' }, org.deptAdmin.token)).status).toBe(403);
    expect((await t.sb.store.users.get(person.id))!).toMatchObject({ departmentIds: [org.departmentId], role: 'staff' });
  });

  it('a department admin cannot change an owner', async () => {
    const r = await t.http.patch(`/api/v1/users/${org.owner.id}`, { name: 'Not Yours' }, adminOfBoth.token);
    expect(r.status).toBe(404);
  });
});

describe('changing your own password', () => {
  it('needs the current one: missing or wrong is refused, right is accepted and ends every session', async () => {
    const person = await newPerson();
    const missing = await t.http.patch(`/api/v1/users/${person.id}`, { password: NEW_PASSWORD }, person.token);
    expect([missing.status, missing.body.error.code]).toEqual([403, 'invalid_current_password']);
    const wrong = await t.http.patch(`/api/v1/users/${person.id}`, { password: NEW_PASSWORD, currentPassword: 'not my password' }, person.token);
    expect([wrong.status, wrong.body.error.code]).toEqual([403, 'invalid_current_password']);
    expect((await t.sb.store.users.get(person.id))!.passwordHash).toBe(person.before.passwordHash);

    const other = await login(t, person.email);
    const ok = await t.http.patch(`/api/v1/users/${person.id}`, { password: NEW_PASSWORD, currentPassword: PASSWORD }, person.token);
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect((await t.http.get('/api/v1/me', person.token)).status).toBe(401);
    expect((await t.http.get('/api/v1/me', other)).status).toBe(401);
    expect((await t.http.post('/api/v1/sessions', { email: person.email, password: NEW_PASSWORD })).status).toBe(201);
  });

  it('an owner needs it too', async () => {
    const r = await t.http.patch(`/api/v1/users/${org.owner.id}`, { password: NEW_PASSWORD }, org.owner.token);
    expect([r.status, r.body.error.code]).toEqual([403, 'invalid_current_password']);
  });

  it('counts wrong current passwords as failed sign-ins: a stolen session cannot guess the password', async () => {
    const person = await newPerson();
    for (let i = 0; i < 5; i++) {
      const r = await t.http.patch(`/api/v1/users/${person.id}`, { password: NEW_PASSWORD, currentPassword: `guess number ${i}` }, person.token);
      expect(r.status).toBe(403);
    }
    const locked = await t.http.patch(`/api/v1/users/${person.id}`, { password: NEW_PASSWORD, currentPassword: PASSWORD }, person.token);
    expect(locked.status).toBe(429);
    expect(locked.body.error.code).toBe('rate_limited');
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await t.sb.store.users.get(person.id))!.passwordHash).toBe(person.before.passwordHash);
  });
});
