import { CsvError as ParserError, parse } from 'csv-parse';

// CSV read one record at a time by csv-parse (RFC 4180: quoted fields, doubled quotes, line breaks
// inside quotes, CRLF or LF, a UTF-8 BOM), so a large file is never held as an array of rows.
// A quote inside an unquoted field is kept as written (`Dwayne "The Rock"`), blank lines carry no
// data, rows may have fewer or more cells than the header. A malformed file (a quote never closed)
// is a CsvError with the line where the broken record starts.

export class CsvError extends Error {
  override name = 'CsvError';
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

export interface CsvRow {
  cells: string[];
  /** 1-based, the header being row 1, blank lines not counted: the row a spreadsheet shows. */
  row: number;
}

export async function* readCsvRows(input: string | Buffer): AsyncGenerator<CsvRow> {
  const parser = parse({ bom: true, relax_column_count: true, relax_quotes: true, skip_empty_lines: true });
  parser.end(input);
  let row = 0;
  try {
    for await (const cells of parser as AsyncIterable<string[]>) {
      if (cells.length === 1 && cells[0]!.trim() === '') continue;
      yield { cells, row: ++row };
    }
  } catch (e) {
    if (!(e instanceof ParserError)) throw e;
    // csv-parse's `bytes` is where it stood when the record it could not finish began.
    const bytes = typeof e['bytes'] === 'number' ? e['bytes'] : 0;
    const before = (typeof input === 'string' ? Buffer.from(input) : input).subarray(0, bytes);
    let line = 1;
    for (const byte of before) if (byte === 0x0a) line++;
    const message = e.code === 'CSV_QUOTE_NOT_CLOSED' ? `unterminated quoted field starting on line ${line}` : `${e.message} (record starting on line ${line})`;
    throw new CsvError(message, line);
  } finally {
    parser.destroy();
  }
}
