import type Database from 'better-sqlite3';
import type { Contact, OptOut, OptOutScope } from '../../domain/types.js';
import type { ContactFilterPage, ContactImportRow, ContactPatch, ContactRepo } from '../store.js';
import { AppError, notFound } from '../../errors.js';
import { contactFromImportRow, contactSearch, matchesContactFilter, mergeImportRow, patchContact, phoneTaken } from '../adapter-rules.js';
import { boundedLimit, jsonList, type SqliteContext } from './sqlite-context.js';
import { rethrowUnique } from './sqlite-errors.js';

interface ContactRow extends Omit<Contact, 'customFields' | 'tags'> {
  customFields: string;
  tags: string;
}

// A contact's tags come from contact_tags (its primary key's range), as a JSON array.
const COLUMNS = `id, first_name AS firstName, last_name AS lastName, phone, staff_id AS staffId,
  custom_fields AS customFields,
  (SELECT json_group_array(tag) FROM contact_tags WHERE contact_id = contacts.id) AS tags,
  created_at AS createdAt, updated_at AS updatedAt`;

/**
 * A tags filter's page: the filter's first tag, a range of contact_tags_by_tag, each row joined to
 * its contact by key (the other conditions are checked on the page read).
 */
export const TAG_SCAN_SQL = `SELECT ${COLUMNS} FROM contact_tags t JOIN contacts ON contacts.id = t.contact_id
  WHERE t.tag = @tag AND t.contact_id > @afterId ORDER BY t.contact_id LIMIT @limit`;

// NOCASE columns: the index serves this order, and "adams" sorts next to "Adams".
const ORDER = 'ORDER BY last_name, first_name, id';

const toContact = (r: ContactRow): Contact => ({
  ...r,
  customFields: JSON.parse(r.customFields) as Record<string, string>,
  // Sorted here, as normaliseTags sorts (SQLite's order of UTF-8 bytes is not JavaScript's).
  tags: (JSON.parse(r.tags) as string[]).sort(),
});

const toParams = (c: Contact): Record<string, unknown> => {
  const { tags: _tags, ...row } = c;
  return { ...row, customFields: JSON.stringify(c.customFields) };
};

type ListFilter = Parameters<ContactRepo['list']>[0];

export class SqliteContactRepo implements ContactRepo {
  private readonly insert: Database.Statement<[Record<string, unknown>]>;
  private readonly updateRow: Database.Statement<[Record<string, unknown>]>;
  private readonly byId: Database.Statement<[string], ContactRow>;
  private readonly byPhone: Database.Statement<[string], ContactRow>;
  private readonly byIds: Database.Statement<[string], ContactRow>;
  private readonly page: Database.Statement<[ListParams], ContactRow>;
  private readonly pageForStaff: Database.Statement<[ListParams], ContactRow>;
  private readonly upsertOptOut: Database.Statement<[OptOut]>;
  private readonly deleteOptOut: Database.Statement<[string, string]>;
  private readonly optOutsOf: Database.Statement<[string], OptOut>;
  private readonly optedOutIn: Database.Statement<[string, string], string>;
  private readonly scanAll: Database.Statement<[{ afterId: string; limit: number }], ContactRow>;
  private readonly scanStaff: Database.Statement<[{ afterId: string; limit: number; staffId: string }], ContactRow>;
  private readonly scanTag: Database.Statement<[{ afterId: string; limit: number; tag: string }], ContactRow>;
  private readonly clearTags: Database.Statement<[string]>;
  private readonly addTag: Database.Statement<[string, string]>;

