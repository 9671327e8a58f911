import { describe, expect, it } from 'vitest';
import { CsvError, parseCsv } from '../../src/domain/csv.js';

describe('CSV parsing', () => {
  it('reads quoted fields with commas, doubled quotes and line breaks', () => {
    expect(parseCsv('a,b,c\n"x, y","say ""hi""","two\nlines"\n')).toEqual([
      ['a', 'b', 'c'],
      ['x, y', 'say "hi"', 'two\nlines'],
    ]);
  });

  it('accepts CRLF, a BOM, blank lines and a last line without a newline', () => {
    expect(parseCsv('\uFEFFPhone,StaffId\r\n\r\n+16175550101,\r\n+16175550102,u1')).toEqual([
      ['Phone', 'StaffId'],
      ['+16175550101', ''],
      ['+16175550102', 'u1'],
    ]);
  });

  it('reports an unterminated quote with its line', () => {
    expect(() => parseCsv('a\n"oops\nb')).toThrow(CsvError);
    try {
      parseCsv('a\n"oops\nb');
    } catch (e) {
      expect((e as CsvError).line).toBe(2);
    }
  });
});
