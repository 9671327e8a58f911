import type { Core } from '../../src/core.js';
import type { Router } from '../http/router.js';
import { json } from '../http/types.js';
import { authed } from './authed.js';
import { jsonBody, queryOf } from './parse.js';
import { contactView, respond } from './views.js';
import { ContactCreate, ContactImportJson, ContactPatch, ContactQuery, NumberSearchQuery } from '../../src/schemas/rest.js';
import * as V from '../../src/schemas/views.js';
import { AppError } from '../../src/errors.js';

// Students (contacts), their CSV import, and the number search used to build pools.
export function contactRoutes(r: Router, core: Core, base: string): void {
  r.get(
    `${base}/contacts`,
    authed(core, async (req, p) => json(200, { items: (await core.directory.listContacts(p, queryOf(req, ContactQuery))).map(contactView) })),
  );
  r.post(
    `${base}/contacts`,
    authed(core, async (req, p) => json(201, contactView(await core.directory.createContact(p, jsonBody(req, ContactCreate))))),
  );
  r.get(`${base}/contacts/:id`, authed(core, async (req, p) => json(200, contactView(await core.directory.getContact(p, req.params.id!)))));
  r.patch(
    `${base}/contacts/:id`,
    authed(core, async (req, p) => json(200, contactView(await core.directory.updateContact(p, req.params.id!, jsonBody(req, ContactPatch))))),
  );

  // Accepts the file itself (Content-Type: text/csv) or JSON {"csv": "..."}.
  r.post(
    `${base}/contacts/import`,
    authed(core, async (req, p) => {
      const type = req.headers['content-type'] ?? '';
      let csv: string;
      if (/^text\/(csv|plain)\b/i.test(type)) {
        csv = req.body.toString('utf8');
      } else if (/^application\/json\b/i.test(type)) {
        csv = jsonBody(req, ContactImportJson).csv;
      } else {
        throw new AppError('unsupported_media_type', 'Send the file with Content-Type: text/csv, or JSON {"csv": "..."}');
      }
      if (csv.includes('\u0000')) throw new AppError('validation_failed', 'The file is not text');
      return respond(200, V.ContactImportResult, await core.directory.importContacts(p, csv));
    }),
  );

  r.get(
    `${base}/numbers/available`,
    authed(core, async (req, p) => {
      return respond(200, V.AvailableNumberList, { items: await core.numbers.searchAvailable(p, queryOf(req, NumberSearchQuery)) });
    }),
  );
}
