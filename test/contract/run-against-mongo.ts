import { spawnSync } from 'node:child_process';
import { MongoClient } from 'mongodb';

// `npm run test:mongo`: the store contract suite against the MongoDB replica set at MONGODB_URI
// (any replica set, or the compose file's `test` profile). Checks first that the URI is set and
// reaches a replica set, and says so plainly when not, instead of a suite that skips itself or
// fails on its first test.

const USAGE = `Set MONGODB_URI to a MongoDB replica set, for example
  MONGODB_URI='mongodb://localhost:27017/?replicaSet=rs0' npm run test:mongo
or run the compose file's test profile (a three-member replica set included):
  docker compose -f docker/compose.yml --profile test run --rm store-contract`;

async function main(): Promise<number> {
  const uri = process.env.MONGODB_URI;
  if (!uri) {
    process.stderr.write(`test:mongo: MONGODB_URI is not set.\n${USAGE}\n`);
    return 2;
  }
  // A URI's own serverSelectionTimeoutMS wins; otherwise ten seconds for a replica set to answer.
  const client = new MongoClient(uri, /serverSelectionTimeoutMS=/i.test(uri) ? {} : { serverSelectionTimeoutMS: 10_000 });
  try {
    await client.connect();
    const hello = (await client.db('admin').command({ hello: 1 })) as { setName?: string };
    if (!hello.setName) {
      process.stderr.write(`test:mongo: the server at MONGODB_URI is not a replica set member (the store needs transactions).\n${USAGE}\n`);
      return 2;
    }
  } catch (e) {
    process.stderr.write(`test:mongo: cannot reach MongoDB at MONGODB_URI: ${e instanceof Error ? e.message : String(e)}\n${USAGE}\n`);
    return 2;
  } finally {
    await client.close();
  }
  const run = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', 'test/contract/mongo-store.test.ts'], { stdio: 'inherit' });
  return run.status ?? 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`test:mongo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
