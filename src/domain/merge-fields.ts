import type { Contact } from './types.js';

// Merge fields: `{FirstName}`, `{LastName}`, `{FullName}`, `{Phone}` and any custom field by its
// name (`{program}`), matched case-insensitively. An unknown field is an error before sending, not
// a literal "{Foo}" in a student's phone; a known field the contact has no value for becomes "".

const FIELD = /\{([A-Za-z][A-Za-z0-9_ ]{0,40})\}/g;

/** What merging reads of a contact (a phone with no contact on file yet has empty names). */
export type MergeSource = Pick<Contact, 'firstName' | 'lastName' | 'phone' | 'customFields'>;

const BUILT_IN: Record<string, (c: MergeSource) => string> = {
  firstname: (c) => c.firstName,
  lastname: (c) => c.lastName,
  fullname: (c) => `${c.firstName} ${c.lastName}`.trim(),
  phone: (c) => c.phone,
};

export function fieldsIn(template: string): string[] {
  return [...template.matchAll(FIELD)].map((m) => m[1]!);
}

/** Field names in the template that are neither built in nor known custom fields. */
export function unknownFields(template: string, knownCustom: Iterable<string>): string[] {
  const known = new Set([...knownCustom].map((k) => k.toLowerCase()));
  return fieldsIn(template).filter((f) => !(f.toLowerCase() in BUILT_IN) && !known.has(f.toLowerCase()));
}

export function merge(template: string, contact: MergeSource): string {
  const custom = new Map(Object.entries(contact.customFields).map(([k, v]) => [k.toLowerCase(), v]));
  return template.replace(FIELD, (whole, name: string) => {
    const key = name.toLowerCase();
    const builtIn = BUILT_IN[key];
    if (builtIn) return builtIn(contact);
    return custom.get(key) ?? '';
  });
}
