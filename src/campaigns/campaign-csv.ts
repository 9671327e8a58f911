import { AppError } from '../errors.js';
import { CsvError, readCsvRows } from '../domain/csv.js';
import { importColumns } from '../domain/contact-import.js';

// A CSV upload as a campaign's recipients: the header is read by the contact import's rules (a
// Phone column, also called PhoneNumber, Mobile or Cell, in any case), and each data row gives
// one input to the campaign's phones, its Phone cell as written. The expansion then treats them as
// any other phone: normalised to E.164, a phone already in the campaign counted `skippedDuplicate`,
// a cell that is no phone number (or a blank one) counted `skippedInvalid` and listed as written.
// Other columns are not read: merge fields fill from the contact on file with that phone, so a
// file's names and fields reach texts through a contact import. Rows are read one at a time; at
// most `room` of them are accepted.

/** Phone inputs a campaign takes, listed and uploaded together. */
export const MAX_PHONE_INPUTS = 100_000;

/** The longest input the campaign keeps for a row (its phones are at most this long). */
const MAX_CELL = 64;

export async function csvRecipients(csv: string, room: number): Promise<string[]> {
  const inputs: string[] = [];
  let phone = -1;
  try {
    for await (const { cells, row } of readCsvRows(csv)) {
      if (row === 1) {
        phone = columnOfPhone(cells);
        continue;
      }
      if (inputs.length >= room) throw new AppError('payload_too_large', `At most ${room} recipients more fit in this campaign; the file has more rows`, { details: [{ path: 'recipients.csv', message: `over ${room} rows` }] });
      const cell = (cells[phone] ?? '').trim();
      inputs.push(cell === '' ? `row ${row}: no phone` : cell.slice(0, MAX_CELL));
    }
  } catch (e) {
    if (e instanceof CsvError) throw new AppError('validation_failed', `The CSV cannot be read: ${e.message}`, { details: [{ path: 'recipients.csv', message: `line ${e.line}: ${e.message}` }] });
    throw e;
  }
  return inputs;
}

function columnOfPhone(header: string[]): number {
  try {
    return importColumns(header).phone;
  } catch (e) {
    // The import's header rules, reported against this field.
    if (e instanceof AppError) throw new AppError(e.code, e.message, { details: [{ path: 'recipients.csv', message: e.details?.[0]?.message ?? e.message }] });
    throw e;
  }
}
