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
  | 'lock_required'
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
  // provider
  | 'provider_rejected'
  | 'provider_rate_limited'
  | 'provider_auth'
  | 'provider_unavailable'
  | 'provider_timeout'
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
  invalid_signature: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  email_taken: 409,
  department_code_taken: 409,
  api_code_taken: 409,
  number_taken: 409,
  stale_lock_token: 409,
  lock_required: 409,
  opted_out: 422,
  message_too_long: 422,
  message_empty: 422,
  no_recipients: 422,
  group_account_option: 422,
  conflicting_options: 422,
  quiet_hours: 422,
  confirm_late_send: 422,
  no_sender_number: 422,
  provider_rejected: 502,
  provider_rate_limited: 503,
  provider_auth: 502,
  provider_unavailable: 502,
  provider_timeout: 504,
  internal: 500,
};

export interface FieldIssue {
  path: string;
  message: string;
}

export class AppError extends Error {
  override name = 'AppError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: FieldIssue[] | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: FieldIssue[] } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = STATUS[code];
    this.details = options.details;
  }

  /** Expected errors (4xx) are answers, not faults: they are not logged as errors. */
  get expected(): boolean {
    return this.status < 500;
  }
}

export const notFound = (what: string): AppError => new AppError('not_found', `${what} not found`);
export const forbidden = (message = 'You do not have access to this'): AppError => new AppError('forbidden', message);

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}
