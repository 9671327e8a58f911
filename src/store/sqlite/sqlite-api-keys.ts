import type Database from 'better-sqlite3';
import type { ApiKey } from '../../domain/types.js';
import type { ApiKeyRepo } from '../store.js';
import { AppError, notFound } from '../../errors.js';
import type { SqliteContext } from './sqlite-context.js';
import { rethrowUnique } from './sqlite-errors.js';

const COLUMNS = `id, department_id AS departmentId, name, prefix, key_hash AS keyHash,
  created_by_user_id AS createdByUserId, created_at AS createdAt, revoked_at AS revokedAt`;

export class SqliteApiKeyRepo implements ApiKeyRepo {
  private readonly insert: Database.Statement<[ApiKey]>;
  private readonly byHash: Database.Statement<[string], ApiKey>;
  private readonly forDepartment: Database.Statement<[string], ApiKey>;
  private readonly revokeOne: Database.Statement<[number, string]>;

  constructor(private readonly ctx: SqliteContext) {
    const { db } = ctx;
    this.insert = db.prepare(
      `INSERT INTO api_keys (id, department_id, name, prefix, key_hash, created_by_user_id, created_at, revoked_at)
       VALUES (@id, @departmentId, @name, @prefix, @keyHash, @createdByUserId, @createdAt, @revokedAt)`,
    );
    this.byHash = db.prepare(`SELECT ${COLUMNS} FROM api_keys WHERE key_hash = ?`);
    this.forDepartment = db.prepare(`SELECT ${COLUMNS} FROM api_keys WHERE department_id = ? ORDER BY created_at, id`);
    this.revokeOne = db.prepare('UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?');
  }

  create(k: ApiKey): Promise<ApiKey> {
    return this.ctx.write(() => {
      try {
        this.insert.run(k);
      } catch (e) {
        rethrowUnique(e, {
          'api_keys.id': () => new AppError('conflict', 'The API key already exists'),
          'api_keys.key_hash': () => new AppError('conflict', 'The API key already exists'),
        });
      }
      return { ...k };
    });
  }

  getByHash(keyHash: string): Promise<ApiKey | null> {
    return this.ctx.read(() => this.byHash.get(keyHash) ?? null);
  }

  listForDepartment(departmentId: string): Promise<ApiKey[]> {
    return this.ctx.read(() => this.forDepartment.all(departmentId));
  }

  revoke(id: string, at: number): Promise<void> {
    return this.ctx.write(() => {
      if (this.revokeOne.run(at, id).changes === 0) throw notFound('API key');
    });
  }
}
