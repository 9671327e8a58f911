import type Database from 'better-sqlite3';
import type { Account, AccountKind } from '../../domain/types.js';
import type { AccountRepo } from '../store.js';
import { AppError, notFound } from '../../errors.js';
import { apiCodeTaken, caseKey, definedOnly, numberTaken, numbersRepeated } from '../adapter-rules.js';
import { jsonList, type SqliteContext } from './sqlite-context.js';
import { rethrowUnique } from './sqlite-errors.js';

interface AccountRow extends Omit<Account, 'numbers' | 'kind'> {
  kind: AccountKind;
  numbers: string;
}

const SELECT = `
  SELECT a.id, a.kind, a.name, a.api_code AS apiCode, a.department_id AS departmentId,
         a.owner_user_id AS ownerUserId, a.color, a.forwarding_number AS forwardingNumber,
         a.created_at AS createdAt, a.updated_at AS updatedAt,
         (SELECT json_group_array(number ORDER BY position) FROM account_numbers WHERE account_id = a.id) AS numbers
  FROM accounts a`;

const toAccount = (r: AccountRow): Account => ({ ...r, numbers: JSON.parse(r.numbers) as string[] });

type AccountPatch = Parameters<AccountRepo['update']>[1];

export class SqliteAccountRepo implements AccountRepo {
  private readonly insert: Database.Statement<[Record<string, unknown>]>;
  private readonly updateRow: Database.Statement<[Record<string, unknown>]>;
  private readonly deleteRow: Database.Statement<[string]>;
  private readonly insertNumber: Database.Statement<[string, string, number]>;
  private readonly deleteNumbers: Database.Statement<[string]>;
  private readonly numberOwners: Database.Statement<[string], { number: string; accountId: string }>;
  private readonly insertMember: Database.Statement<[string, string]>;
  private readonly deleteMember: Database.Statement<[string, string]>;
  private readonly members: Database.Statement<[string], string>;
  private readonly member: Database.Statement<[string, string], number>;
  private readonly byId: Database.Statement<[string], AccountRow>;
  private readonly byApiCode: Database.Statement<[string], AccountRow>;
  private readonly personal: Database.Statement<[string], AccountRow>;
  private readonly byNumber: Database.Statement<[string], AccountRow>;
  private readonly groups: Database.Statement<[{ departmentId: string | null; memberId: string | null }], AccountRow>;

  constructor(private readonly ctx: SqliteContext) {
    const { db } = ctx;
    this.insert = db.prepare(
      `INSERT INTO accounts (id, kind, name, api_code, api_code_key, department_id, owner_user_id, color,
         forwarding_number, created_at, updated_at)
       VALUES (@id, @kind, @name, @apiCode, @apiCodeKey, @departmentId, @ownerUserId, @color,
         @forwardingNumber, @createdAt, @updatedAt)`,
    );
    this.updateRow = db.prepare(
      `UPDATE accounts SET name = @name, api_code = @apiCode, api_code_key = @apiCodeKey, color = @color,
         forwarding_number = @forwardingNumber, updated_at = @updatedAt
       WHERE id = @id`,
    );
    // Numbers and memberships go with it (ON DELETE CASCADE); conversations stay.
    this.deleteRow = db.prepare('DELETE FROM accounts WHERE id = ?');
    this.insertNumber = db.prepare('INSERT INTO account_numbers (number, account_id, position) VALUES (?, ?, ?)');
    this.deleteNumbers = db.prepare('DELETE FROM account_numbers WHERE account_id = ?');
    this.numberOwners = db.prepare(
      `SELECT number, account_id AS accountId FROM account_numbers
       WHERE number IN (SELECT value FROM json_each(?)) ORDER BY number`,
    );
    this.insertMember = db.prepare('INSERT OR IGNORE INTO account_members (account_id, user_id) VALUES (?, ?)');
    this.deleteMember = db.prepare('DELETE FROM account_members WHERE account_id = ? AND user_id = ?');
    this.members = db
      .prepare<[string], string>('SELECT user_id FROM account_members WHERE account_id = ? ORDER BY user_id')
      .pluck();
    this.member = db
      .prepare<[string, string], number>('SELECT 1 FROM account_members WHERE account_id = ? AND user_id = ?')
      .pluck();
    this.byId = db.prepare(`${SELECT} WHERE a.id = ?`);
    this.byApiCode = db.prepare(`${SELECT} WHERE a.api_code_key = ?`);
    this.personal = db.prepare(`${SELECT} WHERE a.owner_user_id = ?`);
    this.byNumber = db.prepare(`${SELECT} WHERE a.id = (SELECT account_id FROM account_numbers WHERE number = ?)`);
    // Group accounts are few (tens per organisation): one statement for every filter combination.
    this.groups = db.prepare(
      `${SELECT}
       WHERE a.kind = 'group'
         AND (@departmentId IS NULL OR a.department_id = @departmentId)
         AND (@memberId IS NULL OR EXISTS (
               SELECT 1 FROM account_members m WHERE m.account_id = a.id AND m.user_id = @memberId))
       ORDER BY a.name COLLATE NOCASE, a.id`,
    );
  }

