import Database from 'better-sqlite3';
import { WriteBatcher } from '../../store/sqlite/write-batcher.js';
import { preparePrivateDatabaseFile, type PermissionWarning } from '../../store/sqlite/private-file.js';

// The simulator's state in one SQLite file (WAL), so that a restart loses neither numbers nor
// applications nor webhooks still waiting for a retry. Every statement is prepared once here;
// callers see plain rows. The hot writes (an API send: its message and status-callback rows; a
// webhook attempt's outcome) go through `batch`: everything written in one turn of the event loop
// shares one transaction (the store's group commit), and the caller hears back only once it is
// committed. A COMMIT per send or per attempt cost more than the rest of the simulator together.

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS applications (
  app_id TEXT PRIMARY KEY,
  app_name TEXT NOT NULL UNIQUE,
  answer_url TEXT,
  answer_method TEXT NOT NULL DEFAULT 'POST',
  hangup_url TEXT,
  hangup_method TEXT NOT NULL DEFAULT 'POST',
  fallback_answer_url TEXT,
  fallback_method TEXT NOT NULL DEFAULT 'POST',
  message_url TEXT,
  message_method TEXT NOT NULL DEFAULT 'POST',
  default_number_app INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS numbers (
  number TEXT PRIMARY KEY,
  app_id TEXT,
  alias TEXT,
  added_on INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  uuid TEXT NOT NULL UNIQUE,
  direction TEXT NOT NULL,
  from_number TEXT NOT NULL,
  to_number TEXT NOT NULL,
  text TEXT NOT NULL,
  type TEXT NOT NULL,
  units INTEGER NOT NULL,
  total_rate TEXT NOT NULL,
  total_amount TEXT NOT NULL,
  callback_url TEXT,
  callback_method TEXT,
  created_at INTEGER NOT NULL,
  sent_at INTEGER,
  final_at INTEGER,
  final_state TEXT,
  error_code TEXT,
  inbound_state TEXT
);
CREATE INDEX IF NOT EXISTS messages_to ON messages (to_number, final_at);
CREATE TABLE IF NOT EXISTS opt_outs (
  our_number TEXT NOT NULL,
  handset TEXT NOT NULL,
  opted_out_at INTEGER NOT NULL,
  ack_sent INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (our_number, handset)
);
CREATE TABLE IF NOT EXISTS webhooks (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  ref TEXT NOT NULL,
  group_key TEXT NOT NULL,
  url TEXT NOT NULL,
  method TEXT NOT NULL,
  params TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending',
  last_status INTEGER,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  settled_at INTEGER
);
-- Only pending deliveries are indexed (a delivered one leaves the indexes), and only twice:
-- - by due time: the pump reads the due ones earliest first and stops at its limit, touching
--   neither the backlog not yet due (a campaign's later sent/delivered callbacks) nor the settled;
-- - by group: a later callback of a message waits while an earlier one is pending.
DROP INDEX IF EXISTS webhooks_pending;
DROP INDEX IF EXISTS webhooks_group;
DROP INDEX IF EXISTS webhooks_pending_by_id;
CREATE INDEX IF NOT EXISTS webhooks_due ON webhooks (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS webhooks_pending_group ON webhooks (group_key, id) WHERE state = 'pending';
`;

export interface ApplicationRow {
  app_id: string;
  app_name: string;
  answer_url: string | null;
  answer_method: string;
  hangup_url: string | null;
  hangup_method: string;
  fallback_answer_url: string | null;
  fallback_method: string;
  message_url: string | null;
  message_method: string;
  default_number_app: number;
  created_at: number;
}

export interface NumberRow {
  /** Plivo style: country code and digits, no '+'. */
  number: string;
  app_id: string | null;
  alias: string | null;
  added_on: number;
}

export interface MessageRow {
  seq: number;
  uuid: string;
  direction: 'inbound' | 'outbound';
  from_number: string;
  to_number: string;
  text: string;
  type: string;
  units: number;
  total_rate: string;
  total_amount: string;
  callback_url: string | null;
  callback_method: string | null;
  /** When it was queued (outbound) or received (inbound). */
  created_at: number;
  /** Outbound: when it reaches `sent` (null when it never does). */
  sent_at: number | null;
  /** Outbound: when it reaches its final state. */
  final_at: number | null;
  final_state: 'delivered' | 'failed' | 'undelivered' | null;
  error_code: string | null;
  /** Inbound: received → delivered (our webhook accepted it) or undelivered. */
  inbound_state: 'received' | 'delivered' | 'undelivered' | null;
}

export interface OptOutRow {
  our_number: string;
  handset: string;
  opted_out_at: number;
  /** 1 once the one acknowledgement allowed after the opt-out has gone out. */
  ack_sent: number;
}

export type WebhookKind = 'status' | 'inbound';

export interface WebhookRow {
  id: number;
  kind: WebhookKind;
  /** The message the webhook is about. */
  ref: string;
  /** Webhooks of one group are delivered one at a time, in id order. */
  group_key: string;
  url: string;
  method: 'GET' | 'POST';
  /** JSON object of string fields. */
  params: string;
  attempts: number;
  next_attempt_at: number;
  state: 'pending' | 'delivered' | 'failed';
  last_status: number | null;
  last_error: string | null;
  created_at: number;
  settled_at: number | null;
}

export type NewApplication = Omit<ApplicationRow, 'created_at'> & { created_at: number };
export type NewMessage = Omit<MessageRow, 'seq'>;
export type NewWebhook = Pick<WebhookRow, 'kind' | 'ref' | 'group_key' | 'url' | 'method' | 'next_attempt_at' | 'created_at'> & {
  params: Record<string, string>;
};

export interface MessageFilter {
  direction?: 'inbound' | 'outbound';
  limit: number;
  offset: number;
}

export class SimulatorDb {
  private readonly db: Database.Database;
  private readonly s;
  private readonly batcher: WriteBatcher;

  private constructor(db: Database.Database) {
    this.db = db;
    this.batcher = new WriteBatcher(db);
    this.s = {
      getMeta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      setMeta: db.prepare<[string, string]>('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),

      insertApp: db.prepare<[NewApplication]>(
        `INSERT INTO applications (app_id, app_name, answer_url, answer_method, hangup_url, hangup_method, fallback_answer_url,
           fallback_method, message_url, message_method, default_number_app, created_at)
         VALUES (@app_id, @app_name, @answer_url, @answer_method, @hangup_url, @hangup_method, @fallback_answer_url,
           @fallback_method, @message_url, @message_method, @default_number_app, @created_at)`,
      ),
      updateApp: db.prepare<[ApplicationRow]>(
        `UPDATE applications SET app_name = @app_name, answer_url = @answer_url, answer_method = @answer_method,
           hangup_url = @hangup_url, hangup_method = @hangup_method, fallback_answer_url = @fallback_answer_url,
           fallback_method = @fallback_method, message_url = @message_url, message_method = @message_method,
           default_number_app = @default_number_app
         WHERE app_id = @app_id`,
      ),
      getApp: db.prepare<[string], ApplicationRow>('SELECT * FROM applications WHERE app_id = ?'),
      appByName: db.prepare<[string], ApplicationRow>('SELECT * FROM applications WHERE app_name = ?'),
      listApps: db.prepare<[number, number], ApplicationRow>('SELECT * FROM applications ORDER BY created_at, app_id LIMIT ? OFFSET ?'),
      countApps: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM applications'),
      deleteApp: db.prepare<[string]>('DELETE FROM applications WHERE app_id = ?'),
      detachApp: db.prepare<[string]>('UPDATE numbers SET app_id = NULL WHERE app_id = ?'),
      defaultApp: db.prepare<[], ApplicationRow>('SELECT * FROM applications WHERE default_number_app = 1 ORDER BY created_at LIMIT 1'),
      clearDefaultApp: db.prepare<[string]>('UPDATE applications SET default_number_app = 0 WHERE app_id != ?'),

      insertNumber: db.prepare<[NumberRow]>('INSERT INTO numbers (number, app_id, alias, added_on) VALUES (@number, @app_id, @alias, @added_on)'),
      getNumber: db.prepare<[string], NumberRow>('SELECT * FROM numbers WHERE number = ?'),
      listNumbers: db.prepare<[string, number, number], NumberRow>(
        `SELECT * FROM numbers WHERE number LIKE ? || '%' ORDER BY added_on, number LIMIT ? OFFSET ?`,
      ),
      countNumbers: db.prepare<[string], { n: number }>(`SELECT COUNT(*) AS n FROM numbers WHERE number LIKE ? || '%'`),
      updateNumber: db.prepare<[{ number: string; app_id: string | null; alias: string | null }]>(
        'UPDATE numbers SET app_id = @app_id, alias = @alias WHERE number = @number',
      ),
      deleteNumber: db.prepare<[string]>('DELETE FROM numbers WHERE number = ?'),

      insertMessage: db.prepare<[NewMessage]>(
        `INSERT INTO messages (uuid, direction, from_number, to_number, text, type, units, total_rate, total_amount,
           callback_url, callback_method, created_at, sent_at, final_at, final_state, error_code, inbound_state)
         VALUES (@uuid, @direction, @from_number, @to_number, @text, @type, @units, @total_rate, @total_amount,
           @callback_url, @callback_method, @created_at, @sent_at, @final_at, @final_state, @error_code, @inbound_state)`,
      ),
      getMessage: db.prepare<[string], MessageRow>('SELECT * FROM messages WHERE uuid = ?'),
      listMessages: db.prepare<[string | null, string | null, number, number], MessageRow>(
        'SELECT * FROM messages WHERE (? IS NULL OR direction = ?) ORDER BY seq DESC LIMIT ? OFFSET ?',
      ),
      countMessages: db.prepare<[string | null, string | null], { n: number }>(
        'SELECT COUNT(*) AS n FROM messages WHERE (? IS NULL OR direction = ?)',
      ),
      setInboundState: db.prepare<[string, string]>('UPDATE messages SET inbound_state = ? WHERE uuid = ?'),
      received: db.prepare<[string, number], MessageRow>(
        `SELECT * FROM messages WHERE direction = 'outbound' AND to_number = ? AND final_state = 'delivered' AND final_at <= ?
         ORDER BY final_at, seq`,
      ),

      optOut: db.prepare<[string, string, number]>(
        'INSERT INTO opt_outs (our_number, handset, opted_out_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
      ),
      optIn: db.prepare<[string, string]>('DELETE FROM opt_outs WHERE our_number = ? AND handset = ?'),
      getOptOut: db.prepare<[string, string], OptOutRow>('SELECT * FROM opt_outs WHERE our_number = ? AND handset = ?'),
      markAckSent: db.prepare<[string, string]>('UPDATE opt_outs SET ack_sent = 1 WHERE our_number = ? AND handset = ?'),

      insertWebhook: db.prepare<[Omit<NewWebhook, 'params'> & { params: string }]>(
        `INSERT INTO webhooks (kind, ref, group_key, url, method, params, next_attempt_at, created_at)
         VALUES (@kind, @ref, @group_key, @url, @method, @params, @next_attempt_at, @created_at)`,
      ),
      getWebhook: db.prepare<[number], WebhookRow>('SELECT * FROM webhooks WHERE id = ?'),
      // Due (earliest first), and the oldest pending webhook of its group: a later status callback
      // waits for an earlier one still being retried, so callbacks reach the app in Sequence order.
      // Those in flight (pending until their attempt is recorded) are left out here, not read and
      // skipped: the sender asks after every delivery, with up to 64 of them in flight.
      dueWebhooks: db.prepare<[number, string, number], WebhookRow>(
        `SELECT * FROM webhooks w INDEXED BY webhooks_due WHERE w.state = 'pending' AND w.next_attempt_at <= ?
           AND w.id NOT IN (SELECT value FROM json_each(?))
           AND NOT EXISTS (SELECT 1 FROM webhooks e INDEXED BY webhooks_pending_group
                           WHERE e.group_key = w.group_key AND e.state = 'pending' AND e.id < w.id)
         ORDER BY w.next_attempt_at, w.id LIMIT ?`,
      ),
      nextWebhookAt: db.prepare<[number], { at: number | null }>(
        `SELECT MIN(next_attempt_at) AS at FROM webhooks WHERE state = 'pending' AND next_attempt_at > ?`,
      ),
      pendingWebhooks: db.prepare<[], WebhookRow>(`SELECT * FROM webhooks WHERE state = 'pending' ORDER BY id`),
      recordAttempt: db.prepare<
        [{ id: number; attempts: number; state: string; last_status: number | null; last_error: string | null; next_attempt_at: number; settled_at: number | null }]
      >(
        `UPDATE webhooks SET attempts = @attempts, state = @state, last_status = @last_status, last_error = @last_error,
           next_attempt_at = @next_attempt_at, settled_at = @settled_at WHERE id = @id`,
      ),
      webhooksFor: db.prepare<[string], WebhookRow>('SELECT * FROM webhooks WHERE ref = ? ORDER BY id'),
    };
  }

  static open(file: string, warn?: PermissionWarning): SimulatorDb {
    // It holds the simulator's auth token, with which anyone can sign webhooks.
    preparePrivateDatabaseFile(file, warn);
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    // Batched ops each run in a SAVEPOINT: their statement journal stays in memory (see sqlite-store.ts).
    db.pragma('temp_store = MEMORY');
    db.pragma('busy_timeout = 2000');
    db.exec(SCHEMA);
    // Files written before opt_outs.ack_sent existed.
    const optOutColumns = db.prepare<[], { name: string }>('PRAGMA table_info(opt_outs)').all();
    if (!optOutColumns.some((c) => c.name === 'ack_sent')) db.exec('ALTER TABLE opt_outs ADD COLUMN ack_sent INTEGER NOT NULL DEFAULT 0');
    const version = db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'schema_version'").get();
    if (version && Number(version.value) > SCHEMA_VERSION) {
      db.close();
      throw new Error(`${file} was written by a newer simulator (schema ${version.value})`);
    }
    db.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(
      String(SCHEMA_VERSION),
    );
    return new SimulatorDb(db);
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /**
   * Runs `fn` (synchronous writes) in the transaction shared by every `batch` of this turn of the
   * event loop, in its own savepoint (a throw undoes only its own writes and rejects only its own
   * promise); resolves once that transaction has committed.
   */
  batch<T>(fn: () => T): Promise<T> {
    return this.batcher.run(fn);
  }

  close(): void {
    if (!this.db.open) return;
    this.batcher.close();
    this.db.close();
  }

  getMeta(key: string): string | undefined {
    return this.s.getMeta.get(key)?.value;
  }
  setMeta(key: string, value: string): void {
    this.s.setMeta.run(key, value);
  }

  insertApplication(row: NewApplication): void {
    this.s.insertApp.run(row);
    if (row.default_number_app) this.s.clearDefaultApp.run(row.app_id);
  }
  updateApplication(row: ApplicationRow): void {
    this.s.updateApp.run(row);
    if (row.default_number_app) this.s.clearDefaultApp.run(row.app_id);
  }
  getApplication(appId: string): ApplicationRow | undefined {
    return this.s.getApp.get(appId);
  }
  applicationByName(name: string): ApplicationRow | undefined {
    return this.s.appByName.get(name);
  }
  defaultApplication(): ApplicationRow | undefined {
    return this.s.defaultApp.get();
  }
  listApplications(limit: number, offset: number): { rows: ApplicationRow[]; total: number } {
    return { rows: this.s.listApps.all(limit, offset), total: this.s.countApps.get()?.n ?? 0 };
  }
  deleteApplication(appId: string): boolean {
    return this.transaction(() => {
      this.s.detachApp.run(appId);
      return this.s.deleteApp.run(appId).changes > 0;
    });
  }

  insertNumber(row: NumberRow): void {
    this.s.insertNumber.run(row);
  }
  getNumber(number: string): NumberRow | undefined {
    return this.s.getNumber.get(number);
  }
  listNumbers(startsWith: string, limit: number, offset: number): { rows: NumberRow[]; total: number } {
    return { rows: this.s.listNumbers.all(startsWith, limit, offset), total: this.s.countNumbers.get(startsWith)?.n ?? 0 };
  }
  updateNumber(row: { number: string; app_id: string | null; alias: string | null }): void {
    this.s.updateNumber.run(row);
  }
  deleteNumber(number: string): boolean {
    return this.s.deleteNumber.run(number).changes > 0;
  }

  insertMessage(row: NewMessage): void {
    this.s.insertMessage.run(row);
  }
  getMessage(uuid: string): MessageRow | undefined {
    return this.s.getMessage.get(uuid);
  }
  listMessages(filter: MessageFilter): { rows: MessageRow[]; total: number } {
    const d = filter.direction ?? null;
    return { rows: this.s.listMessages.all(d, d, filter.limit, filter.offset), total: this.s.countMessages.get(d, d)?.n ?? 0 };
  }
  setInboundState(uuid: string, state: NonNullable<MessageRow['inbound_state']>): void {
    this.s.setInboundState.run(state, uuid);
  }
  /** Outbound messages delivered to `handset` by `now`, oldest first. */
  receivedBy(handset: string, now: number): MessageRow[] {
    return this.s.received.all(handset, now);
  }

  optOut(ourNumber: string, handset: string, at: number): void {
    this.s.optOut.run(ourNumber, handset, at);
  }
  optIn(ourNumber: string, handset: string): void {
    this.s.optIn.run(ourNumber, handset);
  }
  getOptOut(ourNumber: string, handset: string): OptOutRow | undefined {
    return this.s.getOptOut.get(ourNumber, handset);
  }
  markAckSent(ourNumber: string, handset: string): void {
    this.s.markAckSent.run(ourNumber, handset);
  }

  insertWebhook(w: NewWebhook): number {
    return Number(this.s.insertWebhook.run({ ...w, params: JSON.stringify(w.params) }).lastInsertRowid);
  }
  getWebhook(id: number): WebhookRow | undefined {
    return this.s.getWebhook.get(id);
  }
  /** The first `limit` deliveries due (earliest due first) but those of `except`, one per group: later ones of a group wait their turn. */
  dueWebhooks(now: number, limit: number, except: Iterable<number> = []): WebhookRow[] {
    return this.s.dueWebhooks.all(now, JSON.stringify([...except]), limit);
  }
  nextWebhookAt(after: number): number | null {
    return this.s.nextWebhookAt.get(after)?.at ?? null;
  }
  pendingWebhooks(): WebhookRow[] {
    return this.s.pendingWebhooks.all();
  }
  webhooksFor(ref: string): WebhookRow[] {
    return this.s.webhooksFor.all(ref);
  }
  recordAttempt(update: {
    id: number;
    attempts: number;
    state: WebhookRow['state'];
    last_status: number | null;
    last_error: string | null;
    next_attempt_at: number;
    settled_at: number | null;
  }): void {
    this.s.recordAttempt.run(update);
  }
}
