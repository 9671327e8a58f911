import { describe, expect, it } from 'vitest';
import { merge, unknownFields } from '../../src/domain/merge-fields.js';
import type { Contact } from '../../src/domain/types.js';

const ana: Contact = {
  id: '01J0000000000000000000000A',
  firstName: 'Ana',
  lastName: 'Lopez',
  phone: '+16175550101',
  staffId: null,
  customFields: { program: 'Nursing', Term: 'Fall 2026' },
  tags: [],
  createdAt: 0,
  updatedAt: 0,
};

describe('merge fields', () => {
  it('fills built-in and custom fields per recipient, case-insensitively', () => {
    expect(merge('Hi {FirstName} {lastname}, {Program} starts {term}.', ana)).toBe('Hi Ana Lopez, Nursing starts Fall 2026.');
    expect(merge('{FullName} at {Phone}', ana)).toBe('Ana Lopez at +16175550101');
  });

  it('leaves a known field empty when this contact has no value', () => {
    expect(merge('Advisor: {advisor}.', ana)).toBe('Advisor: .');
  });

  it('finds fields that are neither built in nor known custom fields', () => {
    expect(unknownFields('Hi {FirstNmae}, {program} {Term}', ['program', 'term'])).toEqual(['FirstNmae']);
    expect(unknownFields('No fields here {not a field!}', [])).toEqual([]);
  });
});
