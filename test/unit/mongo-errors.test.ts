import { MongoBulkWriteError, MongoServerError } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { duplicateKeyOn, rethrowDuplicate, toStoreError } from '../../src/store/mongo/mongo-errors.js';

// No MongoDB server runs on the development machines, so the translation of the driver's errors
// into AppErrors is checked here on errors shaped as the driver builds them.

const singleWrite = (keyPattern: Record<string, number>, message: string) =>
  new MongoServerError({ message, code: 11000, keyPattern, keyValue: {} });

const bulkWrite = (errmsg: string) =>
  // The driver keeps only errmsg of each write error (lib/bulk/common.js), not keyPattern.
  new MongoBulkWriteError({ message: errmsg, code: 11000, writeErrors: [] }, {} as never);

describe('MongoDB error translation', () => {
  it('names the fields of the unique index a single write violated', () => {
    const e = singleWrite({ accountId: 1, contactId: 1 }, 'E11000 duplicate key error');
    expect(duplicateKeyOn(e)).toBe('accountId,contactId');
  });

  it('reads the fields from the message of a bulk write error', () => {
    const onNumber = 'E11000 duplicate key error collection: t.numbers index: _id_ dup key: { _id: "+16175550100" }';
    expect(duplicateKeyOn(bulkWrite(onNumber))).toBe('_id');
    const onPair =
      'E11000 duplicate key error collection: t.c index: a_1_b_1 dup key: { accountId: "x: y", contactId: "z" }';
    expect(duplicateKeyOn(bulkWrite(onPair))).toBe('accountId,contactId');
  });

  it('answers null for errors that are not duplicate keys', () => {
    expect(duplicateKeyOn(new MongoServerError({ message: 'WriteConflict', code: 112 }))).toBeNull();
    expect(duplicateKeyOn(new Error('E11000'))).toBeNull();
  });

  it('turns a documented duplicate into its AppError and passes others through', () => {
    const taken = () => new AppError('email_taken', 'taken');
    expect(() => rethrowDuplicate(singleWrite({ emailKey: 1 }, 'dup'), { emailKey: taken })).toThrow(
      expect.objectContaining({ code: 'email_taken' }),
    );
    const other = singleWrite({ _id: 1 }, 'dup');
    expect(() => rethrowDuplicate(other, { emailKey: taken })).toThrow(other);
  });

  it('never lets a driver error out: undocumented duplicates are conflicts, the rest internal', () => {
    expect(toStoreError(singleWrite({ _id: 1 }, 'dup'))).toMatchObject({ code: 'conflict' });
    const failure = toStoreError(new MongoServerError({ message: 'not primary', code: 10107 }));
    expect(failure).toBeInstanceOf(AppError);
    expect(failure).toMatchObject({ code: 'internal' });
    const own = new AppError('not_found', 'x');
    expect(toStoreError(own)).toBe(own);
  });
});
