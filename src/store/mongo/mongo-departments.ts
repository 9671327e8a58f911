import type { Department } from '../../domain/types.js';
import type { DepartmentRepo } from '../store.js';
import { AppError } from '../../errors.js';
import { caseKey, departmentCodeTaken } from '../adapter-rules.js';
import { NAME_COLLATION, type MongoContext } from './mongo-context.js';
import { toDepartment } from './mongo-documents.js';
import { rethrowDuplicate } from './mongo-errors.js';

export class MongoDepartmentRepo implements DepartmentRepo {
  constructor(private readonly m: MongoContext) {}

  create(d: Department): Promise<Department> {
    return this.m.op(async () => {
      try {
        await this.m.c.departments.insertOne({
          _id: d.id,
          name: d.name,
          code: d.code,
          codeKey: caseKey(d.code),
          timeZone: d.timeZone,
          createdAt: d.createdAt,
        });
      } catch (e) {
        rethrowDuplicate(e, {
          codeKey: () => departmentCodeTaken(d.code),
          _id: () => new AppError('conflict', 'The department already exists'),
        });
      }
      return { ...d };
    });
  }

  get(id: string): Promise<Department | null> {
    return this.m.op(async () => {
      const doc = await this.m.c.departments.findOne({ _id: id });
      return doc ? toDepartment(doc) : null;
    });
  }

  getByCode(code: string): Promise<Department | null> {
    return this.m.op(async () => {
      const doc = await this.m.c.departments.findOne({ codeKey: caseKey(code) });
      return doc ? toDepartment(doc) : null;
    });
  }

  list(): Promise<Department[]> {
    return this.m.op(async () =>
      (await this.m.c.departments.find({}).collation(NAME_COLLATION).sort({ name: 1, _id: 1 }).toArray()).map(
        toDepartment,
      ),
    );
  }
}
