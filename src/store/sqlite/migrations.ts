import type Database from 'better-sqlite3';

// The schema, as numbered steps. `PRAGMA user_version` records the last step applied; at open every
// pending step runs in its own IMMEDIATE transaction (the version bump included, since user_version
// lives in the database header and is transactional), so a crash mid-migration leaves the previous
// version intact, and two processes opening the same file cannot both apply a step.
// Steps are append-only: never edit a step that has shipped, add the next one.
//
// Schema choices:
// - Lists the interface queries by (account numbers, members, user departments) are tables with
//   the index the query needs; what is never queried (custom fields) is JSON.
// - Case-insensitive uniqueness (department code, email, apiCode) is a `*_key` column holding the
//   JavaScript-lowercased value, so both store adapters agree on what "the same" means (SQLite's
//   NOCASE only folds ASCII). Name orderings use NOCASE: they only need to look alphabetical.
// - Foreign keys only inside an aggregate (an account's numbers, a message's status history):
//   references across aggregates (user → department, conversation → account) are the core's to
//   check, as the MongoDB adapter cannot enforce them and the two must behave alike. Conversations
//   outlive a deleted account on purpose.

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE departments (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        code TEXT NOT NULL,
        code_key TEXT NOT NULL UNIQUE,
        time_zone TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX departments_by_name ON departments (name COLLATE NOCASE, id);

      CREATE TABLE users (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL,
        email_key TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('owner', 'deptAdmin', 'staff')),
        password_hash TEXT NOT NULL,
        disabled INTEGER NOT NULL CHECK (disabled IN (0, 1)),
        created_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX users_by_name ON users (name COLLATE NOCASE, id);

      CREATE TABLE user_departments (
        user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        department_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        PRIMARY KEY (user_id, department_id)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX user_departments_by_department ON user_departments (department_id, user_id);

      CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        revoked_at INTEGER
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX sessions_live_by_user ON sessions (user_id) WHERE revoked_at IS NULL;

      CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        department_id TEXT NOT NULL,
        name TEXT NOT NULL,
        prefix TEXT NOT NULL,
        key_hash TEXT NOT NULL UNIQUE,
        created_by_user_id TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
      ) STRICT;
      CREATE INDEX api_keys_by_department ON api_keys (department_id, created_at, id);

      CREATE TABLE accounts (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('personal', 'group')),
        name TEXT NOT NULL,
        api_code TEXT,
        api_code_key TEXT UNIQUE,
        department_id TEXT,
        owner_user_id TEXT UNIQUE,
        color TEXT,
        forwarding_number TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX accounts_by_kind_name ON accounts (kind, name COLLATE NOCASE, id);

      -- number is the key: a number can belong to one account only.
      CREATE TABLE account_numbers (
        number TEXT PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        position INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX account_numbers_by_account ON account_numbers (account_id, position);

      CREATE TABLE account_members (
        account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        user_id TEXT NOT NULL,
        PRIMARY KEY (account_id, user_id)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX account_members_by_user ON account_members (user_id, account_id);

      CREATE TABLE contacts (
        id TEXT PRIMARY KEY,
        first_name TEXT NOT NULL COLLATE NOCASE,
        last_name TEXT NOT NULL COLLATE NOCASE,
        phone TEXT NOT NULL UNIQUE,
        staff_id TEXT,
        custom_fields TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX contacts_by_name ON contacts (last_name, first_name, id);
      CREATE INDEX contacts_by_staff ON contacts (staff_id, last_name, first_name, id) WHERE staff_id IS NOT NULL;

      CREATE TABLE opt_outs (
        contact_id TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
        scope TEXT NOT NULL,
        opted_out_at INTEGER NOT NULL,
        source TEXT NOT NULL,
        PRIMARY KEY (contact_id, scope)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        account_id TEXT NOT NULL,
        contact_id TEXT NOT NULL,
        folder TEXT NOT NULL CHECK (folder IN ('inbox', 'archived')),
        unread INTEGER NOT NULL,
        sender_number TEXT,
        last_message_at INTEGER,
        last_message_preview TEXT,
        last_message_direction TEXT,
        lock_token INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        UNIQUE (account_id, contact_id)
      ) STRICT;
      -- A folder page is one range scan of this index, however many conversations the account has.
      CREATE INDEX conversations_by_folder ON conversations (account_id, folder, last_message_at DESC, id DESC);

      CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        conversation_id TEXT NOT NULL REFERENCES conversations (id),
        account_id TEXT NOT NULL,
        contact_id TEXT NOT NULL,
        direction TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
        text TEXT NOT NULL,
        encoding TEXT NOT NULL,
        segments INTEGER NOT NULL,
        status TEXT NOT NULL,
        from_number TEXT NOT NULL,
        to_number TEXT NOT NULL,
        sent_by_user_id TEXT,
        sent_by_name TEXT,
        provider_id TEXT,
        status_sequence INTEGER NOT NULL,
        error_code TEXT,
        quiet_hours_time_zone TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX messages_by_conversation ON messages (conversation_id, id);
      -- Inbound dedupe (Plivo's MessageUUID) and one provider id per outbound message.
      CREATE UNIQUE INDEX messages_by_provider_id ON messages (provider_id) WHERE provider_id IS NOT NULL;
      -- The send queues and crash recovery; inbound messages never need it.
      CREATE INDEX messages_outbound_by_status ON messages (status, from_number, id) WHERE direction = 'outbound';

      CREATE TABLE message_status_events (
        seq INTEGER PRIMARY KEY,
        message_id TEXT NOT NULL REFERENCES messages (id),
        status TEXT NOT NULL,
        at INTEGER NOT NULL,
        error_code TEXT
      ) STRICT;
      CREATE INDEX message_status_events_by_message ON message_status_events (message_id, seq);
    `,
  },
  {
    version: 2,
    name: 'conversation lock actors',
    sql: `
      CREATE TABLE conversation_locks (
        conversation_id TEXT PRIMARY KEY,
        account_id TEXT NOT NULL,
        snapshot TEXT NOT NULL,
        token INTEGER NOT NULL,
        state TEXT NOT NULL,
        holder_user_id TEXT,
        holder_name TEXT,
        since INTEGER,
        release_at INTEGER,
        updated_at INTEGER NOT NULL
      ) STRICT;
      -- The live board: the held locks of a department's accounts.
      CREATE INDEX conversation_locks_active ON conversation_locks (account_id, conversation_id) WHERE state <> 'idle';
    `,
  },
  {
    version: 3,
    name: 'idempotency keys',
    sql: `
      -- A rowid table: a compose's stored answer can be large, which WITHOUT ROWID handles badly.
      CREATE TABLE idempotency_records (
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        status INTEGER NOT NULL,
        body TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (scope, key)
      ) STRICT;
      -- Pruning walks the expired records only.
      CREATE INDEX idempotency_records_by_expiry ON idempotency_records (expires_at);
    `,
  },
  {
    version: 4,
    name: 'webhook signature nonces',
    sql: `
      CREATE TABLE webhook_nonces (
        nonce TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        seen_at INTEGER NOT NULL,
        keep_until INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;
      -- Pruning takes the oldest expired records first.
      CREATE INDEX webhook_nonces_by_expiry ON webhook_nonces (keep_until);
    `,
  },
  {
    version: 5,
    name: 'lock owner epochs',
    sql: `
      -- Every activation of a conversation's lock claims the next epoch; lock writes and fenced
      -- replies are conditional on it, so an older activation can no longer write.
      ALTER TABLE conversations ADD COLUMN owner_epoch INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE conversation_locks ADD COLUMN owner_epoch INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 6,
    name: 'campaigns',
    sql: `
      CREATE TABLE campaigns (
        id TEXT PRIMARY KEY,
        account_id TEXT NOT NULL,
        name TEXT NOT NULL,
        text TEXT NOT NULL,
        time_zone TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('draft', 'scheduled', 'sending', 'paused', 'completed', 'cancelled')),
        paused_reason TEXT CHECK (paused_reason IN ('person', 'quietHours')),
        scheduled_at INTEGER,
        send_anyway INTEGER NOT NULL CHECK (send_anyway IN (0, 1)),
        snapshot TEXT NOT NULL,
        source TEXT NOT NULL,
        expansion TEXT NOT NULL,
        skipped_duplicate INTEGER NOT NULL DEFAULT 0,
        created_by_user_id TEXT,
        created_by_name TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX campaigns_by_account ON campaigns (account_id, id);
      -- Start-up recovery reads the campaigns still under way.
      CREATE INDEX campaigns_unfinished ON campaigns (id) WHERE state NOT IN ('completed', 'cancelled');

      -- One row per campaign and phone: the key makes a recipient impossible to insert twice.
      CREATE TABLE campaign_recipients (
        campaign_id TEXT NOT NULL,
        phone TEXT NOT NULL,
        seq INTEGER NOT NULL,
        account_id TEXT NOT NULL,
        contact_id TEXT,
        sender_number TEXT,
        status TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'delivered', 'failed', 'skipped_opted_out', 'skipped_invalid', 'unknown')),
        message_id TEXT,
        handed_at INTEGER,
        replied_at INTEGER,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (campaign_id, phone)
      ) STRICT, WITHOUT ROWID;
      -- The counts: one range of this index per campaign, never the rows themselves.
      CREATE INDEX campaign_recipients_counts ON campaign_recipients (campaign_id, status, replied_at);
      CREATE INDEX campaign_recipients_by_status ON campaign_recipients (campaign_id, status, seq);
      CREATE INDEX campaign_recipients_by_seq ON campaign_recipients (campaign_id, seq);
      -- What is left to hand over, per sender number, in order.
      CREATE INDEX campaign_recipients_to_hand_off ON campaign_recipients (campaign_id, sender_number, seq)
        WHERE message_id IS NULL AND status = 'queued';
      -- A message's status change finds its recipient; a reply finds the latest campaign text.
      CREATE INDEX campaign_recipients_by_message ON campaign_recipients (message_id) WHERE message_id IS NOT NULL;
      CREATE INDEX campaign_recipients_by_contact ON campaign_recipients (account_id, contact_id, handed_at)
        WHERE message_id IS NOT NULL;
    `,
  },
  {
    version: 7,
    name: 'campaign owner epochs',
    sql: `
      -- Every activation of a campaign claims the next epoch; its state writes, expansion batches
      -- and hand-overs are conditional on it, so an older activation can no longer write.
      ALTER TABLE campaigns ADD COLUMN owner_epoch INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 8,
    name: 'contact tags and scheduled messages',
    sql: `
      -- A contact's tags (normalised: lowercase, each once). The key reads one contact's tags;
      -- the second index is what a campaign's tags filter walks: one tag's contacts in id order,
      -- a page at a time, never the whole table.
      CREATE TABLE contact_tags (
        contact_id TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
        tag TEXT NOT NULL,
        PRIMARY KEY (contact_id, tag)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX contact_tags_by_tag ON contact_tags (tag, contact_id);

      -- A scheduled single message is a campaign of kind 'message'; lists filter by kind.
      ALTER TABLE campaigns ADD COLUMN kind TEXT NOT NULL DEFAULT 'campaign' CHECK (kind IN ('campaign', 'message'));
      CREATE INDEX campaigns_by_account_kind ON campaigns (account_id, kind, id);
    `,
  },
  {
    version: 9,
    name: 'campaign counts kept as recipients change',
    sql: `
      -- A campaign's progress, kept per campaign so that a read is one row, however many recipients
      -- it has. Triggers keep it: they run inside the statement that inserts or changes a recipient,
      -- so a count moves in the same transaction as the row it counts (a rolled-back write rolls
      -- back its counts too) and no write path can forget it. The duplicates stay on campaigns:
      -- they have no recipient row.
      CREATE TABLE campaign_counts (
        campaign_id TEXT PRIMARY KEY,
        total INTEGER NOT NULL DEFAULT 0,
        queued INTEGER NOT NULL DEFAULT 0,
        sent INTEGER NOT NULL DEFAULT 0,
        delivered INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        unknown INTEGER NOT NULL DEFAULT 0,
        skipped_opted_out INTEGER NOT NULL DEFAULT 0,
        skipped_invalid INTEGER NOT NULL DEFAULT 0,
        replies INTEGER NOT NULL DEFAULT 0
      ) STRICT, WITHOUT ROWID;

      CREATE TRIGGER campaign_counts_for_new_campaign AFTER INSERT ON campaigns BEGIN
        INSERT INTO campaign_counts (campaign_id) VALUES (NEW.id);
      END;

      CREATE TRIGGER campaign_counts_for_new_recipient AFTER INSERT ON campaign_recipients BEGIN
        UPDATE campaign_counts SET
          total = total + 1,
          queued = queued + (NEW.status = 'queued'),
          sent = sent + (NEW.status = 'sent'),
          delivered = delivered + (NEW.status = 'delivered'),
          failed = failed + (NEW.status = 'failed'),
          unknown = unknown + (NEW.status = 'unknown'),
          skipped_opted_out = skipped_opted_out + (NEW.status = 'skipped_opted_out'),
          skipped_invalid = skipped_invalid + (NEW.status = 'skipped_invalid'),
          replies = replies + (NEW.replied_at IS NOT NULL)
        WHERE campaign_id = NEW.campaign_id;
      END;

      -- A recipient's campaign and phone never change; its status and reply do.
      CREATE TRIGGER campaign_counts_for_changed_recipient AFTER UPDATE OF status, replied_at ON campaign_recipients
      WHEN OLD.status <> NEW.status OR (OLD.replied_at IS NULL) <> (NEW.replied_at IS NULL) BEGIN
        UPDATE campaign_counts SET
          queued = queued + (NEW.status = 'queued') - (OLD.status = 'queued'),
          sent = sent + (NEW.status = 'sent') - (OLD.status = 'sent'),
          delivered = delivered + (NEW.status = 'delivered') - (OLD.status = 'delivered'),
          failed = failed + (NEW.status = 'failed') - (OLD.status = 'failed'),
          unknown = unknown + (NEW.status = 'unknown') - (OLD.status = 'unknown'),
          skipped_opted_out = skipped_opted_out + (NEW.status = 'skipped_opted_out') - (OLD.status = 'skipped_opted_out'),
          skipped_invalid = skipped_invalid + (NEW.status = 'skipped_invalid') - (OLD.status = 'skipped_invalid'),
          replies = replies + (NEW.replied_at IS NOT NULL) - (OLD.replied_at IS NOT NULL)
        WHERE campaign_id = NEW.campaign_id;
      END;

      -- The campaigns stored before: counted once from their rows, in this step's transaction.
      INSERT INTO campaign_counts (campaign_id, total, queued, sent, delivered, failed, unknown, skipped_opted_out, skipped_invalid, replies)
      SELECT c.id, COUNT(r.phone),
        COUNT(r.phone) FILTER (WHERE r.status = 'queued'),
        COUNT(r.phone) FILTER (WHERE r.status = 'sent'),
        COUNT(r.phone) FILTER (WHERE r.status = 'delivered'),
        COUNT(r.phone) FILTER (WHERE r.status = 'failed'),
        COUNT(r.phone) FILTER (WHERE r.status = 'unknown'),
        COUNT(r.phone) FILTER (WHERE r.status = 'skipped_opted_out'),
        COUNT(r.phone) FILTER (WHERE r.status = 'skipped_invalid'),
        COUNT(r.replied_at)
      FROM campaigns c LEFT JOIN campaign_recipients r ON r.campaign_id = c.id
      GROUP BY c.id;

      -- This index served only the scan that counted a campaign, which no read does any more:
      -- one index less to write on every status change.
      DROP INDEX campaign_recipients_counts;
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS.at(-1)?.version ?? 0;

/** Brings the database to SCHEMA_VERSION; refuses a database written by a newer version. */
export function migrate(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS): number {
  const target = migrations.at(-1)?.version ?? 0;
  const readVersion = (): number => db.pragma('user_version', { simple: true }) as number;
  for (const step of migrations) {
    const apply = db.transaction(() => {
      // Read inside the write lock: another process may have applied the step meanwhile.
      const current = readVersion();
      if (current >= step.version) return;
      if (current !== step.version - 1) {
        throw new Error(`cannot apply migration ${step.version} (${step.name}) to schema version ${current}`);
      }
      db.exec(step.sql);
      db.pragma(`user_version = ${step.version}`);
    });
    apply.immediate();
  }
  const version = readVersion();
  if (version > target) {
    throw new Error(`the database has schema version ${version}, newer than this build's ${target}`);
  }
  return version;
}
