import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { systemClock, type Clock } from '../../clock.js';
import { AppError } from '../../errors.js';
import { silentLogger, type Logger } from '../../logger.js';
import { messageIntent, type MessageIntent } from './message-intent.js';
import type { OutboundState } from './message-state.js';
import { isLocalUsNumber, normalisePattern, searchInventory, type InventoryNumber } from './number-inventory.js';
import { badParam, notFoundResource } from './plivo-api-error.js';
import { callbackTime, e164FromDigits, money, plivoDigits } from './plivo-format.js';
import { PlivoApi } from './plivo-api.js';
import { messageUuid } from './message-uuid.js';
import { childElements, parseXml, textOf } from './xml-reader.js';
import { SimulatorDb, type ApplicationRow, type MessageRow, type NumberRow, type WebhookRow } from './simulator-db.js';
import { isTooLong, measureText } from './sms-units.js';
import { answerCall, type CallResult } from './voice.js';
import { WEBHOOK_TIMEOUT_MS, WebhookSender, type AttemptOutcome } from './webhook-sender.js';

// A stand-in for Plivo that keeps its state in SQLite. Framework-free: the Plivo REST API is
// `sim.api` (requests in, `{status, body}` out) and the handset controls are plain methods; the
// HTTP routes live in gateways/simulator/. One account: V3/V2 and the Ma- variants are all signed
// with its token.

export interface PlivoSimulatorOptions {
  /** The database goes to `<dataDir>/simulator.db` (unless `file` is given). */
  dataDir?: string;
  file?: string;
  clock?: Clock;
  log?: Logger;
  /** Multiplies the webhook retry delays (+60/+120/+240 s); 0 retries at once. */
  retryScale?: number;
  /** Time from queued to delivered for outbound messages (sent is at half of it). */
  deliveryDelayMs?: number;
  /** Fixed credentials; otherwise generated on first start and kept in the database. */
  authId?: string;
  authToken?: string;
  webhookTimeoutMs?: number;
}

export interface SendMessageInput {
  src?: string | undefined;
  dst?: string | undefined;
  text?: string | undefined;
  type?: string | undefined;
  url?: string | undefined;
  method?: string | undefined;
  powerpackUuid?: string | undefined;
}

export interface NumberSearchInput {
  countryIso: string;
  type?: string | undefined;
  pattern?: string | undefined;
  npanxx?: string | undefined;
  services?: string | undefined;
  limit: number;
  offset: number;
}

export interface ApplicationFields {
  app_name?: string | undefined;
  answer_url?: string | null | undefined;
  answer_method?: string | undefined;
  hangup_url?: string | null | undefined;
  hangup_method?: string | undefined;
  fallback_answer_url?: string | null | undefined;
  fallback_method?: string | undefined;
  message_url?: string | null | undefined;
  message_method?: string | undefined;
  default_number_app?: boolean | undefined;
}

export type InboundDeliveryState = 'delivered' | 'retrying' | 'undelivered' | 'received';

export interface TextInResult {
  messageUuid: string;
  from: string;
  to: string;
  intent: MessageIntent;
  units: number;
  /** What happened to the webhook: delivered (2xx), retrying, undelivered (retries exhausted), received (no message_url). */
  delivery: {
    state: InboundDeliveryState;
    attempts: number;
    status: number | null;
    error: string | null;
    nextAttemptAt: string | null;
  };
}

export interface HandsetMessage {
  messageUuid: string;
  from: string;
  to: string;
  text: string;
  units: number;
  receivedAt: string;
}

const OUTBOUND_RATE = 0.005;
const INBOUND_RATE = 0;
export const DND_ERROR_CODE = '200';
export const OPT_OUT_ACK_WINDOW_MS = 5 * 60_000;
const DEFAULT_DELIVERY_DELAY_MS = 250;
/** Sends whose fields status callbacks find in memory: seconds of sends at thousands per second, a few MB. */
const RECENT_SENDS = 8_192;

function invalidField(path: string, message: string): AppError {
  return new AppError('validation_failed', `${path}: ${message}`, { details: [{ path, message }] });
}

