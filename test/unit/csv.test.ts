import { describe, expect, it } from 'vitest';
import { CsvError, readCsvRows } from '../../src/domain/csv.js';

async function rows(input: string | Buffer): Promise<string[][]> {
  const out: string[][] = [];
  for await (const r of readCsvRows(input)) out.push(r.cells);
  return out;
}

async function failure(input: string): Promise<CsvError> {
  try {
    await rows(input);
  } catch (e) {
    if (e instanceof CsvError) return e;
    throw e;
  }
  throw new Error('the CSV was accepted');
}

describe('CSV reading', () => {
  it('reads quoted fields with commas, doubled quotes and line breaks', async () => {
    expect(await rows('a,b,c\n"x, y","say ""hi""","two\nlines"\n')).toEqual([
      ['a', 'b', 'c'],
      ['x, y', 'say "hi"', 'two\nlines'],
    ]);
  });

  it('accepts CRLF, a BOM (also in bytes), blank lines and a last line without a newline', async () => {
    expect(await rows('\uFEFFPhone,StaffId\r\n\r\n  \r\n+16175550101,\r\n+16175550102,u1')).toEqual([
      ['Phone', 'StaffId'],
      ['+16175550101', ''],
      ['+16175550102', 'u1'],
    ]);
    expect(await rows(Buffer.from('\uFEFFa,b\r\n1,2\r\n'))).toEqual([
      ['a', 'b'],
      ['1', '2'],
    ]);
  });

  it('numbers rows as a spreadsheet does: the header is row 1, a quoted line break stays in its row', async () => {
    const numbered: number[] = [];
    for await (const r of readCsvRows('Phone,Note\n1,"two\nlines"\n\n2,x\n')) numbered.push(r.row);
    expect(numbered).toEqual([1, 2, 3]);
  });

  it('keeps a quote inside an unquoted field as written, and ragged rows as they are', async () => {
    expect(await rows('Name,Phone\nDwayne "The Rock",1\nOnly\n')).toEqual([['Name', 'Phone'], ['Dwayne "The Rock"', '1'], ['Only']]);
  });

  it('reports an unterminated quote with the line its record starts on', async () => {
    const e = await failure('a\n"oops\nb');
    expect(e.line).toBe(2);
    expect(e.message).toMatch(/unterminated quoted field starting on line 2/);
    expect((await failure('a\r\n\r\nb\r\n"oops\nb\nc')).line).toBe(4);
  });
});
