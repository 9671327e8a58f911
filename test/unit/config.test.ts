import { describe, expect, it, vi } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

// How many cores the configuration sees (0: the machine's own), for the simulator thread's default.
const cores = vi.hoisted(() => ({ n: 0 }));
vi.mock('node:os', async (importOriginal) => {
  const os = await importOriginal<typeof import('node:os')>();
  return { ...os, availableParallelism: () => cores.n || os.availableParallelism() };
});

describe('configuration', () => {
  it('has working defaults: simulator, port 3000, the lock durations of the product rules', () => {
    const c = loadConfig({});
    expect(c.port).toBe(3000);
    expect(c.plivo.mode).toBe('simulator');
    expect(c.lock).toEqual({ idleWarningMs: 180_000, releaseAfterWarningMs: 60_000, disconnectGraceMs: 15_000, passivateAfterMs: 60_000 });
    expect(c.sending.numberSendIntervalMs).toBe(12_000);
    expect(c.sending.maxLength).toBe(306);
    expect(c.ws.maxSocketsPerUser).toBe(20);
    expect(c.ws.boardTickMs).toBe(20);
    expect(c.idempotencyKeyTtlMs).toBe(24 * 3600_000);
  });

  it('takes NATS servers as a comma-separated list, and names each node uniquely unless NODE_ID does', () => {
    const c = loadConfig({ NATS_URL: ' nats://a:4222, nats://b:4222 ,', NODE_ID: 'node-1' });
    expect(c.cluster).toMatchObject({ natsUrl: 'nats://a:4222,nats://b:4222', nodeId: 'node-1', natsConnectTimeoutMs: 5_000, nodeLeaseMs: 3_000, kvReplicas: 1 });
    expect(loadConfig({ NODE_LEASE_MS: '1500', NATS_KV_REPLICAS: '3' }).cluster).toMatchObject({ nodeLeaseMs: 1_500, kvReplicas: 3 });
    const [one, two] = [loadConfig({}).cluster.nodeId, loadConfig({}).cluster.nodeId];
    expect(one).toMatch(/^[A-Za-z0-9_-]+-[0-9a-f]{6}$/);
    expect(one).not.toBe(two);
    expect(loadConfig({}).cluster.natsUrl).toBeUndefined();
  });

  it('runs the built-in simulator on its worker thread when the machine has another core, unless SIMULATOR_THREAD says', () => {
    try {
      cores.n = 1;
      expect(loadConfig({}).simulator.thread).toBe(false);
      expect(loadConfig({ SIMULATOR_THREAD: 'true' }).simulator.thread).toBe(true);
      cores.n = 2;
      expect(loadConfig({}).simulator.thread).toBe(true);
      expect(loadConfig({ SIMULATOR_THREAD: 'false' }).simulator.thread).toBe(false);
    } finally {
      cores.n = 0;
    }
  });

  it('uses real Plivo when both credentials are given', () => {
    const c = loadConfig({ PLIVO_AUTH_ID: 'MAXXXXXXXXXXXXXXXXXX', PLIVO_AUTH_TOKEN: 'secret-token-123' });
    expect(c.plivo).toMatchObject({ mode: 'plivo', authId: 'MAXXXXXXXXXXXXXXXXXX' });
  });

  it('lets a webhook signed with V2 alone in only with Plivo credentials, unless WEBHOOK_SIGNATURE_V2 says otherwise', () => {
    const plivo = { PLIVO_AUTH_ID: 'MAXXXXXXXXXXXXXXXXXX', PLIVO_AUTH_TOKEN: 'secret-token-123' };
    expect(loadConfig({}).webhooks.acceptV2).toBe(false);
    expect(loadConfig(plivo).webhooks.acceptV2).toBe(true);
    expect(loadConfig({ ...plivo, WEBHOOK_SIGNATURE_V2: 'refuse' }).webhooks.acceptV2).toBe(false);
    expect(loadConfig({ WEBHOOK_SIGNATURE_V2: 'accept' }).webhooks.acceptV2).toBe(true);
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ NATS_URL: 'http://nats:4222' }, 'NATS_URL'],
    [{ NATS_URL: 'nats://a:4222, nats://b c:4222' }, 'NATS_URL'],
    [{ NODE_ID: 'node.1' }, 'NODE_ID'],
    [{ NODE_LEASE_MS: '100' }, 'NODE_LEASE_MS'],
    [{ NATS_KV_REPLICAS: '2' }, 'NATS_KV_REPLICAS'],
    [{ PORT: '70000' }, 'PORT'],
    [{ PUBLIC_URL: 'ftp://x' }, 'PUBLIC_URL'],
    [{ PLIVO_AUTH_ID: 'MAXXXXXXXXXXXXXXXXXX' }, 'PLIVO_AUTH_TOKEN'],
    [{ LOCK_IDLE_WARNING_MS: '-1' }, 'LOCK_IDLE_WARNING_MS'],
    [{ DEFAULT_TIME_ZONE: 'Mars/Olympus' }, 'DEFAULT_TIME_ZONE'],
    [{ DEMO_PASSWORD: 'short' }, 'DEMO_PASSWORD'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ LOGIN_MAX_FAILURES_PER_ACCOUNT: '-1' }, 'LOGIN_MAX_FAILURES_PER_ACCOUNT'],
    [{ LOGIN_LOCKOUT_MS: '10' }, 'LOGIN_LOCKOUT_MS'],
    [{ LOGIN_LOCKOUT_MS: '60000', LOGIN_LOCKOUT_MAX_MS: '30000' }, 'LOGIN_LOCKOUT_MAX_MS'],
    [{ WS_MAX_SOCKETS_PER_USER: '0' }, 'WS_MAX_SOCKETS_PER_USER'],
    [{ BOARD_TICK_MS: '0' }, 'BOARD_TICK_MS'],
    [{ BOARD_TICK_MS: '5000' }, 'BOARD_TICK_MS'],
    [{ IDEMPOTENCY_KEY_TTL_MS: '59999' }, 'IDEMPOTENCY_KEY_TTL_MS'],
    [{ WEBHOOK_MAX_BODY_BYTES: '100' }, 'WEBHOOK_MAX_BODY_BYTES'],
    [{ WEBHOOK_NONCE_RETENTION_MS: '60000' }, 'WEBHOOK_NONCE_RETENTION_MS'],
    [{ WEBHOOK_SIGNATURE_V2: 'sometimes' }, 'WEBHOOK_SIGNATURE_V2'],
  ])('stops on a bad value and names the variable: %o', (env, name) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`${name}:`));
  });

  it('limits failed sign-ins by default: 5 per account, 50 per address, locks from 30 s up to 5 min', () => {
    expect(loadConfig({}).login).toEqual({
      maxFailuresPerAccount: 5,
      maxFailuresPerAddress: 50,
      windowMs: 300_000,
      lockoutMs: 30_000,
      maxLockoutMs: 300_000,
      trackedKeys: 50_000,
    });
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ PORT: '' }).port).toBe(3000);
  });
});
