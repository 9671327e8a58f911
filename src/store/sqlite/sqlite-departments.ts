import type Database from 'better-sqlite3';
import type { Department } from '../../domain/types.js';
import type { DepartmentRepo } from '../store.js';
import { caseKey, departmentCodeTaken } from '../adapter-rules.js';
import type { SqliteContext } from './sqlite-context.js';
import { rethrowUnique } from './sqlite-errors.js';

const COLUMNS = 'id, name, code, time_zone AS timeZone, created_at AS createdAt';

export class SqliteDepartmentRepo implements DepartmentRepo {
  private readonly insert: Database.Statement<[Record<string, unknown>]>;
  private readonly byId: Database.Statement<[string], Department>;
  private readonly byCode: Database.Statement<[string], Department>;
  private readonly all: Database.Statement<[], Department>;

  constructor(private readonly ctx: SqliteContext) {
    const { db } = ctx;
    this.insert = db.prepare(
      `INSERT INTO departments (id, name, code, code_key, time_zone, created_at)
       VALUES (@id, @name, @code, @codeKey, @timeZone, @createdAt)`,
    );
    this.byId = db.prepare(`SELECT ${COLUMNS} FROM departments WHERE id = ?`);
    this.byCode = db.prepare(`SELECT ${COLUMNS} FROM departments WHERE code_key = ?`);
    this.all = db.prepare(`SELECT ${COLUMNS} FROM departments ORDER BY name COLLATE NOCASE, id`);
  }

  create(d: Department): Promise<Department> {
    return this.ctx.write(() => {
      try {
        this.insert.run({ ...d, codeKey: caseKey(d.code) });
      } catch (e) {
        rethrowUnique(e, {
          'departments.code_key': () => departmentCodeTaken(d.code),
        });
      }
      return { ...d };
    });
  }

  get(id: string): Promise<Department | null> {
    return this.ctx.read(() => this.byId.get(id) ?? null);
  }

  getByCode(code: string): Promise<Department | null> {
    return this.ctx.read(() => this.byCode.get(caseKey(code)) ?? null);
  }

  list(): Promise<Department[]> {
    return this.ctx.read(() => this.all.all());
  }
}
