import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { InventoryNumber } from './number-inventory.js';
import { PlivoApiError, badParam } from './plivo-api-error.js';
import { recordDate, recordTime } from './plivo-format.js';
import { outboundState } from './message-state.js';
import type { ApplicationFields, PlivoSimulator } from './plivo-simulator.js';
import type { ApplicationRow, MessageRow, NumberRow } from './simulator-db.js';

// The simulator's Plivo REST API, without HTTP: a request (already routed to an operation) in,
// Plivo's status and JSON body out. It does what Plivo's edge does (Basic auth, the auth_id in the
// path, JSON or form bodies, the SDK's `""` body on GET/DELETE, `{api_id, error}` errors) and
// renders records the way Plivo does (snake_case, money as strings, `meta` + `objects` lists).

export type ApiOperation =
  | 'message.send'
  | 'message.list'
  | 'message.get'
  | 'phoneNumber.search'
  | 'phoneNumber.buy'
  | 'number.list'
  | 'number.get'
  | 'number.update'
  | 'number.delete'
  | 'application.create'
  | 'application.list'
  | 'application.get'
  | 'application.update'
  | 'application.delete'
  | 'unknown';

export interface ApiRequest {
  method: string;
  /** The auth_id in the path. */
  authId: string;
  /** The resource id in the path (message UUID, number, app_id), for routes that have one. */
  id?: string | undefined;
  authorization: string | undefined;
  contentType: string | undefined;
  rawQuery: string;
  body: Uint8Array;
}

export interface ApiResponse {
  status: number;
  /** null: no body (204). */
  body: Record<string, unknown> | null;
}

type Params = Record<string, unknown>;

const MAX_LIMIT = 20;

