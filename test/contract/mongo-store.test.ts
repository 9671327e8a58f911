import { randomBytes } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe } from 'vitest';
import { createMongoStore } from '../../src/store/mongo/mongo-store.js';
import type { Store } from '../../src/store/store.js';
import { storeContract } from './store.contract.js';

// MongoDB cannot run on every machine (none can be installed on the development hosts), so the
// contract runs against it only when MONGODB_URI points at a replica set (transactions need one).
// Each test gets its own database, named uniquely for this run and dropped at the end.
const uri = process.env.MONGODB_URI;

describe.skipIf(!uri)('MongoDB store', () => {
  const run = `switchboard_test_${process.pid}_${randomBytes(3).toString('hex')}`;
  const databases: string[] = [];
  const dbNames = new WeakMap<Store, string>();
  let admin: MongoClient;

  async function open(dbName: string): Promise<Store> {
    const store = await createMongoStore({ uri: uri!, dbName });
    dbNames.set(store, dbName);
    return store;
  }

  beforeAll(async () => {
    admin = new MongoClient(uri!);
    await admin.connect();
  });

  afterAll(async () => {
    for (const name of databases) await admin.db(name).dropDatabase();
    await admin.close();
  });

  storeContract(
    'mongo',
    () => {
      const dbName = `${run}_${databases.length}`;
      databases.push(dbName);
      return open(dbName);
    },
    {
      reopen: async (store) => {
        const dbName = dbNames.get(store);
        if (dbName === undefined) throw new Error('not a store opened by this test file');
        await store.close();
        return open(dbName);
      },
    },
  );
});
