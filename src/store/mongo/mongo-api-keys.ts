import type { ApiKey } from '../../domain/types.js';
import type { ApiKeyRepo } from '../store.js';
import { AppError, notFound } from '../../errors.js';
import type { MongoContext } from './mongo-context.js';
import { toApiKey } from './mongo-documents.js';
import { rethrowDuplicate } from './mongo-errors.js';

export class MongoApiKeyRepo implements ApiKeyRepo {
  constructor(private readonly m: MongoContext) {}

  create(k: ApiKey): Promise<ApiKey> {
    return this.m.op(async () => {
      const { id, ...fields } = k;
      try {
        await this.m.c.apiKeys.insertOne({ _id: id, ...fields });
      } catch (e) {
        rethrowDuplicate(e, {
          _id: () => new AppError('conflict', 'The API key already exists'),
          keyHash: () => new AppError('conflict', 'The API key already exists'),
        });
      }
      return { ...k };
    });
  }

  getByHash(keyHash: string): Promise<ApiKey | null> {
    return this.m.op(async () => {
      const doc = await this.m.c.apiKeys.findOne({ keyHash });
      return doc ? toApiKey(doc) : null;
    });
  }

  listForDepartment(departmentId: string): Promise<ApiKey[]> {
    return this.m.op(async () =>
      (await this.m.c.apiKeys.find({ departmentId }).sort({ createdAt: 1, _id: 1 }).toArray()).map(toApiKey),
    );
  }

  revoke(id: string, at: number): Promise<void> {
    return this.m.op(async () => {
      const r = await this.m.c.apiKeys.updateOne({ _id: id, revokedAt: null }, { $set: { revokedAt: at } });
      if (r.matchedCount === 0 && (await this.m.c.apiKeys.countDocuments({ _id: id }, { limit: 1 })) === 0) {
        throw notFound('API key');
      }
    });
  }
}
