import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as plivo from 'plivo';
import { AppError, type ErrorCode } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { ANSWER_LOST, MAX_ANSWER_BYTES, answerText, exchange, failureOf, plivoDispatcher, undiciAdapter, type Answer, type AxiosLike } from './plivo-transport.js';
import type {
  ApplicationUrls,
  AvailableNumber,
  NumberSearch,
  OwnedNumber,
  SendRequest,
  SmsProvider,
} from './sms-provider.js';

// SmsProvider on Plivo's official SDK (4.79), pointed at Plivo or at the simulator. What the SDK
// gets wrong is worked around here (plivo.md "SDK gotchas"): camelCased results read by their
// runtime names, applications through our own small client (the SDK's ignore `options.url` and
// console.log their parameters), and errors that may be plain Errors, message-only Errors or even
// strings, mapped to AppError provider_* codes. Nothing from an SDK error's `moreInfo` (the
// request body: message text, numbers) is kept. Sends, the one call a text, are made without the
// SDK: the request its messages.create makes (a contract test compares them), on the same
// connections, at a third of the CPU (docs/decisions.md, "Sending").

// The SDK sends every request through the default instance of the axios copy it loads, and
// passes no redirect option: axios would then follow redirects, re-posting a message (text, the
// student's number) to whatever a 3xx's Location names. Plivo's API never redirects, so none is
// followed: the copy's default is set once, here, before any request. Its requests travel on
// undici's connection pools (src/sms/plivo-transport.ts), which follow no redirect either and cost
// an SDK call about 100 µs less CPU than axios's node:http adapter. Both are process-wide for that copy,
// as the SDK's own keep-alive agents are (plivo.md gotcha 10); nothing else in Switchboard uses
// axios.
interface AxiosDefaults extends AxiosLike {
  defaults: { maxRedirects?: number; adapter?: unknown; httpAgent?: unknown; httpsAgent?: unknown };
}
const sdkRequire = createRequire(import.meta.url);
const sdkAxios = sdkRequire(sdkRequire.resolve('axios', { paths: [dirname(sdkRequire.resolve('plivo'))] })) as AxiosDefaults;
sdkAxios.defaults.maxRedirects = 0;
/** The connections every PlivoProvider in the process uses, with and without the SDK (exported to be watched in tests). */
export const plivoConnections = plivoDispatcher();
sdkAxios.defaults.adapter = undiciAdapter(sdkAxios, plivoConnections, {
  httpAgent: sdkAxios.defaults.httpAgent,
  httpsAgent: sdkAxios.defaults.httpsAgent,
});

export interface PlivoProviderOptions {
  authId: string;
  authToken: string;
  /**
   * Where the API is, without `/v1` (a standalone simulator `http://127.0.0.1:4010`, the in-process
   * one `http://host:port/simulator/plivo`); undefined means Plivo itself.
   */
  apiUrl?: string | undefined;
  /** Per request; the SDK has no timeout at all for messaging and number calls unless given one. */
  timeoutMs: number;
  log?: Logger;
}

const PLIVO_API = 'https://api.plivo.com';
const PAGE = 20;

// Runtime shapes of the SDK's results (its .d.ts disagrees: plivo.md gotcha 6).
interface SdkSearchResult {
  number?: string;
  city?: string | null;
  region?: string | null;
  monthlyRentalRate?: string | null;
  smsEnabled?: boolean;
  voiceEnabled?: boolean;
}
interface SdkNumber {
  number?: string;
  application?: string | null;
}
type SdkList<T> = T[] & { meta?: { next?: string | null; totalCount?: number } };
interface PlivoApplication {
  app_id: string;
  app_name: string;
  answer_url?: string | null;
  answer_method?: string | null;
  message_url?: string | null;
  message_method?: string | null;
}

type Operation = 'send' | 'searchNumbers' | 'buyNumber' | 'routeNumber' | 'listOwnedNumbers' | 'releaseNumber' | 'ensureApplication';

/** E.164 → Plivo's digits. */
function toPlivo(e164: string, field: string): string {
  if (!/^\+[1-9]\d{6,14}$/.test(e164)) {
    throw new AppError('validation_failed', `${field} must be an E.164 number`, { details: [{ path: field, message: 'must be E.164' }] });
  }
  return e164.slice(1);
}

/** Plivo's digits → E.164 (Plivo writes numbers without '+'). */
function fromPlivo(digits: string): string {
  const d = digits.replace(/^\+/, '');
  return /^\d+$/.test(d) ? `+${d}` : digits;
}

