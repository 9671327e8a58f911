import { describe, expect, it } from 'vitest';
import { GroupAccountCreate, GroupAccountPatch } from '../../src/schemas/rest.js';

const valid = {
  name: 'Admissions Outreach',
  departmentId: '01J0000000000000000000000A',
  color: '#2F6FDE',
  numbers: ['+16175550001', '(617) 555-0002', '617.555.0003', '+1 617 555 0004', '6175550005', '16175550006'],
  memberIds: ['01J0000000000000000000000B'],
};

function issues(input: unknown, schema = GroupAccountCreate): string[] {
  const r = schema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('group account fields', () => {
  it('accepts a complete account and normalises numbers and color', () => {
    const r = GroupAccountCreate.parse(valid);
    expect(r.numbers).toEqual(['+16175550001', '+16175550002', '+16175550003', '+16175550004', '+16175550005', '+16175550006']);
    expect(r.color).toBe('#2f6fde');
  });

  it.each([
    ['name', { name: '' }, /^name:/],
    ['name too long', { name: 'x'.repeat(121) }, /^name:/],
    ['apiCode not URL-safe', { apiCode: 'Admissions Outreach' }, /^apiCode:/],
    ['apiCode with a slash', { apiCode: 'a/b' }, /^apiCode:/],
    ['department id', { departmentId: 'dept-1' }, /^departmentId:/],
    ['color', { color: 'blue' }, /^color:/],
    ['five numbers', { numbers: valid.numbers.slice(0, 5) }, /exactly six/],
    ['seven numbers', { numbers: [...valid.numbers, '+16175550007'] }, /exactly six/],
    ['the same number twice (in two spellings)', { numbers: [...valid.numbers.slice(0, 5), '+1 (617) 555-0001'] }, /distinct/],
    ['an invalid number', { numbers: [...valid.numbers.slice(0, 5), '555-0100'] }, /^numbers\.5:/],
    ['an invalid forwarding number', { forwardingNumber: '12' }, /^forwardingNumber:/],
    ['a member id', { memberIds: ['bob'] }, /^memberIds\.0:/],
    ['an unknown field', { colour: '#000000' }, /colour/],
  ])('refuses %s', (_what, patch, pattern) => {
    const found = issues({ ...valid, ...patch });
    expect(found.some((i) => pattern.test(i)), found.join('\n')).toBe(true);
  });

  it.each(['name', 'departmentId', 'color', 'numbers', 'memberIds'])('requires %s', (field) => {
    const { [field as keyof typeof valid]: _drop, ...rest } = valid;
    expect(issues(rest).some((i) => i.startsWith(`${field}:`))).toBe(true);
  });

  it('treats forwardingNumber and apiCode as optional, and null as "no forwarding"', () => {
    expect(GroupAccountCreate.parse({ ...valid, forwardingNumber: null }).forwardingNumber).toBeNull();
    expect(GroupAccountPatch.parse({ forwardingNumber: null })).toEqual({ forwardingNumber: null });
  });
});
