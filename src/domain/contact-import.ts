import type { ContactImportRow } from '../store/store.js';
import { AppError, type FieldIssue } from '../errors.js';
import { toE164 } from './phone.js';
import { MAX_CUSTOM_FIELDS, MAX_CUSTOM_FIELD_VALUE_LENGTH, MAX_NAME_LENGTH, TAG_SEPARATOR, customFieldName, normaliseTags } from './contact-fields.js';

// The rules of a contact CSV: FirstName, LastName, Phone (required), StaffId (a user id or email;
// a blank cell clears the assignment), Tags (the contact's tags, separated by ";": they replace the
// contact's tags, a blank cell clears them; without the column tags stay as they are); every other
// column is a custom field, as many as a contact may have through the API. Rows are checked one at
// a time as the file is read.

export interface ImportColumns {
  first: number;
  last: number;
  phone: number;
  staff: number;
  tags: number;
  custom: Array<{ name: string; index: number; heading: string }>;
}

const key = (heading: string) => heading.trim().toLowerCase().replace(/[\s_-]/g, '');

export function importColumns(header: string[]): ImportColumns {
  const find = (...names: string[]) => header.findIndex((h) => names.includes(key(h)));
  const columns = {
    first: find('firstname', 'first'),
    last: find('lastname', 'last'),
    phone: find('phone', 'phonenumber', 'mobile', 'cell'),
    staff: find('staffid', 'staff'),
    tags: find('tags', 'tag'),
  };
  if (columns.phone < 0) throw new AppError('validation_failed', 'The CSV needs a Phone column', { details: [{ path: 'header', message: 'no Phone column' }] });
  const known = new Set(Object.values(columns));
  const custom = header
    .map((heading, index) => ({ name: customFieldName(heading.trim()), index, heading: heading.trim() }))
    .filter((c) => !known.has(c.index) && c.name.length > 0);
  if (custom.length > MAX_CUSTOM_FIELDS) {
    throw new AppError('validation_failed', `The CSV has ${custom.length} custom-field columns; a contact has at most ${MAX_CUSTOM_FIELDS}`, {
      details: [{ path: 'header', message: `${custom.length} columns besides FirstName, LastName, Phone, StaffId and Tags; at most ${MAX_CUSTOM_FIELDS}` }],
    });
  }
  const byName = new Map<string, string>();
  for (const c of custom) {
    const other = byName.get(c.name);
    if (other !== undefined) {
      throw new AppError('validation_failed', `The columns "${other}" and "${c.heading}" would both be the custom field ${c.name}`, {
        details: [{ path: 'header', message: `"${other}" and "${c.heading}" are the same field ${c.name}` }],
      });
    }
    byName.set(c.name, c.heading);
  }
  return { ...columns, custom };
}

export interface ImportRowContext {
  /** A StaffId cell's user (by id or email, any case), or undefined when there is none. */
  staffUser(idOrEmail: string): string | undefined;
  /** Phones seen on earlier rows of this file, with their row. */
  seen: Map<string, number>;
}

/** One data row: the contact to import, or what is wrong with it (the first problem found). */
export function importRow(columns: ImportColumns, cells: string[], row: number, ctx: ImportRowContext): { contact: ContactImportRow } | { issue: FieldIssue } {
  const cell = (i: number) => (i >= 0 ? (cells[i] ?? '').trim() : '');
  const issue = (column: string, message: string) => ({ issue: { path: `row ${row}.${column}`, message } });
  const phone = toE164(cell(columns.phone));
  if (!phone) return issue('Phone', `"${cell(columns.phone)}" is not a valid phone number`);
  const dup = ctx.seen.get(phone);
  if (dup !== undefined) return issue('Phone', `${phone} is also on row ${dup}`);
  ctx.seen.set(phone, row);
  let staffId: string | null | undefined;
  if (columns.staff >= 0) {
    const s = cell(columns.staff);
    if (s === '') staffId = null;
    else {
      staffId = ctx.staffUser(s);
      if (!staffId) return issue('StaffId', `no user "${s}"`);
    }
  }
  const firstName = cell(columns.first);
  const lastName = cell(columns.last);
  if (firstName.length > MAX_NAME_LENGTH) return issue('FirstName', `longer than ${MAX_NAME_LENGTH} characters`);
  if (lastName.length > MAX_NAME_LENGTH) return issue('LastName', `longer than ${MAX_NAME_LENGTH} characters`);
  const customFields: Record<string, string> = {};
  for (const c of columns.custom) {
    const v = cell(c.index);
    if (v.length > MAX_CUSTOM_FIELD_VALUE_LENGTH) return issue(c.heading, `longer than ${MAX_CUSTOM_FIELD_VALUE_LENGTH} characters`);
    if (v !== '') customFields[c.name] = v;
  }
  let tags: string[] | undefined;
  if (columns.tags >= 0) {
    const listed = cell(columns.tags).split(TAG_SEPARATOR).map((t) => t.trim()).filter((t) => t !== '');
    const result = normaliseTags(listed);
    if ('problem' in result) return issue('Tags', result.problem);
    tags = result.tags;
  }
  return { contact: { phone, firstName, lastName, staffId, customFields, tags } };
}