function appIdFromUri(uri: string | null | undefined): string | null {
  if (!uri) return null;
  return /\/Application\/([^/]+)\/?$/.exec(uri)?.[1] ?? null;
}

// Provider error texts are Plivo's words about our request; phone numbers in them are cut out
// before they reach logs or clients.
function scrub(text: string): string {
  return text
    .replace(/\+?\d[\d\s().-]{6,}\d/g, '[number]')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 200);
}

function describe(op: Operation): string {
  switch (op) {
    case 'send':
      return 'sending a message';
    case 'searchNumbers':
      return 'searching numbers';
    case 'buyNumber':
      return 'renting a number';
    case 'routeNumber':
      return 'routing a number';
    case 'listOwnedNumbers':
      return 'listing numbers';
    case 'releaseNumber':
      return 'releasing a number';
    case 'ensureApplication':
      return 'setting up the application';
  }
}

function codeForStatus(status: number, op: Operation): ErrorCode {
  if (status === 401) return 'provider_auth';
  // 403 on a send is Plivo's geo-permission refusal; elsewhere the account may not do this.
  if (status === 403) return op === 'send' ? 'provider_rejected' : 'provider_auth';
  if (status === 429) return 'provider_rate_limited';
  if (status === 408 || status === 504) return 'provider_timeout';
  if (status >= 500) return 'provider_unavailable';
  return 'provider_rejected';
}

const NETWORK_DOWN = /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ECONNRESET|EHOSTUNREACH|ENETUNREACH|EPIPE|socket hang up/i;
const TIMED_OUT = /timeout of \d+ms exceeded|ECONNABORTED|ETIMEDOUT/i;

/** Maps whatever the SDK threw to an AppError; keeps nothing that could carry PII. */
export function mapPlivoError(e: unknown, op: Operation): AppError {
  if (e instanceof AppError) return e;
  const what = describe(op);
  // Network failures reach us as strings (the SDK rejects with `error.stack`).
  const status = typeof e === 'object' && e !== null && typeof (e as { status?: unknown }).status === 'number' ? (e as { status: number }).status : null;
  const rawMessage =
    typeof e === 'string' ? e : e instanceof Error ? `${e.name}: ${e.message} ${String((e as { cause?: { code?: string } }).cause?.code ?? '')}` : '';
  if (status !== null) {
    const body = (e as { message?: unknown }).message;
    const text = typeof body === 'string' ? body : body === undefined ? '' : JSON.stringify(body);
    const code = codeForStatus(status, op);
    return new AppError(code, `Plivo answered HTTP ${status} while ${what}${text ? `: ${scrub(text)}` : ''}`);
  }
  // 402, 403 (outside a send), 429, 502, 503: the SDK keeps only "Request failed with status code N".
  const coded = /status code (\d{3})/.exec(rawMessage);
  if (coded) {
    const s = Number(coded[1]);
    return new AppError(codeForStatus(s, op), `Plivo answered HTTP ${s} while ${what}`);
  }
  if (TIMED_OUT.test(rawMessage)) return new AppError('provider_timeout', `Plivo did not answer in time while ${what}`);
  // The request was written and the connection closed before its answer: Plivo may have acted on
  // it (a text sent), so this is not "unreachable", which the outbox would retry.
  if (rawMessage.includes(ANSWER_LOST)) return new AppError('provider_timeout', `Plivo's answer was lost while ${what}; it may have been carried out`);
  if (NETWORK_DOWN.test(rawMessage)) return new AppError('provider_unavailable', `Plivo could not be reached while ${what}`);
  return new AppError('provider_unavailable', `Unexpected failure talking to Plivo while ${what}`);
}

/** A failed exchange on Plivo's connections as an AppError: what may have happened decides the code. */
export function transportError(e: unknown, op: Operation): AppError {
  const what = describe(op);
  const failure = failureOf(e);
  switch (failure.kind) {
    case 'timeout':
      return new AppError('provider_timeout', `Plivo did not answer in time while ${what}`);
    case 'too_large':
      return new AppError('provider_timeout', `Plivo's answer was too large to read while ${what}; it may have been carried out`);
    case 'answer_lost':
      return new AppError('provider_timeout', `Plivo's answer was lost while ${what}; it may have been carried out`);
    case 'hang_up':
    case 'network':
      return new AppError('provider_unavailable', `Plivo could not be reached while ${what}`);
  }
}