  create(a: Account, memberIds: string[]): Promise<Account> {
    return this.ctx.write(() => {
      this.claimNumbers(a.id, a.numbers);
      try {
        this.insert.run({ ...a, apiCodeKey: apiCodeKey(a.apiCode) });
      } catch (e) {
        rethrowUnique(e, {
          'accounts.api_code_key': () => apiCodeTaken(a.apiCode),
          'accounts.owner_user_id': () => new AppError('conflict', 'The user already has a personal account'),
          'accounts.id': () => new AppError('conflict', 'The account already exists'),
        });
      }
      this.writeNumbers(a.id, a.numbers);
      for (const userId of memberIds) this.insertMember.run(a.id, userId);
      return { ...a, numbers: [...a.numbers] };
    });
  }

  get(id: string): Promise<Account | null> {
    return this.ctx.read(() => this.one(this.byId, id));
  }

  getByApiCode(apiCode: string): Promise<Account | null> {
    return this.ctx.read(() => this.one(this.byApiCode, caseKey(apiCode)));
  }

  getPersonal(userId: string): Promise<Account | null> {
    return this.ctx.read(() => this.one(this.personal, userId));
  }

  getByNumber(number: string): Promise<Account | null> {
    return this.ctx.read(() => this.one(this.byNumber, number));
  }

  listGroup(filter: { departmentId?: string; memberId?: string } = {}): Promise<Account[]> {
    return this.ctx.read(() =>
      this.groups
        .all({ departmentId: filter.departmentId ?? null, memberId: filter.memberId ?? null })
        .map(toAccount),
    );
  }

  update(id: string, patch: AccountPatch, at: number): Promise<Account> {
    return this.ctx.write(() => {
      const current = this.one(this.byId, id);
      if (!current) throw notFound('Account');
      const next: Account = { ...current, ...definedOnly(patch), updatedAt: at };
      if (patch.numbers !== undefined) {
        this.claimNumbers(id, patch.numbers);
        this.deleteNumbers.run(id);
        this.writeNumbers(id, patch.numbers);
        next.numbers = [...patch.numbers];
      }
      try {
        this.updateRow.run({ ...next, apiCodeKey: apiCodeKey(next.apiCode) });
      } catch (e) {
        rethrowUnique(e, { 'accounts.api_code_key': () => apiCodeTaken(next.apiCode) });
      }
      return next;
    });
  }

  delete(id: string): Promise<void> {
    return this.ctx.write(() => {
      if (this.deleteRow.run(id).changes === 0) throw notFound('Account');
    });
  }

  listMembers(accountId: string): Promise<string[]> {
    return this.ctx.read(() => this.members.all(accountId));
  }

  setMembers(accountId: string, userIds: string[]): Promise<{ added: string[]; removed: string[] }> {
    return this.ctx.write(() => {
      if (!this.byId.get(accountId)) throw notFound('Account');
      const current = new Set(this.members.all(accountId));
      const wanted = new Set(userIds);
      const added = [...wanted].filter((u) => !current.has(u));
      const removed = [...current].filter((u) => !wanted.has(u));
      for (const userId of removed) this.deleteMember.run(accountId, userId);
      for (const userId of added) this.insertMember.run(accountId, userId);
      return { added, removed };
    });
  }

  isMember(accountId: string, userId: string): Promise<boolean> {
    return this.ctx.read(() => this.member.get(accountId, userId) !== undefined);
  }

  numbersInUse(numbers: string[]): Promise<string[]> {
    return this.ctx.read(() => {
      const used = new Set(this.numberOwners.all(jsonList(numbers)).map((r) => r.number));
      return [...new Set(numbers)].filter((n) => used.has(n));
    });
  }

  private one(statement: Database.Statement<[string], AccountRow>, key: string): Account | null {
    const row = statement.get(key);
    return row ? toAccount(row) : null;
  }

  /** Refuses numbers that are repeated or belong to another account, naming them. */
  private claimNumbers(accountId: string, numbers: readonly string[]): void {
    const repeated = numbersRepeated(numbers);
    if (repeated) throw repeated;
    const taken = this.numberOwners
      .all(jsonList(numbers))
      .filter((r) => r.accountId !== accountId)
      .map((r) => r.number);
    if (taken.length > 0) throw numberTaken(taken);
  }

  private writeNumbers(accountId: string, numbers: readonly string[]): void {
    numbers.forEach((number, position) => this.insertNumber.run(number, accountId, position));
  }
}

const apiCodeKey = (apiCode: string | null): string | null => (apiCode === null ? null : caseKey(apiCode));
