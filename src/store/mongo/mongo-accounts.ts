import type { ClientSession, Filter } from 'mongodb';
import type { Account } from '../../domain/types.js';
import type { AccountRepo } from '../store.js';
import { AppError, notFound } from '../../errors.js';
import { apiCodeTaken, caseKey, definedOnly, numberTaken, numbersRepeated } from '../adapter-rules.js';
import { NAME_COLLATION, indexedString, type MongoContext } from './mongo-context.js';
import { toAccount, type AccountDoc } from './mongo-documents.js';
import { rethrowDuplicate } from './mongo-errors.js';

type AccountPatch = Parameters<AccountRepo['update']>[1];

const apiCodeKey = (apiCode: string | null): string | null => (apiCode === null ? null : caseKey(apiCode));

export class MongoAccountRepo implements AccountRepo {
  constructor(private readonly m: MongoContext) {}

  create(a: Account, memberIds: string[]): Promise<Account> {
    return this.m.op(async () => {
      const repeated = numbersRepeated(a.numbers);
      if (repeated) throw repeated;
      const { id, ...fields } = a;
      const doc: AccountDoc = {
        _id: id,
        ...fields,
        numbers: [...a.numbers],
        apiCodeKey: apiCodeKey(a.apiCode),
        memberIds: [...new Set(memberIds)].sort(),
      };
      // The account, its pool (one `numbers` document per number) and its members commit together.
      await this.m.tx(async (session) => {
        await this.assertNumbersFree(a.id, a.numbers, session);
        try {
          await this.m.c.accounts.insertOne(doc, { session });
        } catch (e) {
          rethrowDuplicate(e, {
            apiCodeKey: () => apiCodeTaken(a.apiCode),
            ownerUserId: () => new AppError('conflict', 'The user already has a personal account'),
            _id: () => new AppError('conflict', 'The account already exists'),
          });
        }
        await this.claimNumbers(a.id, a.numbers, session);
      });
      return { ...a, numbers: [...a.numbers] };
    });
  }

  get(id: string): Promise<Account | null> {
    return this.one({ _id: id });
  }

  getByApiCode(apiCode: string): Promise<Account | null> {
    return this.one({ apiCodeKey: indexedString(caseKey(apiCode)) });
  }

  getPersonal(userId: string): Promise<Account | null> {
    return this.one({ ownerUserId: indexedString(userId) });
  }

  getByNumber(number: string): Promise<Account | null> {
    return this.one({ numbers: number });
  }

  listGroup(filter: { departmentId?: string; memberId?: string } = {}): Promise<Account[]> {
    return this.m.op(async () => {
      const docs = await this.m.c.accounts
        .find({
          kind: 'group',
          ...(filter.departmentId === undefined ? {} : { departmentId: filter.departmentId }),
          ...(filter.memberId === undefined ? {} : { memberIds: filter.memberId }),
        })
        .collation(NAME_COLLATION)
        .sort({ kind: 1, name: 1, _id: 1 })
        .toArray();
      return docs.map(toAccount);
    });
  }

  update(id: string, patch: AccountPatch, at: number): Promise<Account> {
    return this.m.op(async () => {
      const present = definedOnly(patch);
      if (present.numbers !== undefined) {
        const repeated = numbersRepeated(present.numbers);
        if (repeated) throw repeated;
      }
      const set: Partial<Omit<AccountDoc, '_id'>> = { ...present, updatedAt: at };
      if (present.apiCode !== undefined) set.apiCodeKey = apiCodeKey(present.apiCode);
      if (present.numbers !== undefined) set.numbers = [...present.numbers];
      const updated = await this.m.tx(async (session) => {
        const current = await this.m.c.accounts.findOne({ _id: id }, { session });
        if (!current) throw notFound('Account');
        if (present.numbers !== undefined) {
          await this.assertNumbersFree(id, present.numbers, session);
          await this.m.c.numbers.deleteMany({ accountId: id, _id: { $nin: present.numbers } }, { session });
          const kept = new Set(current.numbers);
          await this.claimNumbers(id, present.numbers.filter((n) => !kept.has(n)), session);
        }
        try {
          return await this.m.c.accounts.findOneAndUpdate(
            { _id: id },
            { $set: set },
            { session, returnDocument: 'after' },
          );
        } catch (e) {
          rethrowDuplicate(e, { apiCodeKey: () => apiCodeTaken(present.apiCode ?? null) });
        }
      });
      if (!updated) throw notFound('Account');
      return toAccount(updated);
    });
  }

  delete(id: string): Promise<void> {
    return this.m.op(() =>
      this.m.tx(async (session) => {
        const r = await this.m.c.accounts.deleteOne({ _id: id }, { session });
        if (r.deletedCount === 0) throw notFound('Account');
        await this.m.c.numbers.deleteMany({ accountId: id }, { session });
      }),
    );
  }

  listMembers(accountId: string): Promise<string[]> {
    return this.m.op(async () => {
      const doc = await this.m.c.accounts.findOne({ _id: accountId }, { projection: { memberIds: 1 } });
      return doc ? [...doc.memberIds] : [];
    });
  }

  setMembers(accountId: string, userIds: string[]): Promise<{ added: string[]; removed: string[] }> {
    return this.m.op(async () => {
      const wanted = [...new Set(userIds)];
      // One atomic update of one document; the "before" image tells what changed.
      const before = await this.m.c.accounts.findOneAndUpdate(
        { _id: accountId },
        { $set: { memberIds: [...wanted].sort() } },
        { returnDocument: 'before', projection: { memberIds: 1 } },
      );
      if (!before) throw notFound('Account');
      const current = new Set(before.memberIds);
      const wantedSet = new Set(wanted);
      return {
        added: wanted.filter((u) => !current.has(u)),
        removed: before.memberIds.filter((u) => !wantedSet.has(u)),
      };
    });
  }

  isMember(accountId: string, userId: string): Promise<boolean> {
    return this.m.op(
      async () => (await this.m.c.accounts.countDocuments({ _id: accountId, memberIds: userId }, { limit: 1 })) > 0,
    );
  }

  numbersInUse(numbers: string[]): Promise<string[]> {
    return this.m.op(async () => {
      const used = new Set(
        (await this.m.c.numbers.find({ _id: { $in: numbers } }, { projection: { _id: 1 } }).toArray()).map((n) => n._id),
      );
      return [...new Set(numbers)].filter((n) => used.has(n));
    });
  }

  private one(filter: Filter<AccountDoc>): Promise<Account | null> {
    return this.m.op(async () => {
      const doc = await this.m.c.accounts.findOne(filter);
      return doc ? toAccount(doc) : null;
    });
  }

  /** Refuses numbers that belong to another account, naming them. */
  private async assertNumbersFree(accountId: string, numbers: readonly string[], session: ClientSession): Promise<void> {
    const taken = await this.m.c.numbers
      .find({ _id: { $in: [...numbers] }, accountId: { $ne: accountId } }, { session })
      .sort({ _id: 1 })
      .toArray();
    if (taken.length > 0) throw numberTaken(taken.map((n) => n._id));
  }

  private async claimNumbers(accountId: string, numbers: readonly string[], session: ClientSession): Promise<void> {
    if (numbers.length === 0) return;
    try {
      await this.m.c.numbers.insertMany(
        numbers.map((number) => ({ _id: number, accountId })),
        { session },
      );
    } catch (e) {
      // Only reachable when another account claimed a number after our check, in a transaction that
      // committed first.
      rethrowDuplicate(e, { _id: () => numberTaken(numbers) });
    }
  }
}
