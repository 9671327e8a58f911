import type Database from 'better-sqlite3';
import type { Role, User } from '../../domain/types.js';
import type { UserRepo, UserUpdate } from '../store.js';
import type { SqliteSessionRepo } from './sqlite-sessions.js';
import { notFound } from '../../errors.js';
import { caseKey, definedOnly, emailTaken } from '../adapter-rules.js';
import { bit, type SqliteContext } from './sqlite-context.js';
import { rethrowUnique } from './sqlite-errors.js';

interface UserRow {
  id: string;
  email: string;
  name: string;
  role: Role;
  passwordHash: string;
  disabled: number;
  createdAt: number;
  departmentIds: string;
}

const SELECT = `
  SELECT u.id, u.email, u.name, u.role, u.password_hash AS passwordHash, u.disabled, u.created_at AS createdAt,
         (SELECT json_group_array(department_id ORDER BY position) FROM user_departments WHERE user_id = u.id)
           AS departmentIds
  FROM users u`;

const toUser = (r: UserRow): User => ({
  id: r.id,
  email: r.email,
  name: r.name,
  role: r.role,
  departmentIds: JSON.parse(r.departmentIds) as string[],
  passwordHash: r.passwordHash,
  disabled: r.disabled === 1,
  createdAt: r.createdAt,
});

type UserPatch = Parameters<UserRepo['update']>[1];

export class SqliteUserRepo implements UserRepo {
  private readonly insert: Database.Statement<[Record<string, unknown>]>;
  private readonly insertDepartment: Database.Statement<[string, string, number]>;
  private readonly deleteDepartments: Database.Statement<[string]>;
  private readonly updateRow: Database.Statement<[Record<string, unknown>]>;
  private readonly byId: Database.Statement<[string], UserRow>;
  private readonly byEmail: Database.Statement<[string], UserRow>;
  private readonly all: Database.Statement<[], UserRow>;
  private readonly inDepartment: Database.Statement<[string], UserRow>;
  private readonly leaveForeignAccounts: Database.Statement<[{ id: string }], string>;

  constructor(
    private readonly ctx: SqliteContext,
    private readonly sessions: SqliteSessionRepo,
  ) {
    const { db } = ctx;
    this.insert = db.prepare(
      `INSERT INTO users (id, email, email_key, name, role, password_hash, disabled, created_at)
       VALUES (@id, @email, @emailKey, @name, @role, @passwordHash, @disabled, @createdAt)`,
    );
    this.insertDepartment = db.prepare(
      'INSERT INTO user_departments (user_id, department_id, position) VALUES (?, ?, ?)',
    );
    this.deleteDepartments = db.prepare('DELETE FROM user_departments WHERE user_id = ?');
    this.updateRow = db.prepare(
      `UPDATE users SET email = @email, email_key = @emailKey, name = @name, role = @role,
         password_hash = @passwordHash, disabled = @disabled
       WHERE id = @id`,
    );
    this.byId = db.prepare(`${SELECT} WHERE u.id = ?`);
    this.byEmail = db.prepare(`${SELECT} WHERE u.email_key = ?`);
    this.all = db.prepare(`${SELECT} ORDER BY u.name COLLATE NOCASE, u.id`);
    this.inDepartment = db.prepare(
      `${SELECT} WHERE u.id IN (SELECT user_id FROM user_departments WHERE department_id = ?)
       ORDER BY u.name COLLATE NOCASE, u.id`,
    );
    this.leaveForeignAccounts = db
      .prepare<[{ id: string }], string>(
        `DELETE FROM account_members
         WHERE user_id = @id AND account_id IN (
           SELECT a.id FROM accounts a
           WHERE a.kind = 'group' AND (a.department_id IS NULL OR a.department_id NOT IN (
             SELECT department_id FROM user_departments WHERE user_id = @id)))
         RETURNING account_id`,
      )
      .pluck();
  }

  create(u: User): Promise<User> {
    return this.ctx.write(() => {
      try {
        this.insert.run({ ...u, emailKey: caseKey(u.email), disabled: bit(u.disabled) });
      } catch (e) {
        rethrowUnique(e, { 'users.email_key': () => emailTaken(u.email) });
      }
      this.writeDepartments(u.id, u.departmentIds);
      return { ...u, departmentIds: [...new Set(u.departmentIds)] };
    });
  }

  get(id: string): Promise<User | null> {
    return this.ctx.read(() => {
      const row = this.byId.get(id);
      return row ? toUser(row) : null;
    });
  }

  getByEmail(email: string): Promise<User | null> {
    return this.ctx.read(() => {
      const row = this.byEmail.get(caseKey(email));
      return row ? toUser(row) : null;
    });
  }

  list(filter: { departmentId?: string } = {}): Promise<User[]> {
    return this.ctx.read(() => {
      const rows = filter.departmentId === undefined ? this.all.all() : this.inDepartment.all(filter.departmentId);
      return rows.map(toUser);
    });
  }

  update(id: string, patch: UserPatch, options: { endSessionsAt?: number } = {}): Promise<UserUpdate> {
    return this.ctx.write(() => {
      const row = this.byId.get(id);
      if (!row) throw notFound('User');
      const next: User = { ...toUser(row), ...definedOnly(patch) };
      try {
        this.updateRow.run({ ...next, emailKey: caseKey(next.email), disabled: bit(next.disabled) });
      } catch (e) {
        rethrowUnique(e, { 'users.email_key': () => emailTaken(next.email) });
      }
      if (patch.departmentIds !== undefined) {
        this.deleteDepartments.run(id);
        this.writeDepartments(id, patch.departmentIds);
        next.departmentIds = [...new Set(patch.departmentIds)];
      }
      const leftAccountIds = next.role === 'owner' ? [] : this.leaveForeignAccounts.all({ id }).sort();
      if (options.endSessionsAt !== undefined) this.sessions.revokeAllNow(id, options.endSessionsAt);
      return { user: next, leftAccountIds };
    });
  }

  private writeDepartments(userId: string, departmentIds: readonly string[]): void {
    // A repeated id is one membership, not a conflict.
    [...new Set(departmentIds)].forEach((departmentId, position) =>
      this.insertDepartment.run(userId, departmentId, position),
    );
  }
}
