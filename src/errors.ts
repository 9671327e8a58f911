// Typed errors with stable, client-facing codes. Gateways map `status` to HTTP and `code` to the
// `{ error: { code, message } }` body; nothing else about an error reaches a client.

export type ErrorCode =
  // request shape
  | 'bad_request'
  | 'validation_failed'
  | 'payload_too_large'
  | 'unsupported_media_type'
  // identity and access
  | 'unauthenticated'
  | 'forbidden'
  | 'invalid_credentials'
  | 'invalid_current_password'
  | 'invalid_signature'
  | 'not_found'
  | 'method_not_allowed'
  // conflicts
  | 'conflict'
  | 'email_taken'
  | 'department_code_taken'
  | 'api_code_taken'
  | 'number_taken'
  | 'stale_lock_token'
  | 'rate_limited'
  | 'access_revoked'
  | 'lock_required'
  | 'no_lock'
  | 'lock_held'
  | 'api_key_cannot_reply'
  | 'idempotency_key_invalid'
  | 'idempotency_key_reused'
  | 'idempotency_key_in_flight'
  // sending rules
  | 'opted_out'
  | 'message_too_long'
  | 'message_empty'
  | 'no_recipients'
  | 'group_account_option'
  | 'conflicting_options'
  | 'quiet_hours'
  | 'confirm_late_send'
  | 'no_sender_number'
  | 'campaign_state'
  | 'schedule_out_of_range'
  | 'not_schedulable'
  // provider
  | 'provider_rejected'
  | 'provider_rate_limited'
  | 'provider_auth'
  | 'provider_unavailable'
  | 'provider_timeout'
  // this node
  | 'not_ready'
  | 'actor_unavailable'
  // everything else
  | 'internal';

const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  validation_failed: 400,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unauthenticated: 401,
  forbidden: 403,
  invalid_credentials: 401,
  invalid_current_password: 403,
  invalid_signature: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  email_taken: 409,
  department_code_taken: 409,
  api_code_taken: 409,
  number_taken: 409,
  stale_lock_token: 409,
  rate_limited: 429,
  access_revoked: 403,
  lock_required: 409,
  no_lock: 422,
  lock_held: 409,
  api_key_cannot_reply: 403,
  idempotency_key_invalid: 400,
  idempotency_key_reused: 422,
  idempotency_key_in_flight: 409,
  opted_out: 422,
  message_too_long: 422,
  message_empty: 422,
  no_recipients: 422,
  group_account_option: 422,
  conflicting_options: 422,
  quiet_hours: 422,
  confirm_late_send: 422,
  no_sender_number: 422,
  campaign_state: 409,
  schedule_out_of_range: 422,
  not_schedulable: 422,
  provider_rejected: 502,
  provider_rate_limited: 503,
  provider_auth: 502,
  provider_unavailable: 502,
  provider_timeout: 504,
  not_ready: 503,
  actor_unavailable: 503,
  internal: 500,
};

