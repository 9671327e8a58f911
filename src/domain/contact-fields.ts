// A contact's fields and their limits, one set for every way in: the REST API (src/schemas) and
// the CSV import (contact-import.ts).

export const MAX_NAME_LENGTH = 120;

/** Custom fields (e.g. program, term): how many a contact may have, and their names and values. */
export const MAX_CUSTOM_FIELDS = 50;
export const CUSTOM_FIELD_NAME = /^[A-Za-z][A-Za-z0-9_]{0,40}$/;
export const MAX_CUSTOM_FIELD_NAME_LENGTH = 41;
export const MAX_CUSTOM_FIELD_VALUE_LENGTH = 500;

/** A CSV column heading as a custom field name: other characters become _, a leading non-letter gets an f. */
export function customFieldName(heading: string): string {
  return heading
    .replace(/[^A-Za-z0-9_]/g, '_')
    .replace(/^([^A-Za-z])/, 'f$1')
    .slice(0, MAX_CUSTOM_FIELD_NAME_LENGTH);
}
