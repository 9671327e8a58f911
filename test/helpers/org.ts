import { expect } from 'vitest';
import type { TestSwitchboard } from './switchboard.js';
import { createOwner } from '../../src/services/bootstrap.js';
import { middayTimeZone } from './time-zones.js';

// An organisation built through the public API, as a person would: one owner (bootstrapped), a
// department with an admin and two staff (one a member of the group account, one not), a second
// department with its own admin, a group account of six searched numbers, and students.

export const PASSWORD = 'correct horse battery';

export interface Person {
  id: string;
  token: string;
  name: string;
}

export interface Org {
  departmentId: string;
  otherDepartmentId: string;
  owner: Person;
  deptAdmin: Person;
  otherAdmin: Person;
  member: Person;
  nonMember: Person;
  account: { id: string; apiCode: string; numbers: string[] };
  students: Array<{ id: string; phone: string; firstName: string }>;
}

export async function login(t: TestSwitchboard, email: string): Promise<string> {
  const r = await t.http.post('/api/v1/sessions', { email, password: PASSWORD });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.token as string;
}

/**
 * `timeZone` is the first department's; by default one where it is midday on the server's clock,
 * so bulk sends are never refused for quiet hours whatever the hour the suite runs at.
 */
export async function buildOrg(t: TestSwitchboard, options: { timeZone?: string } = {}): Promise<Org> {
  const ownerUser = await createOwner(t.sb.core, { email: 'owner@college.edu', name: 'Olivia Owner', password: PASSWORD, departmentIds: [], areaCode: '617' });
  const ownerToken = await login(t, 'owner@college.edu');
  const owner = { id: ownerUser.id, token: ownerToken, name: ownerUser.name };

  const dept = await t.http.post('/api/v1/departments', { name: 'Admissions', code: 'adm', timeZone: options.timeZone ?? middayTimeZone(t.clock.now()) }, ownerToken);
  expect(dept.status, JSON.stringify(dept.body)).toBe(201);
  const other = await t.http.post('/api/v1/departments', { name: 'Financial Aid', code: 'FA' }, ownerToken);
  expect(other.status).toBe(201);

  const person = async (email: string, name: string, role: string, departmentId: string): Promise<Person> => {
    const r = await t.http.post('/api/v1/users', { email, name, role, departmentIds: [departmentId], password: PASSWORD, personalAreaCode: '617' }, ownerToken);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return { id: r.body.id, token: await login(t, email), name };
  };
  const deptAdmin = await person('dean@college.edu', 'Dean Admin', 'deptAdmin', dept.body.id);
  const otherAdmin = await person('fran@college.edu', 'Fran Aid', 'deptAdmin', other.body.id);
  const member = await person('dana@college.edu', 'Dana Reyes', 'staff', dept.body.id);
  const nonMember = await person('sam@college.edu', 'Sam Kim', 'staff', dept.body.id);

  const available = await t.http.get('/api/v1/numbers/available?areaCode=617&limit=6', deptAdmin.token);
  expect(available.status, JSON.stringify(available.body)).toBe(200);
  const numbers = (available.body.items as Array<{ number: string }>).map((n) => n.number);
  expect(numbers).toHaveLength(6);
  const created = await t.http.post(
    '/api/v1/group-accounts',
    { name: 'Admissions Outreach', departmentId: dept.body.id, color: '#2F6FDE', numbers, memberIds: [member.id] },
    deptAdmin.token,
  );
  expect(created.status, JSON.stringify(created.body)).toBe(201);

  const csv = ['FirstName,LastName,Phone,StaffId,Program', `Ana,Lopez,(617) 555-0101,${member.id},Nursing`, 'Ben,Okafor,781-555-0102,,Biology', 'Chloe,Nguyen,+1 212 555 0103,,History'].join('\n');
  const imported = await t.http.request('POST', '/api/v1/contacts/import', { token: deptAdmin.token, body: csv, headers: { 'content-type': 'text/csv' } });
  expect(imported.status, JSON.stringify(imported.body)).toBe(200);
  const contacts = await t.http.get('/api/v1/contacts?limit=100', deptAdmin.token);
  const students = (contacts.body.items as Array<{ id: string; phone: string; firstName: string }>).map(({ id, phone, firstName }) => ({ id, phone, firstName }));

  return {
    departmentId: dept.body.id,
    otherDepartmentId: other.body.id,
    owner,
    deptAdmin,
    otherAdmin,
    member,
    nonMember,
    account: { id: created.body.id, apiCode: created.body.apiCode, numbers: created.body.numbers },
    students,
  };
}

/** A student texts the group account from `phone`; resolves the conversation that started. */
export async function conversationWith(t: TestSwitchboard, org: Org, phone: string, text = 'hello'): Promise<string> {
  await t.http.post('/simulator/messages', { from: phone, to: org.account.numbers[0], text });
  const contact = await t.sb.store.contacts.getByPhone(phone);
  return (await t.sb.store.conversations.getByPair(org.account.id, contact!.id))!.id;
}