function readJson(answer: Answer): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(answerText(answer));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Who is calling, on the requests made without the SDK. */
const USER_AGENT = 'Switchboard (plivo-node wire format)';

const basicAuth = (authId: string, authToken: string): string => `Basic ${Buffer.from(`${authId}:${authToken}`).toString('base64')}`;

export class PlivoProvider implements SmsProvider {
  readonly name: string;
  private readonly client: plivo.Client;
  private readonly apiBase: string;
  /** Where the account's resources are (`${apiBase}/v1/Account/{authId}/`), for requests made without the SDK. */
  private readonly account: URL;
  /** The headers of a request made without the SDK, without and with a JSON body. */
  private readonly headers: Record<string, string>;
  private readonly jsonHeaders: Record<string, string>;
  private readonly log: Logger;

  constructor(private readonly o: PlivoProviderOptions) {
    this.log = o.log ?? silentLogger;
    const base = o.apiUrl?.replace(/\/+$/, '').replace(/\/v1$/, '');
    this.apiBase = base ?? PLIVO_API;
    this.name = base === undefined ? 'plivo' : `plivo@${base}`;
    // No trailing slash on `url`: the SDK appends '/' + action (plivo.md §0).
    this.client = new plivo.Client(o.authId, o.authToken, {
      url: `${this.apiBase}/v1/Account/${o.authId}`,
      timeout: o.timeoutMs,
    });
    this.account = new URL(`${this.apiBase}/v1/Account/${encodeURIComponent(o.authId)}/`);
    this.headers = { authorization: basicAuth(o.authId, o.authToken), accept: 'application/json', 'user-agent': USER_AGENT };
    this.jsonHeaders = { ...this.headers, 'content-type': 'application/json' };
  }

  async send(req: SendRequest): Promise<{ providerId: string }> {
    const src = toPlivo(req.from, 'from');
    const dst = toPlivo(req.to, 'to');
    // The request the SDK's messages.create makes, in its positional form (plivo.md §1), made here
    // on the SDK's connections without the SDK: through it a send cost the event loop about 150 µs
    // more (docs/decisions.md, "Sending"). A contract test holds the two requests equal.
    const parsed = await this.request('send', 'POST', 'Message/', { src, dst, text: req.text, url: req.statusCallbackUrl, method: 'POST' });
    const ids = parsed['message_uuid'];
    const id = Array.isArray(ids) && typeof ids[0] === 'string' ? ids[0] : undefined;
    if (!id) {
      const invalid = parsed['invalid_number'];
      throw new AppError(
        'provider_rejected',
        Array.isArray(invalid) && invalid.length > 0 ? 'Plivo refused the destination number' : 'Plivo accepted the request but returned no message id',
      );
    }
    return { providerId: id };
  }

  async searchNumbers(q: NumberSearch): Promise<AvailableNumber[]> {
    if (!/^[2-9]\d{2}$/.test(q.areaCode)) {
      throw new AppError('validation_failed', 'areaCode must be three digits', { details: [{ path: 'areaCode', message: 'must be an NPA such as 617' }] });
    }
    if (q.prefix !== undefined && !/^[2-9]\d{2}$/.test(q.prefix)) {
      throw new AppError('validation_failed', 'prefix must be three digits', { details: [{ path: 'prefix', message: 'must be an exchange such as 555' }] });
    }
    const pattern = q.areaCode + (q.prefix ?? '');
    const limit = Math.min(Math.max(1, Math.floor(q.limit)), PAGE);
    const found = (await this.call('searchNumbers', () =>
      this.client.numbers.search('US', { type: 'local', pattern, services: 'sms', limit }),
    )) as unknown as SdkList<SdkSearchResult>;
    // Plivo documents `pattern` as a prefix match only loosely (plivo.md §5): check it ourselves.
    return found
      .filter((n): n is SdkSearchResult & { number: string } => typeof n.number === 'string' && n.number.startsWith(`1${pattern}`))
      .slice(0, limit)
      .map((n) => ({
        number: fromPlivo(n.number),
        city: n.city || null,
        region: n.region || null,
        monthlyRentalRate: n.monthlyRentalRate ?? null,
        smsEnabled: n.smsEnabled === true,
        voiceEnabled: n.voiceEnabled === true,
      }));
  }

  async buyNumber(number: string, appId: string): Promise<void> {
    const digits = toPlivo(number, 'number');
    await this.call('buyNumber', () => this.client.numbers.buy(digits, appId));
  }

