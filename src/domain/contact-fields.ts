import type { Contact } from './types.js';
import { AppError } from '../errors.js';

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

/**
 * Tags (e.g. "fall-2026", "transfer"): labels a saved filter selects contacts by. A contact has
 * at most MAX_TAGS; each is 1 to MAX_TAG_LENGTH characters of letters, digits, spaces and
 * - _ . / : after normalising (trimmed, inner white space as one space, lowercased), so "Transfer"
 * and " transfer " are the same tag, stored once as "transfer". The CSV import separates a cell's
 * tags with TAG_SEPARATOR, which is why a tag cannot contain it (nor a comma, so that a list
 * written either way reads the same).
 */
export const MAX_TAGS = 20;
export const MAX_TAG_LENGTH = 40;
export const TAG_SEPARATOR = ';';
const TAG = /^[\p{L}\p{N}][\p{L}\p{N} _./:-]*$/u;

/** A tag as stored and compared. */
export const normaliseTag = (tag: string): string => tag.trim().replace(/\s+/g, ' ').toLowerCase();

/** Why a (normalised) tag is refused, or null when it is fine. */
export function tagProblem(tag: string): string | null {
  if (tag.length === 0) return 'a tag cannot be empty';
  if ([...tag].length > MAX_TAG_LENGTH) return `"${tag}" is longer than ${MAX_TAG_LENGTH} characters`;
  if (!TAG.test(tag)) return `"${tag}" may hold only letters, digits, spaces and - _ . / : (starting with a letter or digit)`;
  return null;
}

/**
 * A contact's tags as stored: normalised, each once, sorted; or why the list is refused (the
 * first problem). Repeats that normalise to one tag are one tag, not an error.
 */
export function normaliseTags(tags: readonly string[]): { tags: string[] } | { problem: string } {
  const out = new Set<string>();
  for (const raw of tags) {
    const tag = normaliseTag(raw);
    const problem = tagProblem(tag);
    if (problem) return { problem };
    out.add(tag);
  }
  if (out.size > MAX_TAGS) return { problem: `${out.size} tags; a contact has at most ${MAX_TAGS}` };
  return { tags: [...out].sort() };
}

/** Tags as stored (normalised), or a validation_failed naming the field. */
export function tagsOrRefuse(tags: readonly string[], path: string): string[] {
  const result = normaliseTags(tags);
  if ('problem' in result) throw new AppError('validation_failed', `Bad tags: ${result.problem}`, { details: [{ path, message: result.problem }] });
  return result.tags;
}

/** The contact a new phone number gets (a first text from it, a compose or campaign to it): no name, no fields, no tags. */
export function contactForPhone(id: string, phone: string, now: number): Contact {
  return { id, firstName: '', lastName: '', phone, staffId: null, customFields: {}, tags: [], createdAt: now, updatedAt: now };
}