  constructor(private readonly ctx: SqliteContext) {
    const { db } = ctx;
    this.insert = db.prepare(
      `INSERT INTO contacts (id, first_name, last_name, phone, staff_id, custom_fields, created_at, updated_at)
       VALUES (@id, @firstName, @lastName, @phone, @staffId, @customFields, @createdAt, @updatedAt)`,
    );
    this.updateRow = db.prepare(
      `UPDATE contacts SET first_name = @firstName, last_name = @lastName, staff_id = @staffId,
         custom_fields = @customFields, updated_at = @updatedAt
       WHERE id = @id`,
    );
    this.byId = db.prepare(`SELECT ${COLUMNS} FROM contacts WHERE id = ?`);
    this.byPhone = db.prepare(`SELECT ${COLUMNS} FROM contacts WHERE phone = ?`);
    this.byIds = db.prepare(`SELECT ${COLUMNS} FROM contacts WHERE id IN (SELECT value FROM json_each(?)) ${ORDER}`);
    // contactSearch's rule; the digits let "(617) 555" find +16175550123. LIKE ignores ASCII case.
    // Two statements, so that the staff filter is an index range (contacts_by_staff) when present.
    const page = (staffFilter: string): Database.Statement<[ListParams], ContactRow> =>
      db.prepare(
        `SELECT ${COLUMNS} FROM contacts
         WHERE ${staffFilter}
           AND (@pattern IS NULL
                OR (first_name || ' ' || last_name) LIKE @pattern ESCAPE '\\'
                OR phone LIKE @pattern ESCAPE '\\'
                OR (@digits IS NOT NULL AND phone LIKE @digits))
         ${ORDER} LIMIT @limit OFFSET @offset`,
      );
    this.page = page('1');
    this.pageForStaff = page('staff_id = @staffId');
    this.upsertOptOut = db.prepare(
      `INSERT INTO opt_outs (contact_id, scope, opted_out_at, source) VALUES (@contactId, @scope, @optedOutAt, @source)
       ON CONFLICT (contact_id, scope) DO UPDATE SET opted_out_at = excluded.opted_out_at, source = excluded.source`,
    );
    this.deleteOptOut = db.prepare('DELETE FROM opt_outs WHERE contact_id = ? AND scope = ?');
    this.optOutsOf = db.prepare(
      `SELECT contact_id AS contactId, scope, opted_out_at AS optedOutAt, source
       FROM opt_outs WHERE contact_id = ? ORDER BY opted_out_at, scope`,
    );
    this.optedOutIn = db
      .prepare<[string, string], string>(
        'SELECT contact_id FROM opt_outs WHERE contact_id IN (SELECT value FROM json_each(?)) AND scope = ?',
      )
      .pluck();
    // Ranges of the primary key (and of contacts_by_staff for "my students"); the custom-field
    // conditions are checked on the page read, as both adapters do (matchesContactFilter).
    this.scanAll = db.prepare(`SELECT ${COLUMNS} FROM contacts WHERE id > @afterId ORDER BY id LIMIT @limit`);
    this.scanStaff = db.prepare(`SELECT ${COLUMNS} FROM contacts WHERE staff_id = @staffId AND id > @afterId ORDER BY id LIMIT @limit`);
    this.scanTag = db.prepare(TAG_SCAN_SQL);
    this.clearTags = db.prepare('DELETE FROM contact_tags WHERE contact_id = ?');
    this.addTag = db.prepare('INSERT INTO contact_tags (contact_id, tag) VALUES (?, ?)');
  }

  create(c: Contact): Promise<Contact> {
    return this.ctx.write(() => {
      this.insertNew(c);
      return cloneContact(c);
    });
  }

  get(id: string): Promise<Contact | null> {
    return this.ctx.read(() => this.find(this.byId, id));
  }

  getByPhone(phone: string): Promise<Contact | null> {
    return this.ctx.read(() => this.find(this.byPhone, phone));
  }

  getOrCreateByPhone(fallback: Contact): Promise<Contact> {
    // Inside one write op, so two callers with the same phone cannot both miss and both insert.
    return this.ctx.write(() => {
      const existing = this.find(this.byPhone, fallback.phone);
      if (existing) return existing;
      this.insertNew(fallback);
      return cloneContact(fallback);
    });
  }

  getMany(ids: string[]): Promise<Contact[]> {
    return this.ctx.read(() => this.byIds.all(jsonList(ids)).map(toContact));
  }

  list(filter: ListFilter): Promise<Contact[]> {
    const params = listParams(filter);
    const statement = params.staffId === null ? this.page : this.pageForStaff;
    return this.ctx.read(() => statement.all(params).map(toContact));
  }

