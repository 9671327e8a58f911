import type { Filter } from 'mongodb';
import type { Contact, OptOut, OptOutScope } from '../../domain/types.js';
import type { ContactFilterPage, ContactImportRow, ContactPatch, ContactRepo } from '../store.js';
import { AppError, notFound } from '../../errors.js';
import { contactFromImportRow, contactSearch, matchesContactFilter, mergeImportRow, phoneTaken } from '../adapter-rules.js';
import { NAME_COLLATION, pageLimit, type MongoContext } from './mongo-context.js';
import { customFieldPairs, fromContact, optOutId, toContact, toOptOut, type ContactDoc } from './mongo-documents.js';
import { duplicateKeyOn, rethrowDuplicate } from './mongo-errors.js';

type ListFilter = Parameters<ContactRepo['list']>[0];

const ORDER = { lastName: 1, firstName: 1, _id: 1 } as const;

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export class MongoContactRepo implements ContactRepo {
  constructor(private readonly m: MongoContext) {}

  create(c: Contact): Promise<Contact> {
    return this.m.op(async () => {
      await this.insertNew(c);
      return cloneContact(c);
    });
  }

  get(id: string): Promise<Contact | null> {
    return this.m.op(async () => {
      const doc = await this.m.c.contacts.findOne({ _id: id });
      return doc ? toContact(doc) : null;
    });
  }

  getByPhone(phone: string): Promise<Contact | null> {
    return this.m.op(async () => {
      const doc = await this.m.c.contacts.findOne({ phone });
      return doc ? toContact(doc) : null;
    });
  }

  getOrCreateByPhone(fallback: Contact): Promise<Contact> {
    return this.m.op(async () => {
      const { phone, ...insert } = fromContact(fallback);
      try {
        // An upsert on the unique phone: concurrent callers converge on one document (the server
        // retries an upsert that loses the race on a unique index with an equality filter).
        const doc = await this.m.c.contacts.findOneAndUpdate(
          { phone },
          { $setOnInsert: insert },
          { upsert: true, returnDocument: 'after' },
        );
        if (doc) return toContact(doc);
      } catch (e) {
        if (duplicateKeyOn(e) !== 'phone') {
          rethrowDuplicate(e, { _id: () => new AppError('conflict', 'The contact already exists') });
        }
      }
      const doc = await this.m.c.contacts.findOne({ phone });
      if (!doc) throw new AppError('internal', 'The contact vanished while it was created');
      return toContact(doc);
    });
  }

  getMany(ids: string[]): Promise<Contact[]> {
    return this.m.op(async () =>
      (await this.m.c.contacts.find({ _id: { $in: ids } }).collation(NAME_COLLATION).sort(ORDER).toArray()).map(
        toContact,
      ),
    );
  }

  scanByFilter(page: ContactFilterPage): Promise<{ matches: Contact[]; last: string | null }> {
    return this.m.op(async () => {
      const limit = pageLimit(page.limit);
      if (limit === null) return { matches: [], last: null };
      const query: Filter<ContactDoc> = { _id: { $gt: page.afterId ?? '' } };
      if (page.filter.staffId !== undefined) query.staffId = page.filter.staffId;
      // One tag's range of the { tags, _id } index; the other tags are checked on the page read.
      const firstTag = page.filter.tags?.[0];
      if (firstTag !== undefined) query.tags = firstTag;
      const contacts = (await this.m.c.contacts.find(query).sort({ _id: 1 }).limit(limit).toArray()).map(toContact);
      // The custom-field conditions on the page read, as SQLite does (field names ignore case).
      return { matches: contacts.filter((c) => matchesContactFilter(c, page.filter)), last: contacts.length < limit ? null : (contacts.at(-1)?.id ?? null) };
    });
  }

  list(filter: ListFilter): Promise<Contact[]> {
    return this.m.op(async () => {
      const limit = pageLimit(filter.limit);
      if (limit === null) return [];
      const query: Filter<ContactDoc> = {};
      if (filter.staffId !== undefined) query.staffId = filter.staffId;
      const search = contactSearch(filter.search);
      if (search) {
        // contactSearch's rule, as SQLite's LIKE applies it (see sqlite-contacts.ts).
        const text = escapeRegex(search.text);
        query.$or = [
          { $expr: { $regexMatch: { input: { $concat: ['$firstName', ' ', '$lastName'] }, regex: text, options: 'i' } } },
          { phone: { $regex: text, $options: 'i' } },
          ...(search.digits === '' ? [] : [{ phone: { $regex: escapeRegex(search.digits) } }]),
        ];
      }
      const docs = await this.m.c.contacts
        .find(query)
        .collation(NAME_COLLATION)
        .sort(ORDER)
        .skip(Math.max(0, Math.trunc(filter.offset ?? 0)))
        .limit(limit)
        .toArray();
      return docs.map(toContact);
    });
  }

  importRows(
    rows: ContactImportRow[],
    at: number,
    newId: () => string,
  ): Promise<{ created: number; updated: number }> {
    return this.m.op(async () => {
      // The transaction may run more than once (write conflicts): a phone keeps the id it got first.
      const ids = new Map<string, string>();
      const idFor = (phone: string): string => {
        let id = ids.get(phone);
        if (id === undefined) ids.set(phone, (id = newId()));
        return id;
      };
      return this.m.tx(async (session) => {
        const phones = [...new Set(rows.map((r) => r.phone))];
        const found = await this.m.c.contacts.find({ phone: { $in: phones } }, { session }).toArray();
        const existing = new Map(found.map((d) => [d.phone, toContact(d)]));
        // Rows apply in order, a later row over the result of an earlier one with the same phone.
        const result = new Map<string, { contact: Contact; isNew: boolean }>();
        let created = 0;
        let updated = 0;
        for (const row of rows) {
          const before = result.get(row.phone)?.contact ?? existing.get(row.phone);
          if (before) {
            result.set(row.phone, { contact: mergeImportRow(before, row, at), isNew: !existing.has(row.phone) });
            updated++;
          } else {
            result.set(row.phone, { contact: contactFromImportRow(row, at, idFor(row.phone)), isNew: true });
            created++;
          }
        }
        const writes = [...result.values()].map(({ contact, isNew }) => {
          const doc = fromContact(contact);
          return isNew
            ? { insertOne: { document: doc } }
            : { replaceOne: { filter: { _id: doc._id }, replacement: doc } };
        });
        if (writes.length > 0) {
          try {
            await this.m.c.contacts.bulkWrite(writes, { session, ordered: true });
          } catch (e) {
            rethrowDuplicate(e, { _id: () => new AppError('conflict', 'A contact id is already in use') });
          }
        }
        return { created, updated };
      });
    });
  }

  update(id: string, patch: ContactPatch, at: number): Promise<Contact> {
    return this.m.op(async () => {
      const set: Partial<ContactDoc> = { updatedAt: at };
      if (patch.firstName !== undefined) set.firstName = patch.firstName;
      if (patch.lastName !== undefined) set.lastName = patch.lastName;
      if (patch.staffId !== undefined) set.staffId = patch.staffId;
      if (patch.customFields !== undefined) set.customFields = customFieldPairs(patch.customFields);
      if (patch.tags !== undefined) set.tags = [...patch.tags];
      // One document update: the fields given change together, the others stay.
      const doc = await this.m.c.contacts.findOneAndUpdate({ _id: id }, { $set: set }, { returnDocument: 'after' });
      if (!doc) throw notFound('Contact');
      return toContact(doc);
    });
  }

  setOptOut(o: OptOut): Promise<void> {
    return this.m.op(async () => {
      await this.assertContact(o.contactId);
      await this.m.c.optOuts.replaceOne({ _id: optOutId(o.contactId, o.scope) }, { ...o }, { upsert: true });
    });
  }

  clearOptOut(contactId: string, scope: OptOutScope): Promise<void> {
    return this.m.op(async () => {
      await this.assertContact(contactId);
      await this.m.c.optOuts.deleteOne({ _id: optOutId(contactId, scope) });
    });
  }

  listOptOuts(contactId: string): Promise<OptOut[]> {
    return this.m.op(async () =>
      (await this.m.c.optOuts.find({ contactId }).sort({ optedOutAt: 1, scope: 1 }).toArray()).map(toOptOut),
    );
  }

  optedOut(contactIds: string[], scope: OptOutScope): Promise<Set<string>> {
    return this.m.op(async () => {
      const docs = await this.m.c.optOuts
        .find({ _id: { $in: contactIds.map((id) => optOutId(id, scope)) } }, { projection: { contactId: 1 } })
        .toArray();
      return new Set(docs.map((d) => d.contactId));
    });
  }

  private async insertNew(c: Contact): Promise<void> {
    try {
      await this.m.c.contacts.insertOne(fromContact(c));
    } catch (e) {
      rethrowDuplicate(e, {
        phone: () => phoneTaken(c.phone),
        _id: () => new AppError('conflict', 'The contact already exists'),
      });
    }
  }

  private async assertContact(id: string): Promise<void> {
    if ((await this.m.c.contacts.countDocuments({ _id: id }, { limit: 1 })) === 0) throw notFound('Contact');
  }
}

const cloneContact = (c: Contact): Contact => ({ ...c, customFields: { ...c.customFields }, tags: [...c.tags] });