  async routeNumber(number: string, appId: string): Promise<void> {
    const digits = toPlivo(number, 'number');
    await this.call('routeNumber', () => this.client.numbers.update(digits, { appId }));
  }

  async listOwnedNumbers(): Promise<OwnedNumber[]> {
    const out: OwnedNumber[] = [];
    for (let offset = 0; ; offset += PAGE) {
      const page = (await this.call('listOwnedNumbers', () => this.client.numbers.list({ limit: PAGE, offset }))) as unknown as SdkList<SdkNumber>;
      for (const n of page) if (n.number) out.push({ number: fromPlivo(n.number), appId: appIdFromUri(n.application) });
      if (page.length < PAGE || !page.meta?.next) return out;
    }
  }

  async releaseNumber(number: string): Promise<void> {
    const digits = toPlivo(number, 'number');
    await this.call('releaseNumber', () => this.client.numbers.unrent(digits));
  }

  async ensureApplication(app: ApplicationUrls): Promise<string> {
    if (!/^[A-Za-z0-9_-]{1,100}$/.test(app.name)) {
      throw new AppError('validation_failed', 'An application name may contain only letters, digits, - and _', {
        details: [{ path: 'name', message: 'letters, digits, - and _ only' }],
      });
    }
    const wanted = { answer_url: app.answerUrl, answer_method: 'POST', message_url: app.messageUrl, message_method: 'POST' };
    const existing = await this.findApplication(app.name);
    if (existing) {
      const differs = (Object.keys(wanted) as Array<keyof typeof wanted>).some((k) => (existing[k] ?? '') !== wanted[k]);
      if (differs) await this.request('ensureApplication', 'POST', `Application/${encodeURIComponent(existing.app_id)}/`, wanted);
      return existing.app_id;
    }
    try {
      const created = (await this.request('ensureApplication', 'POST', 'Application/', { app_name: app.name, ...wanted })) as { app_id?: unknown };
      if (typeof created.app_id !== 'string' || created.app_id === '') {
        throw new AppError('provider_rejected', 'Plivo created the application but returned no app_id');
      }
      this.log.info({ appId: created.app_id }, 'created the Plivo application');
      return created.app_id;
    } catch (e) {
      // Another node may have created it a moment ago: look once more before giving up.
      const raced = await this.findApplication(app.name).catch(() => undefined);
      if (raced) return this.ensureApplication(app);
      throw e;
    }
  }

  private async findApplication(name: string): Promise<PlivoApplication | undefined> {
    for (let offset = 0; ; offset += PAGE) {
      const page = (await this.request('ensureApplication', 'GET', `Application/?limit=${PAGE}&offset=${offset}`)) as {
        objects?: PlivoApplication[];
        meta?: { next?: string | null };
      };
      const objects = page.objects ?? [];
      const found = objects.find((a) => a.app_name === name);
      if (found) return found;
      if (objects.length < PAGE || !page.meta?.next) return undefined;
    }
  }

  /**
   * One JSON request to Plivo's API without the SDK, on the SDK's connections: sends (for their
   * cost) and /Application/ (the SDK sends those to a hard-coded api.plivo.com). Resolves with the
   * answer's JSON object ({} for none); a non-2xx answer or a failed exchange is an AppError.
   */
  private async request(op: Operation, method: 'GET' | 'POST', path: string, body?: Record<string, string>): Promise<Record<string, unknown>> {
    let answer: Answer;
    try {
      answer = await exchange(
        plivoConnections,
        {
          origin: this.account.origin,
          path: this.account.pathname + path,
          method,
          headers: body ? this.jsonHeaders : this.headers,
          ...(body ? { body: JSON.stringify(body) } : {}),
        },
        MAX_ANSWER_BYTES,
        this.o.timeoutMs,
      );
    } catch (e) {
      throw this.fail(transportError(e, op));
    }
    const parsed = readJson(answer);
    if (answer.status < 200 || answer.status >= 300) {
      const said = typeof parsed?.['error'] === 'string' ? `: ${scrub(parsed['error'])}` : '';
      throw this.fail(new AppError(codeForStatus(answer.status, op), `Plivo answered HTTP ${answer.status} while ${describe(op)}${said}`));
    }
    return parsed ?? {};
  }

  private async call<T>(op: Operation, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw this.fail(mapPlivoError(e, op));
    }
  }

  private fail(err: AppError): AppError {
    // Code and our own message only: never the SDK error (its moreInfo holds the request body).
    this.log.warn({ code: err.code, reason: err.message }, 'Plivo request failed');
    return err;
  }
}