/** Strict E.164 for the handset controls: "+16175550123", a number that exists. */
function handsetNumber(path: string, value: string): string {
  if (!/^\+[1-9]\d{6,14}$/.test(value)) throw invalidField(path, 'must be an E.164 number such as +16175550123');
  const parsed = parsePhoneNumberFromString(value);
  if (!parsed || !parsed.isValid()) throw invalidField(path, 'is not a valid phone number');
  return parsed.number.slice(1);
}

function method(value: string | undefined, field: string): 'GET' | 'POST' {
  if (value === undefined || value === '') return 'POST';
  const m = value.toUpperCase();
  if (m !== 'GET' && m !== 'POST') throw badParam(`${field} must be GET or POST`);
  return m;
}

function httpUrl(value: string | null | undefined, field: string): string | null {
  if (value === undefined || value === null || value === '') return null;
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw badParam(`${field} is not a valid URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw badParam(`${field} must be an http or https URL`);
  return value;
}

function generateAuthId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  let out = 'MA';
  for (let i = 0; i < 18; i++) out += alphabet[randomInt(alphabet.length)]!;
  return out;
}

export class PlivoSimulator {
  readonly api: PlivoApi;
  readonly credentials: { readonly authId: string; readonly authToken: string };
  private readonly sender: WebhookSender;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly deliveryDelayMs: number;
  private readonly webhookTimeoutMs: number;
  private closed = false;
  /**
   * The latest outbound messages with status callbacks, by uuid, so that a callback going out
   * within moments of its send (the `queued` one always) finds the message's fields without a
   * read. Only a cache: outbound rows never change once written, and a miss reads the row.
   */
  private readonly recentSends = new Map<string, MessageRow>();

  private constructor(
    private readonly db: SimulatorDb,
    options: PlivoSimulatorOptions,
    credentials: { authId: string; authToken: string },
  ) {
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? silentLogger;
    this.deliveryDelayMs = options.deliveryDelayMs ?? DEFAULT_DELIVERY_DELAY_MS;
    this.webhookTimeoutMs = options.webhookTimeoutMs ?? WEBHOOK_TIMEOUT_MS;
    this.credentials = credentials;
    const signing = { authToken: credentials.authToken, mainAuthToken: credentials.authToken };
    this.sender = new WebhookSender({
      db,
      clock: this.clock,
      log: this.log,
      signing,
      retryScale: options.retryScale ?? 1,
      timeoutMs: this.webhookTimeoutMs,
      formOf: (row, stored) => (row.kind === 'status' ? this.statusCallbackParams(row.ref, stored) : stored),
    });
    this.sender.onAttempt((o) => this.afterAttempt(o));
    this.api = new PlivoApi(this);
  }

  /** Opens (or creates) the simulator's database and resumes pending webhooks. */
  static async open(options: PlivoSimulatorOptions): Promise<PlivoSimulator> {
    const file = options.file ?? (options.dataDir !== undefined ? join(options.dataDir, 'simulator.db') : undefined);
    if (file === undefined) throw new Error('PlivoSimulator needs dataDir or file');
    const log = options.log ?? silentLogger;
    const db = SimulatorDb.open(file, (details, message) => log.warn(details, message));
    try {
      const authId = options.authId ?? db.getMeta('auth_id') ?? generateAuthId();
      const authToken = options.authToken ?? db.getMeta('auth_token') ?? randomBytes(30).toString('base64url');
      db.setMeta('auth_id', authId);
      db.setMeta('auth_token', authToken);
      const sim = new PlivoSimulator(db, options, { authId, authToken });
      sim.sender.start();
      const pending = sim.sender.pending().length;
      sim.log.info({ file, authId, pendingWebhooks: pending }, 'Plivo simulator ready');
      return sim;
    } catch (e) {
      db.close();
      throw e;
    }
  }

  get authId(): string {
    return this.credentials.authId;
  }

  get authToken(): string {
    return this.credentials.authToken;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.sender.close();
    this.db.close();
  }

  now(): number {
    return this.clock.now();
  }

  // ---- messages -------------------------------------------------------------------------------

  /**
   * sendMessage for the API: the sends of one turn of the event loop share one transaction, and
   * each answers once it is committed (what the API accepted is recorded, and so are its callbacks).
   */
  sendMessageCommitted(input: SendMessageInput): Promise<{ messageUuids: string[]; invalidNumbers: string[] }> {
    return this.db.batch(() => this.sendMessage(input));
  }

  sendMessage(input: SendMessageInput): { messageUuids: string[]; invalidNumbers: string[] } {
    if (input.powerpackUuid) throw badParam('powerpack_uuid is not supported by the simulator; use src');
    if (!input.src) throw badParam('src parameter is required');
    if (!input.dst) throw badParam('dst parameter is required');
    const type = input.type ?? 'sms';
    if (type !== 'sms') throw badParam(`type ${type} is not supported by the simulator (sms only)`);
    const text = input.text;
    if (text === undefined || text === '') throw badParam('text parameter is required');
    const size = measureText(text);
    if (isTooLong(size)) throw badParam('text is longer than 1600 GSM or 737 Unicode characters');
    const src = plivoDigits(input.src);
    if (src === null) throw badParam('src is not a valid phone number');
    if (!this.db.getNumber(src)) throw badParam('src is not a number of this account');
    const callbackUrl = httpUrl(input.url, 'url');
    const callbackMethod = method(input.method, 'method');

    const valid: string[] = [];
    const invalidNumbers: string[] = [];
    for (const raw of input.dst.split('<')) {
      const digits = plivoDigits(raw);
      if (digits !== null && parsePhoneNumberFromString(`+${digits}`)?.isValid()) {
        if (!valid.includes(digits)) valid.push(digits);
      } else if (raw.trim() !== '') {
        invalidNumbers.push(raw.trim());
      }
    }
    if (valid.length === 0) throw badParam('dst contains no valid destination number');

    const t0 = this.clock.now();
    const sentAt = t0 + Math.floor(this.deliveryDelayMs / 2);
    const deliveredAt = t0 + this.deliveryDelayMs;
    const messageUuids = this.db.transaction(() =>
      valid.map((dst) => {
        const uuid = messageUuid(t0);
        const blocked = this.blockedByOptOut(src, dst, t0);
        const row: Omit<MessageRow, 'seq'> = {
          uuid,
          direction: 'outbound',
          from_number: src,
          to_number: dst,
          text,
          type: 'sms',
          units: size.units,
          total_rate: money(OUTBOUND_RATE),
          total_amount: money(blocked ? 0 : OUTBOUND_RATE * size.units),
          callback_url: callbackUrl,
          callback_method: callbackMethod,
          created_at: t0,
          sent_at: blocked ? null : sentAt,
          final_at: blocked ? sentAt : deliveredAt,
          final_state: blocked ? 'failed' : 'delivered',
          error_code: blocked ? DND_ERROR_CODE : null,
          inbound_state: null,
        };
        this.db.insertMessage(row);
        if (callbackUrl !== null) {
          const sent = { ...row, seq: 0 };
          this.rememberSend(sent);
          this.scheduleStatusCallbacks(sent);
        }
        return uuid;
      }),
    );
    this.log.debug({ count: messageUuids.length, invalid: invalidNumbers.length }, 'simulator accepted a send');
    return { messageUuids, invalidNumbers };
  }

  // DND (plivo.md §9): after a STOP, sends from that number to that phone fail with error 200 —
  // except one acknowledgement within 5 minutes of the STOP, which the app may still send.
  private blockedByOptOut(src: string, dst: string, now: number): boolean {
    const o = this.db.getOptOut(src, dst);
    if (!o) return false;
    if (o.ack_sent === 0 && now - o.opted_out_at <= OPT_OUT_ACK_WINDOW_MS) {
      this.db.markAckSent(src, dst);
      return false;
    }
    return true;
  }

  // Each status change is its own webhook, due when the change happens; Sequence orders them. Its
  // row keeps only what the step adds (status, sequence, error, its times): the message's own
  // fields are read from its row when the callback goes out (statusCallbackParams). A send's three
  // rows are written in the send's transaction, and at a few hundred bytes each instead of a
  // kilobyte they were a large part of what the simulator wrote per text.
  private scheduleStatusCallbacks(m: MessageRow): void {
    const steps: Array<{ status: OutboundState; at: number }> = [{ status: 'queued', at: m.created_at }];
    if (m.sent_at !== null) steps.push({ status: 'sent', at: m.sent_at });
    if (m.final_state !== null && m.final_at !== null) steps.push({ status: m.final_state, at: m.final_at });
    steps.forEach((step, i) => {
      const failed = step.status === 'failed' || step.status === 'undelivered';
      const params: Record<string, string> = {
        Status: step.status,
        Sequence: String(i + 1),
        ErrorCode: failed ? (m.error_code ?? '') : '',
      };
      if (step.status === 'sent' || step.status === 'delivered') params['SentTime'] = callbackTime(m.sent_at ?? step.at);
      if (step.status === 'delivered' || failed) params['DeliveryReportTime'] = callbackTime(step.at);
      this.sender.enqueue({
        kind: 'status',
        ref: m.uuid,
        groupKey: m.uuid,
        url: m.callback_url!,
        method: (m.callback_method ?? 'POST') as 'GET' | 'POST',
        params,
        dueAt: step.at,
      });
    });
  }

  private rememberSend(m: MessageRow): void {
    this.recentSends.set(m.uuid, m);
    // Oldest first out: a Map iterates in insertion order.
    if (this.recentSends.size > RECENT_SENDS) this.recentSends.delete(this.recentSends.keys().next().value!);
  }

  /**
   * A status callback's form as Plivo sends it: the message's fields around what its row keeps.
   * Rows written before they were kept short carry the whole form already, and go out as they are.
   */
  private statusCallbackParams(ref: string, stored: Record<string, string>): Record<string, string> {
    if (stored['MessageUUID'] !== undefined) return stored;
    const m = this.recentSends.get(ref) ?? this.db.getMessage(ref);
    // Gone (the database was edited by hand): what the row has is all there is to send.
    if (!m) return { MessageUUID: ref, ...stored };
    const { Status = '', Sequence = '', ErrorCode = '', ...times } = stored;
    return {
      MessageUUID: m.uuid,
      ParentMessageUUID: m.uuid,
      PartInfo: '',
      From: m.from_number,
      To: m.to_number,
      Type: m.type,
      Status,
      Sequence,
      ErrorCode,
      Units: String(m.units),
      TotalRate: m.total_rate,
      TotalAmount: m.total_amount,
      MCC: '310',
      MNC: '410',
      MessageTime: callbackTime(m.created_at),
      QueuedTime: callbackTime(m.created_at),
      PowerpackUUID: '',
      requester_ip: '127.0.0.1',
      ...times,
    };
  }

  getMessage(uuid: string): MessageRow {
    const m = this.db.getMessage(uuid);
    if (!m) throw notFoundResource('Message not found');
    return m;
  }

  listMessages(filter: { direction?: 'inbound' | 'outbound'; limit: number; offset: number }): { rows: MessageRow[]; total: number } {
    return this.db.listMessages(filter);
  }

  // ---- numbers --------------------------------------------------------------------------------

  searchNumbers(q: NumberSearchInput): InventoryNumber[] {
    if (!q.countryIso) throw badParam('country_iso parameter is required');
    const type = (q.type ?? 'local').toLowerCase();
    // The simulator stocks US local numbers only; other searches find nothing, as an empty region would.
    if (q.countryIso.toUpperCase() !== 'US' || !['local', 'any', 'fixed', 'mobile'].includes(type)) return [];
    const services = (q.services ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
    if (services.some((s) => !['voice', 'sms', 'mms'].includes(s))) throw badParam('services must combine voice, sms and mms');
    const raw = q.npanxx ?? q.pattern ?? '';
    if (q.npanxx !== undefined && !/^\d{6}$/.test(q.npanxx)) throw badParam('npanxx must be 6 digits');
    const pattern = normalisePattern(raw);
    if (pattern === null) throw badParam('pattern must be digits');
    return searchInventory({ pattern, limit: q.limit, offset: q.offset, isOwned: (n) => this.db.getNumber(n) !== undefined });
  }

  buyNumber(number: string, appId: string | undefined): NumberRow {
    const digits = plivoDigits(number);
    if (digits === null || !isLocalUsNumber(digits) || this.db.getNumber(digits)) {
      throw notFoundResource('Phone number is not available for purchase');
    }
    const app = appId ? this.db.getApplication(appId) : this.db.defaultApplication();
    if (appId && !app) throw badParam('app_id is not an application of this account');
    const row: NumberRow = { number: digits, app_id: app?.app_id ?? null, alias: null, added_on: this.clock.now() };
    this.db.insertNumber(row);
    this.log.debug({ appId: row.app_id }, 'simulator rented a number');
    return row;
  }

  getNumber(number: string): NumberRow {
    const row = this.db.getNumber(plivoDigits(number) ?? number);
    if (!row) throw notFoundResource('Number not found');
    return row;
  }

  listNumbers(q: { startsWith: string; limit: number; offset: number }): { rows: NumberRow[]; total: number } {
    return this.db.listNumbers(q.startsWith.replace(/\D/g, ''), q.limit, q.offset);
  }

  updateNumber(number: string, changes: { appId?: string | null | undefined; alias?: string | undefined }): NumberRow {
    const row = this.getNumber(number);
    let appId = row.app_id;
    if (changes.appId !== undefined) {
      if (changes.appId === null || changes.appId === '' || changes.appId === 'null') appId = null;
      else if (!this.db.getApplication(changes.appId)) throw badParam('app_id is not an application of this account');
      else appId = changes.appId;
    }
    const updated = { ...row, app_id: appId, alias: changes.alias ?? row.alias };
    this.db.updateNumber(updated);
    return updated;
  }

  releaseNumber(number: string): void {
    const row = this.getNumber(number);
    this.db.deleteNumber(row.number);
  }

  // ---- applications ---------------------------------------------------------------------------

  createApplication(f: ApplicationFields): ApplicationRow {
    const name = f.app_name;
    if (!name) throw badParam('app_name parameter is required');
    this.checkAppName(name);
    if (this.db.applicationByName(name)) throw badParam('An application with this app_name already exists');
    let appId: string;
    do appId = `${randomInt(100_000_000, 999_999_999)}${randomInt(100_000_000, 999_999_999)}`;
    while (this.db.getApplication(appId));
    const answerUrl = httpUrl(f.answer_url, 'answer_url');
    const row: ApplicationRow = {
      app_id: appId,
      app_name: name,
      answer_url: answerUrl,
      answer_method: method(f.answer_method, 'answer_method'),
      hangup_url: httpUrl(f.hangup_url, 'hangup_url') ?? answerUrl,
      hangup_method: method(f.hangup_method, 'hangup_method'),
      fallback_answer_url: httpUrl(f.fallback_answer_url, 'fallback_answer_url'),
      fallback_method: method(f.fallback_method, 'fallback_method'),
      message_url: httpUrl(f.message_url, 'message_url'),
      message_method: method(f.message_method, 'message_method'),
      default_number_app: f.default_number_app ? 1 : 0,
      created_at: this.clock.now(),
    };
    this.db.insertApplication(row);
    return row;
  }

  getApplication(appId: string): ApplicationRow {
    const row = this.db.getApplication(appId);
    if (!row) throw notFoundResource('Application not found');
    return row;
  }

  listApplications(limit: number, offset: number): { rows: ApplicationRow[]; total: number } {
    return this.db.listApplications(limit, offset);
  }

  updateApplication(appId: string, f: ApplicationFields): ApplicationRow {
    const row = this.getApplication(appId);
    if (f.app_name !== undefined && f.app_name !== row.app_name) {
      this.checkAppName(f.app_name);
      if (this.db.applicationByName(f.app_name)) throw badParam('An application with this app_name already exists');
    }
    const pick = (v: string | null | undefined, field: string, current: string | null): string | null =>
      v === undefined ? current : httpUrl(v, field);
    const pickMethod = (v: string | undefined, field: string, current: string): string => (v === undefined ? current : method(v, field));
    const updated: ApplicationRow = {
      ...row,
      app_name: f.app_name ?? row.app_name,
      answer_url: pick(f.answer_url, 'answer_url', row.answer_url),
      answer_method: pickMethod(f.answer_method, 'answer_method', row.answer_method),
      hangup_url: pick(f.hangup_url, 'hangup_url', row.hangup_url),
      hangup_method: pickMethod(f.hangup_method, 'hangup_method', row.hangup_method),
      fallback_answer_url: pick(f.fallback_answer_url, 'fallback_answer_url', row.fallback_answer_url),
      fallback_method: pickMethod(f.fallback_method, 'fallback_method', row.fallback_method),
      message_url: pick(f.message_url, 'message_url', row.message_url),
      message_method: pickMethod(f.message_method, 'message_method', row.message_method),
      default_number_app: f.default_number_app === undefined ? row.default_number_app : f.default_number_app ? 1 : 0,
    };
    this.db.updateApplication(updated);
    return updated;
  }

  deleteApplication(appId: string): void {
    if (!this.db.deleteApplication(appId)) throw notFoundResource('Application not found');
  }

  private checkAppName(name: string): void {
    if (!/^[A-Za-z0-9_-]{1,100}$/.test(name)) throw badParam('app_name may contain only letters, digits, hyphens and underscores');
  }

  // ---- the handset side -----------------------------------------------------------------------

  /** A phone texts one of our numbers: Plivo's inbound webhook to the number's application. */
  async textIn(input: { from: string; to: string; text: string }): Promise<TextInResult> {
    const from = handsetNumber('from', input.from);
    const to = handsetNumber('to', input.to);
    if (typeof input.text !== 'string' || input.text.trim() === '') throw invalidField('text', 'must not be empty');
    const size = measureText(input.text);
    if (isTooLong(size)) throw invalidField('text', 'is longer than 1600 GSM or 737 Unicode characters');
    const number = this.db.getNumber(to);
    if (!number) throw new AppError('not_found', `${e164FromDigits(to)} is not a number rented from the simulator`);

    const intent = messageIntent(input.text);
    const now = this.clock.now();
    if (intent === 'optout') this.db.optOut(to, from, now);
    if (intent === 'optin') this.db.optIn(to, from);

    const uuid = messageUuid(now);
    this.db.insertMessage({
      uuid,
      direction: 'inbound',
      from_number: from,
      to_number: to,
      text: input.text,
      type: 'sms',
      units: size.units,
      total_rate: money(INBOUND_RATE),
      total_amount: money(INBOUND_RATE * size.units),
      callback_url: null,
      callback_method: null,
      created_at: now,
      sent_at: null,
      final_at: null,
      final_state: null,
      error_code: null,
      inbound_state: 'received',
    });
    const base = { messageUuid: uuid, from: e164FromDigits(from), to: e164FromDigits(to), intent, units: size.units };
    const app = number.app_id ? this.db.getApplication(number.app_id) : undefined;
    if (!app?.message_url) {
      return { ...base, delivery: { state: 'received', attempts: 0, status: null, error: 'the number has no application with a message_url', nextAttemptAt: null } };
    }
    const id = this.sender.enqueue({
      kind: 'inbound',
      ref: uuid,
      groupKey: uuid,
      url: app.message_url,
      method: app.message_method === 'GET' ? 'GET' : 'POST',
      params: {
        From: from,
        To: to,
        Text: input.text,
        Type: 'sms',
        MessageUUID: uuid,
        Units: String(size.units),
        TotalRate: money(INBOUND_RATE),
        TotalAmount: money(INBOUND_RATE * size.units),
        MessageIntent: intent,
        PowerpackUUID: '',
      },
    });
    const outcome = await this.sender.nextAttempt(id);
    if (!outcome) {
      return { ...base, delivery: { state: 'retrying', attempts: 0, status: null, error: 'the simulator shut down', nextAttemptAt: null } };
    }
    return {
      ...base,
      delivery: {
        state: outcome.ok ? 'delivered' : outcome.settled ? 'undelivered' : 'retrying',
        attempts: outcome.attempt,
        status: outcome.status,
        error: outcome.error,
        nextAttemptAt: outcome.nextAttemptAt === null ? null : new Date(outcome.nextAttemptAt).toISOString(),
      },
    };
  }

  /** What `handset` (E.164) has received from our numbers, oldest first. */
  inbox(handset: string): HandsetMessage[] {
    const digits = handsetNumber('number', handset);
    return this.db.receivedBy(digits, this.clock.now()).map((m) => ({
      messageUuid: m.uuid,
      from: e164FromDigits(m.from_number),
      to: e164FromDigits(m.to_number),
      text: m.text,
      units: m.units,
      receivedAt: new Date(m.final_at ?? m.created_at).toISOString(),
    }));
  }

  /** A phone calls one of our numbers: the application's answer_url decides what happens. */
  async placeCall(input: { from: string; to: string }): Promise<CallResult> {
    const from = handsetNumber('from', input.from);
    const to = handsetNumber('to', input.to);
    const number = this.db.getNumber(to);
    if (!number) throw new AppError('not_found', `${e164FromDigits(to)} is not a number rented from the simulator`);
    const app = number.app_id ? this.db.getApplication(number.app_id) : undefined;
    if (!app?.answer_url) {
      return {
        callUuid: randomUUID(),
        from: e164FromDigits(from),
        to: e164FromDigits(to),
        status: 'failed',
        answerUrl: '',
        httpStatus: null,
        actions: [],
        dial: null,
        error: 'the number has no application with an answer_url',
      };
    }
    return answerCall({
      answerUrl: app.answer_url,
      answerMethod: app.answer_method === 'GET' ? 'GET' : 'POST',
      from,
      to,
      signing: { authToken: this.credentials.authToken, mainAuthToken: this.credentials.authToken },
      clock: this.clock,
      timeoutMs: this.webhookTimeoutMs,
    });
  }

  // ---- observation (tests, diagnostics) -------------------------------------------------------

  /** Every webhook attempt's outcome, as it happens; returns the unsubscribe function. */
  onWebhookAttempt(listener: (o: AttemptOutcome) => void): () => void {
    return this.sender.onAttempt(listener);
  }

  pendingWebhooks(): WebhookRow[] {
    return this.sender.pending();
  }

  webhooksFor(messageUuid: string): WebhookRow[] {
    return this.db.webhooksFor(messageUuid);
  }

  isOptedOut(ourNumber: string, handset: string): boolean {
    return this.db.getOptOut(ourNumber.replace(/^\+/, ''), handset.replace(/^\+/, '')) !== undefined;
  }

  private afterAttempt(o: AttemptOutcome): void {
    // Runs before the sender's close() resolves, so the database is still open here.
    if (o.kind !== 'inbound') return;
    if (o.ok) this.db.setInboundState(o.ref, 'delivered');
    else if (o.settled) this.db.setInboundState(o.ref, 'undelivered');
    if (o.ok && o.attempt >= 1) this.replyFromXml(o);
  }

  // An inbound webhook may answer with <Response><Message src dst>text</Message></Response>;
  // Plivo sends those messages (plivo.md §2).
  private replyFromXml(o: AttemptOutcome): void {
    const body = o.responseBody.trim();
    if (!body.startsWith('<')) return;
    try {
      const root = parseXml(body);
      if (root.name !== 'Response') return;
      for (const el of childElements(root)) {
        if (el.name !== 'Message') continue;
        this.sendMessage({
          src: el.attributes['src'],
          dst: el.attributes['dst'],
          text: textOf(el),
          url: el.attributes['callbackUrl'],
          method: el.attributes['callbackMethod'],
        });
      }
    } catch (e) {
      this.log.debug({ err: e, messageUuid: o.ref }, 'simulator ignored an unusable XML reply');
    }
  }
}
