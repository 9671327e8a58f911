import type { User } from '../../domain/types.js';
import type { UserRepo, UserUpdate } from '../store.js';
import { AppError, notFound } from '../../errors.js';
import { caseKey, definedOnly, emailTaken } from '../adapter-rules.js';
import { NAME_COLLATION, type MongoContext } from './mongo-context.js';
import { toUser, type UserDoc } from './mongo-documents.js';
import { rethrowDuplicate } from './mongo-errors.js';
import { revokeLiveSessions } from './mongo-sessions.js';

type UserPatch = Parameters<UserRepo['update']>[1];

export class MongoUserRepo implements UserRepo {
  constructor(private readonly m: MongoContext) {}

  create(u: User): Promise<User> {
    return this.m.op(async () => {
      const stored: User = { ...u, departmentIds: [...new Set(u.departmentIds)] };
      const { id, ...fields } = stored;
      try {
        await this.m.c.users.insertOne({ _id: id, ...fields, emailKey: caseKey(u.email) });
      } catch (e) {
        rethrowDuplicate(e, {
          emailKey: () => emailTaken(u.email),
          _id: () => new AppError('conflict', 'The user already exists'),
        });
      }
      return stored;
    });
  }

  get(id: string): Promise<User | null> {
    return this.m.op(async () => {
      const doc = await this.m.c.users.findOne({ _id: id });
      return doc ? toUser(doc) : null;
    });
  }

  getByEmail(email: string): Promise<User | null> {
    return this.m.op(async () => {
      const doc = await this.m.c.users.findOne({ emailKey: caseKey(email) });
      return doc ? toUser(doc) : null;
    });
  }

  list(filter: { departmentId?: string } = {}): Promise<User[]> {
    return this.m.op(async () => {
      const query = filter.departmentId === undefined ? {} : { departmentIds: filter.departmentId };
      const docs = await this.m.c.users.find(query).collation(NAME_COLLATION).sort({ name: 1, _id: 1 }).toArray();
      return docs.map(toUser);
    });
  }

  update(id: string, patch: UserPatch, options: { endSessionsAt?: number } = {}): Promise<UserUpdate> {
    return this.m.op(async () => {
      const present = definedOnly(patch);
      const set: Partial<Omit<UserDoc, '_id'>> = { ...present };
      if (present.email !== undefined) set.emailKey = caseKey(present.email);
      if (present.departmentIds !== undefined) set.departmentIds = [...new Set(present.departmentIds)];
      // The user, the memberships their departments no longer allow and (when asked) their
      // sessions change in one transaction: a crash leaves all of it or none.
      return this.m.tx(async (session) => {
        let doc: UserDoc | null;
        try {
          // An empty $set is an error in MongoDB: an empty patch is a read.
          doc =
            Object.keys(set).length === 0
              ? await this.m.c.users.findOne({ _id: id }, { session })
              : await this.m.c.users.findOneAndUpdate({ _id: id }, { $set: set }, { session, returnDocument: 'after' });
        } catch (e) {
          rethrowDuplicate(e, { emailKey: () => emailTaken(present.email ?? '') });
        }
        if (!doc) throw notFound('User');
        const user = toUser(doc);
        let leftAccountIds: string[] = [];
        if (user.role !== 'owner') {
          const left = await this.m.c.accounts
            .find({ kind: 'group', memberIds: id, departmentId: { $nin: user.departmentIds } }, { session, projection: { _id: 1 } })
            .toArray();
          leftAccountIds = left.map((a) => a._id).sort();
          if (leftAccountIds.length > 0) {
            await this.m.c.accounts.updateMany({ _id: { $in: leftAccountIds } }, { $pull: { memberIds: id } }, { session });
          }
        }
        if (options.endSessionsAt !== undefined) await revokeLiveSessions(this.m.c, id, options.endSessionsAt, session);
        return { user, leftAccountIds };
      });
    });
  }
}