function parseBody(req: ApiRequest): Params {
  const text = Buffer.from(req.body).toString('utf8').trim();
  // The SDK sends the JSON string `""` as the body of GET and DELETE requests (plivo.md gotcha 8).
  if (text === '' || text === '""') return {};
  const type = (req.contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') return Object.fromEntries(new URLSearchParams(text));
  if (type === 'application/json' || type === '' || type.endsWith('+json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw badParam('The request body is not valid JSON');
    }
    if (typeof parsed === 'string' && parsed === '') return {};
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw badParam('The request body must be a JSON object');
    return parsed as Params;
  }
  throw badParam(`Unsupported content type ${type}; send JSON or a form`);
}

function params(req: ApiRequest): Params {
  const query: Params = {};
  for (const [k, v] of new URLSearchParams(req.rawQuery)) if (!(k in query)) query[k] = v;
  return { ...query, ...parseBody(req) };
}

function str(p: Params, key: string): string | undefined {
  const v = p[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw badParam(`${key} must be a string`);
}

/** A URL field: null or "" clears it. */
function urlField(p: Params, key: string): string | null | undefined {
  if (p[key] === null) return null;
  return str(p, key);
}

function bool(p: Params, key: string): boolean | undefined {
  const v = p[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (v === true || v === 'true' || v === 'True') return true;
  if (v === false || v === 'false' || v === 'False') return false;
  throw badParam(`${key} must be true or false`);
}

function int(p: Params, key: string, fallback: number, min: number, max: number): number {
  const v = str(p, key);
  if (v === undefined || v === '') return fallback;
  if (!/^\d+$/.test(v)) throw badParam(`${key} must be a whole number`);
  const n = Number(v);
  if (n < min || n > max) throw badParam(`${key} must be between ${min} and ${max}`);
  return n;
}

function page(p: Params): { limit: number; offset: number } {
  return { limit: int(p, 'limit', MAX_LIMIT, 1, MAX_LIMIT), offset: int(p, 'offset', 0, 0, 1_000_000) };
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function applicationFields(p: Params): ApplicationFields {
  return {
    app_name: str(p, 'app_name'),
    answer_url: urlField(p, 'answer_url'),
    answer_method: str(p, 'answer_method'),
    hangup_url: urlField(p, 'hangup_url'),
    hangup_method: str(p, 'hangup_method'),
    fallback_answer_url: urlField(p, 'fallback_answer_url'),
    fallback_method: str(p, 'fallback_method'),
    message_url: urlField(p, 'message_url'),
    message_method: str(p, 'message_method'),
    default_number_app: bool(p, 'default_number_app'),
  };
}

/** What every simulated number offers, at the simulator's (made-up) rates. */
const NUMBER_SERVICES = {
  sms_enabled: true,
  sms_rate: '0.00000',
  mms_enabled: true,
  mms_rate: '0.00000',
  voice_enabled: true,
  voice_rate: '0.00850',
} as const;

export class PlivoApi {
  constructor(private readonly sim: PlivoSimulator) {}

  async handle(op: ApiOperation, req: ApiRequest): Promise<ApiResponse> {
    const apiId = randomUUID();
    try {
      this.authenticate(req);
      const { status, body } = await this.dispatch(op, req);
      return { status, body: body === null ? null : { api_id: apiId, ...body } };
    } catch (e) {
      if (e instanceof PlivoApiError) return { status: e.status, body: { api_id: apiId, error: e.message } };
      throw e;
    }
  }

  private authenticate(req: ApiRequest): void {
    const { authId, authToken } = this.sim.credentials;
    const m = /^Basic\s+(\S+)$/i.exec(req.authorization ?? '');
    const decoded = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    const user = colon < 0 ? '' : decoded.slice(0, colon);
    const pass = colon < 0 ? '' : decoded.slice(colon + 1);
    if (!m || colon < 0 || user !== authId || !sameSecret(pass, authToken) || req.authId !== authId) {
      throw new PlivoApiError(401, 'Authentication failed: check your auth_id and auth_token');
    }
  }

  private async dispatch(op: ApiOperation, req: ApiRequest): Promise<{ status: number; body: Params | null }> {
    const p = params(req);
    const id = req.id ?? '';
    switch (op) {
      case 'message.send': {
        const r = await this.sim.sendMessageCommitted({
          src: str(p, 'src'),
          dst: str(p, 'dst'),
          text: str(p, 'text'),
          type: str(p, 'type'),
          url: str(p, 'url'),
          method: str(p, 'method'),
          powerpackUuid: str(p, 'powerpack_uuid'),
        });
        return {
          status: 202,
          body: {
            message: 'message(s) queued',
            message_uuid: r.messageUuids,
            ...(r.invalidNumbers.length > 0 ? { invalid_number: r.invalidNumbers } : {}),
          },
        };
      }
      case 'message.get':
        return { status: 200, body: this.message(this.sim.getMessage(id)) };
      case 'message.list': {
        const { limit, offset } = page(p);
        const direction = str(p, 'message_direction');
        if (direction !== undefined && direction !== 'inbound' && direction !== 'outbound') {
          throw badParam('message_direction must be inbound or outbound');
        }
        const r = this.sim.listMessages({ ...(direction ? { direction } : {}), limit, offset });
        return { status: 200, body: this.list('Message', r.rows.map((m) => this.message(m)), r.total, limit, offset) };
      }
      case 'phoneNumber.search': {
        const { limit, offset } = page(p);
        const found = this.sim.searchNumbers({
          countryIso: str(p, 'country_iso') ?? '',
          type: str(p, 'type'),
          pattern: str(p, 'pattern'),
          npanxx: str(p, 'npanxx'),
          services: str(p, 'services'),
          limit: limit + 1,
          offset,
        });
        const objects = found.slice(0, limit).map((n) => this.available(n));
        const total = offset + found.length;
        return { status: 200, body: this.list('PhoneNumber', objects, total, limit, offset) };
      }
      case 'phoneNumber.buy': {
        const row = this.sim.buyNumber(id, str(p, 'app_id') || undefined);
        return { status: 201, body: { message: 'created', numbers: [{ number: row.number, status: 'Success' }], status: 'fulfilled' } };
      }
      case 'number.list': {
        const { limit, offset } = page(p);
        const r = this.sim.listNumbers({ startsWith: str(p, 'number_startswith') ?? '', limit, offset });
        return { status: 200, body: this.list('Number', r.rows.map((n) => this.number(n)), r.total, limit, offset) };
      }
      case 'number.get':
        return { status: 200, body: this.number(this.sim.getNumber(id)) };
      case 'number.update': {
        const appId = p['app_id'] === null ? null : str(p, 'app_id');
        this.sim.updateNumber(id, { appId, alias: str(p, 'alias') });
        return { status: 202, body: { message: 'changed' } };
      }
      case 'number.delete':
        this.sim.releaseNumber(id);
        return { status: 204, body: null };
      case 'application.create': {
        const row = this.sim.createApplication(applicationFields(p));
        return { status: 201, body: { message: 'created', app_id: row.app_id } };
      }
      case 'application.list': {
        const { limit, offset } = page(p);
        const r = this.sim.listApplications(limit, offset);
        return { status: 200, body: this.list('Application', r.rows.map((a) => this.application(a)), r.total, limit, offset) };
      }
      case 'application.get':
        return { status: 200, body: this.application(this.sim.getApplication(id)) };
      case 'application.update':
        this.sim.updateApplication(id, applicationFields(p));
        return { status: 202, body: { message: 'changed' } };
      case 'application.delete':
        this.sim.deleteApplication(id);
        return { status: 204, body: null };
      case 'unknown':
        throw new PlivoApiError(404, `No such resource: ${req.method} is not supported on this path`);
    }
  }

  private base(): string {
    return `/v1/Account/${this.sim.credentials.authId}`;
  }

  private list(resource: string, objects: Params[], total: number, limit: number, offset: number): Params {
    const link = (o: number): string => `${this.base()}/${resource}/?limit=${limit}&offset=${o}`;
    return {
      meta: {
        limit,
        offset,
        total_count: total,
        next: offset + limit < total ? link(offset + limit) : null,
        previous: offset > 0 ? link(Math.max(0, offset - limit)) : null,
      },
      objects,
    };
  }

  private message(m: MessageRow): Params {
    const now = this.sim.now();
    const state = m.direction === 'outbound' ? outboundState(m, now) : (m.inbound_state ?? 'received');
    const errorCode = m.direction === 'outbound' && (state === 'failed' || state === 'undelivered') ? (m.error_code ?? '') : '000';
    const updated = m.direction === 'outbound' ? Math.min(now, Math.max(m.created_at, m.final_at ?? m.created_at)) : m.created_at;
    return {
      message_uuid: m.uuid,
      from_number: m.from_number,
      to_number: m.to_number,
      message_direction: m.direction,
      message_state: state,
      message_time: recordTime(m.created_at),
      message_sent_time: m.sent_at !== null && now >= m.sent_at ? recordTime(m.sent_at) : null,
      message_updated_time: recordTime(updated),
      message_type: m.type,
      error_code: errorCode,
      error_message: errorCode === '200' ? 'Destination number has opted out (DND)' : '',
      total_amount: m.total_amount,
      total_rate: m.total_rate,
      units: m.units,
      powerpack_id: null,
      requester_ip: '127.0.0.1',
      is_domestic: true,
      replaced_sender: '',
      destination_country_iso2: 'US',
      destination_network: null,
      carrier_fees: '0.00000',
      carrier_fees_rate: '0.00000',
      log: true,
      tendlc_campaign_id: null,
      tendlc_registration_status: null,
      resource_uri: `${this.base()}/Message/${m.uuid}/`,
    };
  }

  private available(n: InventoryNumber): Params {
    return {
      number: n.number,
      prefix: n.npa,
      city: null,
      country: 'UNITED STATES',
      region: null,
      rate_center: null,
      lata: null,
      type: 'fixed',
      sub_type: 'local',
      setup_rate: '0.00000',
      monthly_rental_rate: '0.50000',
      ...NUMBER_SERVICES,
      restriction: null,
      restriction_text: null,
      resource_uri: `${this.base()}/PhoneNumber/${n.number}/`,
    };
  }

  private number(n: NumberRow): Params {
    return {
      number: n.number,
      alias: n.alias,
      sub_account: null,
      added_on: recordDate(n.added_on),
      application: n.app_id ? `${this.base()}/Application/${n.app_id}/` : null,
      carrier: 'Plivo',
      region: 'United States',
      number_type: 'local',
      monthly_rental_rate: '0.50000',
      renewal_date: recordDate(n.added_on + 30 * 24 * 3600 * 1000),
      ...NUMBER_SERVICES,
      cnam_lookup: 'disabled',
      tendlc_registration_status: null,
      tendlc_campaign_id: null,
      toll_free_sms_verification: null,
      resource_uri: `${this.base()}/Number/${n.number}/`,
    };
  }

  private application(a: ApplicationRow): Params {
    return {
      app_id: a.app_id,
      app_name: a.app_name,
      answer_url: a.answer_url ?? '',
      answer_method: a.answer_method,
      hangup_url: a.hangup_url ?? '',
      hangup_method: a.hangup_method,
      fallback_answer_url: a.fallback_answer_url ?? '',
      fallback_method: a.fallback_method,
      message_url: a.message_url ?? '',
      message_method: a.message_method,
      default_app: a.default_number_app === 1,
      default_endpoint_app: false,
      enabled: true,
      public_uri: false,
      sip_uri: `sip:${a.app_id}@app.plivo.com`,
      sub_account: null,
      log_incoming_messages: true,
      application_type: 'XML',
      resource_uri: `${this.base()}/Application/${a.app_id}/`,
    };
  }
}
