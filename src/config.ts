import { randomBytes } from 'node:crypto';
import { availableParallelism, hostname } from 'node:os';
import { z } from 'zod';
import type { LoginLimits } from './auth/login-limiter.js';
import { isTimeZone } from './domain/time-zone.js';

// The one validated configuration. The environment is parsed once, here; everything else receives
// a typed `Config` (tests build one with `testConfig()` and shorten durations through it).

const port = z.coerce.number().int().min(0).max(65535);
const duration = z.coerce.number().int().min(0).max(7 * 24 * 3600 * 1000);
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const url = z.url({ protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, ''));

const EnvSchema = z
  .object({
    PORT: port.default(3000),
    HOST: z.string().min(1).default('127.0.0.1'),
    DATA_DIR: z.string().min(1).default('./data'),
    PUBLIC_URL: url.optional(),
    PLIVO_AUTH_ID: z.string().regex(/^[A-Z0-9]{10,40}$/i, 'must be a Plivo auth id (letters and digits)').optional(),
    PLIVO_AUTH_TOKEN: z.string().min(8).optional(),
    PLIVO_API_URL: url.optional(),
    PLIVO_TIMEOUT_MS: duration.default(10_000),
    PLIVO_APP_ID: z.string().min(1).optional(),
    NATS_URL: z
      .string()
      .transform((v) => v.split(',').map((u) => u.trim()).filter(Boolean).join(','))
      .pipe(z.string().regex(/^(?:(?:nats|tls):\/\/)?[A-Za-z0-9.\-[\]:@_%]+(?:,(?:(?:nats|tls):\/\/)?[A-Za-z0-9.\-[\]:@_%]+)*$/, 'must be NATS server URLs separated by commas (nats://host:4222,nats://other:4222)'))
      .optional(),
    NATS_CONNECT_TIMEOUT_MS: duration.pipe(z.number().min(100, 'must be at least 100')).default(5_000),
    // A node's lease on the cluster (the KV bucket's max_age); renewed every third of it.
    NODE_LEASE_MS: z.coerce.number().int().min(300, 'must be at least 300').max(60_000).default(3_000),
    NATS_KV_REPLICAS: z.coerce.number().int().refine((n) => n === 1 || n === 3 || n === 5, 'must be 1, 3 or 5').default(1),
    // How often a node re-reads the `queued` messages of the numbers it runs (a lost nudge's).
    QUEUE_RESCAN_MS: z.coerce.number().int().min(100, 'must be at least 100').max(3_600_000).default(5_000),
    MONGODB_URI: z.string().regex(/^mongodb(\+srv)?:\/\//, 'must start with mongodb:// or mongodb+srv://').optional(),
    NODE_ID: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).optional(),
    DEMO_PASSWORD: z.string().min(8, 'must be at least 8 characters').optional(),
    DEMO_SEED: bool.default(true),
    OWNER_EMAIL: z.email().optional(),
    OWNER_NAME: z.string().min(1).max(120).default('Owner'),
    OWNER_PASSWORD: z.string().min(12, 'must be at least 12 characters').optional(),
    OWNER_AREA_CODE: z.string().regex(/^[2-9]\d{2}$/, 'must be a three-digit area code').default('617'),
    LOCK_IDLE_WARNING_MS: duration.default(180_000),
    LOCK_RELEASE_AFTER_WARNING_MS: duration.default(60_000),
    LOCK_DISCONNECT_GRACE_MS: duration.default(15_000),
    LOCK_PASSIVATE_AFTER_MS: duration.default(60_000),
    NUMBER_SEND_INTERVAL_MS: duration.default(12_000),
    NUMBER_MAX_IN_FLIGHT: z.coerce.number().int().min(1).max(256).default(8),
    MESSAGE_MAX_LENGTH: z.coerce.number().int().min(1).max(1600).default(306),
    CAMPAIGN_PROGRESS_INTERVAL_MS: z.coerce.number().int().min(50).max(10_000).default(250),
    SESSION_TTL_MS: duration.default(12 * 3600 * 1000),
    LOGIN_MAX_FAILURES_PER_ACCOUNT: z.coerce.number().int().min(0).max(1000).default(5),
    LOGIN_MAX_FAILURES_PER_ADDRESS: z.coerce.number().int().min(0).max(1_000_000).default(50),
    LOGIN_FAILURE_WINDOW_MS: duration.default(5 * 60_000),
    LOGIN_LOCKOUT_MS: duration.pipe(z.number().min(1000, 'must be at least 1000')).default(30_000),
    LOGIN_LOCKOUT_MAX_MS: duration.pipe(z.number().min(1000, 'must be at least 1000')).default(5 * 60_000),
    LOGIN_TRACKED_KEYS: z.coerce.number().int().min(100).max(10_000_000).default(50_000),
    IDEMPOTENCY_KEY_TTL_MS: duration.pipe(z.number().min(60_000, 'must be at least 60000 (one minute)')).default(24 * 3600 * 1000),
    HELP_REPLY: z
      .string()
      .min(1)
      .max(306)
      .default('Switchboard: reply STOP to opt out, START to opt back in. For help contact the office that texted you.'),
    OPT_OUT_REPLY: z.string().min(1).max(306).default('You are unsubscribed and will receive no more messages. Reply START to resubscribe.'),
    OPT_IN_REPLY: z.string().min(1).max(306).default('You are subscribed again. Reply STOP to unsubscribe.'),
    DEFAULT_TIME_ZONE: z
      .string()
      .refine((tz) => isTimeZone(tz), 'must be an IANA time zone such as America/New_York')
      .default('America/New_York'),
    MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(64 * 1024 * 1024).default(2 * 1024 * 1024),
    // Plivo's forms are a few KB: anything near this is not from Plivo, and is refused unread.
    WEBHOOK_MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(2 * 1024 * 1024).default(64 * 1024),
    // How long a V2 signature nonce stays bound to its request (src/services/webhook-service.ts).
    WEBHOOK_NONCE_RETENTION_MS: z.coerce.number().int().min(3600_000).max(30 * 24 * 3600_000).default(24 * 3600_000),
    // Whether a webhook signed with V2 alone is let in on the messaging routes (docs/decisions.md,
    // "Plivo webhooks"). Unset: refused with the simulator, which signs every webhook with V3 too;
    // accepted with Plivo credentials, since Plivo documents V2 for messaging.
    WEBHOOK_SIGNATURE_V2: z.enum(['accept', 'refuse']).optional(),
    WS_MAX_PAYLOAD_BYTES: z.coerce.number().int().min(512).max(1024 * 1024).default(16 * 1024),
    WS_MAX_BACKPRESSURE_BYTES: z.coerce.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
    WS_IDLE_TIMEOUT_S: z.coerce.number().int().min(8).max(3600).default(60),
    WS_RATE_PER_SECOND: z.coerce.number().min(1).max(10_000).default(30),
    WS_RATE_BURST: z.coerce.number().int().min(1).max(10_000).default(60),
    WS_MAX_SOCKETS_PER_USER: z.coerce.number().int().min(1).max(100_000).default(20),
    // Lock-board changes are sent to operators once per tick (gateways/ws/board-batcher.ts).
    BOARD_TICK_MS: z.coerce.number().int().min(1).max(1000).default(20),
    SIMULATOR_DELIVERY_DELAY_MS: duration.default(250),
    SIMULATOR_RETRY_SCALE: z.coerce.number().min(0).max(1).default(1),
    SIMULATOR_ROUTES: bool.optional(),
    // Unset: on its worker thread when the machine has more than one core (docs/decisions.md).
    SIMULATOR_THREAD: bool.optional(),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .superRefine((env, ctx) => {
    if ((env.PLIVO_AUTH_ID === undefined) !== (env.PLIVO_AUTH_TOKEN === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [env.PLIVO_AUTH_ID === undefined ? 'PLIVO_AUTH_ID' : 'PLIVO_AUTH_TOKEN'],
        message: 'PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN must be set together',
      });
    }
    if ((env.OWNER_EMAIL === undefined) !== (env.OWNER_PASSWORD === undefined)) {
      ctx.addIssue({ code: 'custom', path: [env.OWNER_EMAIL === undefined ? 'OWNER_EMAIL' : 'OWNER_PASSWORD'], message: 'OWNER_EMAIL and OWNER_PASSWORD must be set together' });
    }
    if (env.LOGIN_LOCKOUT_MAX_MS < env.LOGIN_LOCKOUT_MS) {
      ctx.addIssue({ code: 'custom', path: ['LOGIN_LOCKOUT_MAX_MS'], message: 'must not be smaller than LOGIN_LOCKOUT_MS' });
    }
    if (env.PLIVO_API_URL !== undefined && env.PLIVO_AUTH_ID === undefined) {
      ctx.addIssue({ code: 'custom', path: ['PLIVO_API_URL'], message: 'needs PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN' });
    }
  });


export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** Set when PUBLIC_URL is given; otherwise derived from the bound port once listening. */
  publicUrl: string | undefined;
  plivo:
    | { mode: 'simulator' }
    | { mode: 'plivo'; authId: string; authToken: string; apiUrl: string | undefined; appId: string | undefined };
  plivoTimeoutMs: number;
  /** `natsUrl`: the NATS servers (comma-separated); unset, the node runs alone on an in-process bus. */
  cluster: {
    natsUrl: string | undefined;
    natsConnectTimeoutMs: number;
    mongodbUri: string | undefined;
    nodeId: string;
    /** A node's lease (placement): not renewed for this long, its actors go to other nodes. */
    nodeLeaseMs: number;
    /** Replicas of the placement buckets on JetStream (1, 3 or 5). */
    kvReplicas: number;
    /** How often a node re-reads the `queued` messages of the numbers it runs, in case a nudge was lost. */
    queueRescanMs: number;
  };
  demo: { seed: boolean; password: string | undefined };
  /** The first owner, created on the first start of an empty store (instead of the demo). */
  owner: { email: string; name: string; password: string; areaCode: string } | null;
  lock: { idleWarningMs: number; releaseAfterWarningMs: number; disconnectGraceMs: number; passivateAfterMs: number };
  sending: { numberSendIntervalMs: number; numberMaxInFlight: number; maxLength: number; campaignProgressIntervalMs: number };
  replies: { help: string; optOut: string; optIn: string };
  sessionTtlMs: number;
  /** Failed sign-ins (src/auth/login-limiter.ts). */
  login: LoginLimits;
  /** How long the outcome of a request with an Idempotency-Key is kept for its retries. */
  idempotencyKeyTtlMs: number;
  ws: {
    maxPayloadBytes: number;
    maxBackpressureBytes: number;
    idleTimeoutSeconds: number;
    rateLimit: { perSecond: number; burst: number; maxStrikes: number };
    /** Open sockets one person may have on a node, over all their sessions. */
    maxSocketsPerUser: number;
    /** Lock-board changes are coalesced and sent to operators once per this many ms. */
    boardTickMs: number;
  };
  defaultTimeZone: string;
  maxBodyBytes: number;
  webhooks: {
    maxBodyBytes: number;
    nonceRetentionMs: number;
    /** Let a webhook signed with V2 alone in on the messaging routes (with its nonce bound to it). */
    acceptV2: boolean;
  };
  simulator: {
    deliveryDelayMs: number;
    retryScale: number;
    /** Serve the unauthenticated handset routes (/simulator/...); unset: only on a loopback HOST. */
    handsetRoutes: boolean | undefined;
    /** Run the in-process simulator on a worker thread (not with a simulated clock). */
    thread: boolean;
  };
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

/**
 * The host name (what NODE_ID allows of it) and a random suffix: two processes on one machine, or
 * one process restarted, never share a node id, and connection ids name their node.
 */
function defaultNodeId(): string {
  const host = hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 40) || 'node';
  return `${host}-${randomBytes(3).toString('hex')}`;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings count as unset: `FOO= npm start` should mean "default", not "invalid".
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${String(i.path[0] ?? '(environment)')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir: e.DATA_DIR,
    publicUrl: e.PUBLIC_URL,
    plivo:
      e.PLIVO_AUTH_ID !== undefined && e.PLIVO_AUTH_TOKEN !== undefined
        ? { mode: 'plivo', authId: e.PLIVO_AUTH_ID, authToken: e.PLIVO_AUTH_TOKEN, apiUrl: e.PLIVO_API_URL, appId: e.PLIVO_APP_ID }
        : { mode: 'simulator' },
    plivoTimeoutMs: e.PLIVO_TIMEOUT_MS,
    cluster: {
      natsUrl: e.NATS_URL,
      natsConnectTimeoutMs: e.NATS_CONNECT_TIMEOUT_MS,
      mongodbUri: e.MONGODB_URI,
      nodeId: e.NODE_ID ?? defaultNodeId(),
      nodeLeaseMs: e.NODE_LEASE_MS,
      kvReplicas: e.NATS_KV_REPLICAS,
      queueRescanMs: e.QUEUE_RESCAN_MS,
    },
    demo: { seed: e.DEMO_SEED, password: e.DEMO_PASSWORD },
    owner:
      e.OWNER_EMAIL !== undefined && e.OWNER_PASSWORD !== undefined
        ? { email: e.OWNER_EMAIL.toLowerCase(), name: e.OWNER_NAME, password: e.OWNER_PASSWORD, areaCode: e.OWNER_AREA_CODE }
        : null,
    lock: {
      idleWarningMs: e.LOCK_IDLE_WARNING_MS,
      releaseAfterWarningMs: e.LOCK_RELEASE_AFTER_WARNING_MS,
      disconnectGraceMs: e.LOCK_DISCONNECT_GRACE_MS,
      passivateAfterMs: e.LOCK_PASSIVATE_AFTER_MS,
    },
    sending: {
      numberSendIntervalMs: e.NUMBER_SEND_INTERVAL_MS,
      numberMaxInFlight: e.NUMBER_MAX_IN_FLIGHT,
      maxLength: e.MESSAGE_MAX_LENGTH,
      campaignProgressIntervalMs: e.CAMPAIGN_PROGRESS_INTERVAL_MS,
    },
    replies: { help: e.HELP_REPLY, optOut: e.OPT_OUT_REPLY, optIn: e.OPT_IN_REPLY },
    sessionTtlMs: e.SESSION_TTL_MS,
    login: {
      maxFailuresPerAccount: e.LOGIN_MAX_FAILURES_PER_ACCOUNT,
      maxFailuresPerAddress: e.LOGIN_MAX_FAILURES_PER_ADDRESS,
      windowMs: e.LOGIN_FAILURE_WINDOW_MS,
      lockoutMs: e.LOGIN_LOCKOUT_MS,
      maxLockoutMs: e.LOGIN_LOCKOUT_MAX_MS,
      trackedKeys: e.LOGIN_TRACKED_KEYS,
    },
    idempotencyKeyTtlMs: e.IDEMPOTENCY_KEY_TTL_MS,
    ws: {
      maxPayloadBytes: e.WS_MAX_PAYLOAD_BYTES,
      maxBackpressureBytes: e.WS_MAX_BACKPRESSURE_BYTES,
      idleTimeoutSeconds: e.WS_IDLE_TIMEOUT_S,
      // Past a burst's worth of refused frames in a row, the client is not listening: close it.
      rateLimit: { perSecond: e.WS_RATE_PER_SECOND, burst: e.WS_RATE_BURST, maxStrikes: e.WS_RATE_BURST },
      maxSocketsPerUser: e.WS_MAX_SOCKETS_PER_USER,
      boardTickMs: e.BOARD_TICK_MS,
    },
    defaultTimeZone: e.DEFAULT_TIME_ZONE,
    maxBodyBytes: e.MAX_BODY_BYTES,
    webhooks: {
      maxBodyBytes: e.WEBHOOK_MAX_BODY_BYTES,
      nonceRetentionMs: e.WEBHOOK_NONCE_RETENTION_MS,
      acceptV2: (e.WEBHOOK_SIGNATURE_V2 ?? (e.PLIVO_AUTH_ID === undefined ? 'refuse' : 'accept')) === 'accept',
    },
    simulator: { deliveryDelayMs: e.SIMULATOR_DELIVERY_DELAY_MS, retryScale: e.SIMULATOR_RETRY_SCALE, handsetRoutes: e.SIMULATOR_ROUTES, thread: e.SIMULATOR_THREAD ?? simulatorThreadByDefault() },
    logLevel: e.LOG_LEVEL,
  };
}

/**
 * Where the built-in simulator runs when SIMULATOR_THREAD is unset: on its worker thread when the
 * machine has another core for it, on the node's event loop otherwise (docs/decisions.md).
 */
export function simulatorThreadByDefault(): boolean {
  return availableParallelism() > 1;
}

/**
 * The configuration tests start from: defaults, silent logs, no demo seed, everything overridable;
 * the simulator on the main thread, where a test can read its records directly (`sb.simulator`).
 */
export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({ PORT: '0', LOG_LEVEL: 'silent', DEMO_SEED: 'false', SIMULATOR_THREAD: 'false', ...overrides });
}