  importRows(
    rows: ContactImportRow[],
    at: number,
    newId: () => string,
  ): Promise<{ created: number; updated: number }> {
    return this.ctx.write(() => {
      let created = 0;
      let updated = 0;
      for (const row of rows) {
        const existing = this.find(this.byPhone, row.phone);
        if (existing) {
          const merged = mergeImportRow(existing, row, at);
          this.updateRow.run(toParams(merged));
          if (row.tags !== undefined) this.writeTags(merged);
          updated++;
        } else {
          this.insertNew(contactFromImportRow(row, at, newId()));
          created++;
        }
      }
      return { created, updated };
    });
  }

  update(id: string, patch: ContactPatch, at: number): Promise<Contact> {
    return this.ctx.write(() => {
      const existing = this.find(this.byId, id);
      if (!existing) throw notFound('Contact');
      const updated = patchContact(existing, patch, at);
      this.updateRow.run(toParams(updated));
      if (patch.tags !== undefined) this.writeTags(updated);
      return updated;
    });
  }

  setOptOut(o: OptOut): Promise<void> {
    return this.ctx.write(() => {
      if (!this.byId.get(o.contactId)) throw notFound('Contact');
      this.upsertOptOut.run(o);
    });
  }

  clearOptOut(contactId: string, scope: OptOutScope): Promise<void> {
    return this.ctx.write(() => {
      if (!this.byId.get(contactId)) throw notFound('Contact');
      this.deleteOptOut.run(contactId, scope);
    });
  }

  listOptOuts(contactId: string): Promise<OptOut[]> {
    return this.ctx.read(() => this.optOutsOf.all(contactId));
  }

  optedOut(contactIds: string[], scope: OptOutScope): Promise<Set<string>> {
    return this.ctx.read(() => new Set(this.optedOutIn.all(jsonList(contactIds), scope)));
  }

  scanByFilter(page: ContactFilterPage): Promise<{ matches: Contact[]; last: string | null }> {
    return this.ctx.read(() => {
      const params = { afterId: page.afterId ?? '', limit: boundedLimit(page.limit) };
      const tag = page.filter.tags?.[0];
      const rows =
        tag !== undefined
          ? this.scanTag.all({ ...params, tag })
          : page.filter.staffId === undefined
            ? this.scanAll.all(params)
            : this.scanStaff.all({ ...params, staffId: page.filter.staffId });
      const contacts = rows.map(toContact);
      return { matches: contacts.filter((c) => matchesContactFilter(c, page.filter)), last: rows.length < params.limit ? null : (rows.at(-1)?.id ?? null) };
    });
  }

  private find(statement: Database.Statement<[string], ContactRow>, key: string): Contact | null {
    const row = statement.get(key);
    return row ? toContact(row) : null;
  }

  private insertNew(c: Contact): void {
    try {
      this.insert.run(toParams(c));
    } catch (e) {
      rethrowUnique(e, {
        'contacts.phone': () => phoneTaken(c.phone),
        'contacts.id': () => new AppError('conflict', 'The contact already exists'),
      });
    }
    this.writeTags(c);
  }

  /** Replaces the contact's tag rows (inside the caller's write op, so with the contact's row). */
  private writeTags(c: Contact): void {
    this.clearTags.run(c.id);
    for (const tag of new Set(c.tags)) this.addTag.run(c.id, tag);
  }
}

interface ListParams {
  staffId: string | null;
  pattern: string | null;
  digits: string | null;
  limit: number;
  offset: number;
}

function listParams(filter: ListFilter): ListParams {
  const search = contactSearch(filter.search);
  return {
    staffId: filter.staffId ?? null,
    pattern: search ? `%${escapeLike(search.text)}%` : null,
    digits: search && search.digits !== '' ? `%${search.digits}%` : null,
    limit: boundedLimit(filter.limit),
    offset: boundedLimit(filter.offset ?? 0),
  };
}

const escapeLike = (s: string): string => s.replace(/[\\%_]/g, (c) => `\\${c}`);

const cloneContact = (c: Contact): Contact => ({ ...c, customFields: { ...c.customFields }, tags: [...c.tags] });