/** One line per code, for docs/errors.md (generated). */
export const ERROR_DESCRIPTIONS: Record<ErrorCode, string> = {
  bad_request: 'The request cannot be read (e.g. the body is not valid JSON).',
  validation_failed: 'A field is missing or invalid; `details` lists each field and why.',
  payload_too_large: 'The body is over the limit (MAX_BODY_BYTES; WEBHOOK_MAX_BODY_BYTES for Plivo webhooks), a webhook form has more than 200 fields, or a CSV has too many rows.',
  unsupported_media_type: 'Wrong Content-Type (JSON for the API, form-encoded for webhooks, text/csv for imports).',
  unauthenticated: 'No bearer token, or the session ended / the API key was revoked.',
  forbidden: 'You can see this but may not do that (e.g. staff changing a group account).',
  invalid_credentials: 'Email or password is wrong (the answer never says which).',
  invalid_current_password:
    'Changing your own password needs your current one in `currentPassword`; it was missing or wrong (wrong ones count as failed sign-ins).',
  invalid_signature: 'A webhook without a valid Plivo signature for our public URL.',
  not_found: 'It does not exist, or you have no access to it (the two look the same on purpose).',
  method_not_allowed: 'The path exists but not with this method.',
  conflict: 'The write conflicts with existing data (e.g. a contact with this phone exists).',
  email_taken: 'A user with this email exists.',
  department_code_taken: 'A department with this code exists.',
  api_code_taken: 'A group account with this apiCode exists.',
  number_taken: 'A number is already used by another account (the message names it), or could not be rented.',
  stale_lock_token: 'The reply carried a lock token that is no longer current: someone else holds the conversation.',
  rate_limited:
    'Too many attempts: failed sign-ins for this account or from this address (REST; `Retry-After` says how many seconds to wait), or, over WebSocket, frames over WS_RATE_PER_SECOND (slow down or be closed, 4008).',
  access_revoked: "WebSocket notice: your access to an account (`accountId`) or to a department's lock board (`departmentId`) was removed; its events stop.",
  lock_required: 'Replying in a group-account conversation needs the lock (open it first; send its lockToken).',
  no_lock: 'Personal-account conversations have no lock: only their owner can use them.',
  lock_held: 'Someone else holds the conversation; the message names them and since when.',
  api_key_cannot_reply: 'An API key cannot reply in a group-account conversation (replies need the lock, which only a signed-in person holds); integrations send with POST /messages.',
  idempotency_key_invalid: 'The Idempotency-Key header is not 1 to 255 printable ASCII characters (optionally in double quotes).',
  idempotency_key_reused: 'This Idempotency-Key was already used for a different request (other body or conversation); use a new key.',
  idempotency_key_in_flight: 'A request with this Idempotency-Key is still being processed; retry it later to get its outcome.',
  opted_out: 'The contact opted out of texts from this account.',
  message_too_long: 'The text is over the limit (MESSAGE_MAX_LENGTH characters, after merge fields).',
  message_empty: 'The text is empty.',
  no_recipients: 'Nobody to send to (after filters and opt-outs; `details` counts the skipped).',
  group_account_option: 'sendToMyStudentsOnly / sendAsStaff are personal-account features.',
  conflicting_options: 'sendToMyStudentsOnly and sendAsStaff cannot be combined.',
  quiet_hours: 'Bulk sends and campaigns are paused between 22:00 and 06:00 in the department time zone (a campaign cannot start, resume or be scheduled then).',
  confirm_late_send: 'A bulk send, or a campaign started, resumed or scheduled after 20:00, needs sendAnyway: true.',
  no_sender_number: 'The account has no number to send from (or none is available to rent).',
  campaign_state: 'The campaign cannot do that in its state (e.g. resume a completed one, pause a draft); the message says which state it is in.',
  schedule_out_of_range: '`scheduledAt` is in the past or more than a year ahead.',
  not_schedulable: 'sendToMyStudentsOnly and sendAsStaff send at once only: a scheduled message (`scheduledAt`) goes from the account to the recipients in `to` (for "my students" later, create a campaign with the myStudents filter).',
  provider_rejected: 'Plivo refused the request.',
  provider_rate_limited: 'Plivo throttled us (429); the send is retried in order.',
  provider_auth: 'Plivo refused our credentials.',
  provider_unavailable: 'Plivo could not be reached.',
  provider_timeout: 'Plivo did not answer in time (PLIVO_TIMEOUT_MS).',
  not_ready:
    'The server is starting (migrations, first-start seeding, lock recovery, Plivo set-up); try again after the Retry-After seconds. GET /readyz says when it is ready.',
  actor_unavailable:
    'The server that runs this conversation could not be reached in time (in a cluster, while a failed server\'s conversations move to another); try again after the Retry-After seconds.',
  internal: 'A fault on our side; it is logged.',
};

/** Every code, in the order of the table above (docs, the error schema's enum). */
export const ERROR_CODES = Object.keys(STATUS) as [ErrorCode, ...ErrorCode[]];

export function errorStatus(code: ErrorCode): number {
  return STATUS[code];
}

export interface FieldIssue {
  path: string;
  message: string;
}

export class AppError extends Error {
  override name = 'AppError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: FieldIssue[] | undefined;
  /** When trying again makes sense (429, 503): HTTP answers carry it as `Retry-After`. */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: FieldIssue[]; retryAfterSeconds?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = STATUS[code];
    this.details = options.details;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  /** Expected errors (4xx, and refusals while starting) are answers, not faults: they are not logged as errors. */
  get expected(): boolean {
    return this.status < 500 || this.code === 'not_ready' || this.code === 'actor_unavailable';
  }
}

export const notFound = (what: string): AppError => new AppError('not_found', `${what} not found`);
export const forbidden = (message = 'You do not have access to this'): AppError => new AppError('forbidden', message);

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}
