// The messages between the benchmark runner (the server process) and its load generator (a child
// process, so that making requests never steals the server's event loop). Types only.

export interface PreparedRequest {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/** Signed inbound-SMS webhooks, built and signed in the generator before any clock starts. */
export interface WebhookSetSpec {
  kind: 'webhooks';
  count: number;
  /** Makes every MessageUUID of the run unique. */
  uuidPrefix: string;
  /** PUBLIC_URL + path: the URL the signature covers. */
  signedUrl: string;
  path: string;
  authToken: string;
  /** Plivo digits (no '+'). */
  from: string[];
  to: string[];
}

/**
 * What a hostile client sends to a webhook URL: one form of `fields` fields (`f0=1&f1=1…`, cut off
 * at `maxBytes`) under bogus signatures, the same body in every request of the set.
 */
export interface HostileWebhookSetSpec {
  kind: 'hostileWebhooks';
  count: number;
  path: string;
  fields: number;
  maxBytes: number;
  /** Bogus signatures, comma-separated in X-Plivo-Signature-V3. */
  signatures: number;
}

export type RequestSetSpec = { kind: 'static'; requests: PreparedRequest[] } | WebhookSetSpec | HostileWebhookSetSpec;

export interface RunSpec {
  set: string;
  port: number;
  /** Index range of the set to send, [from, to). */
  from: number;
  to: number;
  /** Concurrent keep-alive connections, each with one request outstanding at a time. */
  connections: number;
  /** Stop starting requests after this long. */
  deadlineMs: number;
  /** Return the bodies of the first N answers. */
  keepBodies?: number;
}

export interface WalkSpec {
  port: number;
  /** The first page's path; `before=<nextBefore>` is appended for the following ones. */
  path: string;
  headers: Record<string, string>;
  maxPages: number;
}

export type Command =
  | { id: number; cmd: 'prepare'; set: string; spec: RequestSetSpec }
  | { id: number; cmd: 'run'; spec: RunSpec }
  | { id: number; cmd: 'walk'; spec: WalkSpec };

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export interface RunResult {
  /** Requests started. */
  started: number;
  /** Requests answered (any status). */
  answered: number;
  /** Requests that failed at the network level. */
  networkErrors: number;
  statuses: Record<string, number>;
  /** Wall clock (performance.timeOrigin + performance.now(), comparable across processes). */
  startedAtMs: number;
  finishedAtMs: number;
  elapsedMs: number;
  /** Answered requests per second. */
  rate: number;
  latencyMs: LatencySummary;
  /** Distinct TCP connections the agent opened. */
  sockets: number;
  /** Bytes of answer bodies received. */
  bodyBytes: number;
  bodies: string[];
  errors: string[];
}

export interface WalkResult {
  pages: number;
  /** Every `nextBefore` cursor seen, in page order. */
  cursors: string[];
  firstBody: string;
}

export type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/** Wall-clock milliseconds with sub-millisecond precision, comparable between processes. */
export const wallNow = (): number => performance.timeOrigin + performance.now();
