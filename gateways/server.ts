import { join } from 'node:path';
import uWS from 'uWebSockets.js';
import type { Clock } from '../src/clock.js';
import type { Config } from '../src/config.js';
import type { Logger } from '../src/logger.js';
import type { Store } from '../src/store/store.js';
import type { SmsProvider } from '../src/sms/sms-provider.js';
import { systemClock } from '../src/clock.js';
import { Core } from '../src/core.js';
import { WEBHOOK_PREFIX, webhookUrls } from './webhooks/webhook-paths.js';
import { createSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { PlivoProvider } from '../src/sms/plivo-provider.js';
import { PlivoSimulator } from '../src/sms/simulator/plivo-simulator.js';
import { SimulatorThread } from './simulator/simulator-thread.js';
import type { SimulatorService } from '../src/sms/simulator/simulator-service.js';
import { seedDemo, type DemoSeed } from '../src/demo/seed.js';
import { createOwner } from '../src/services/bootstrap.js';
import { Router } from './http/router.js';
import { isLoopbackHost, listen, uwsIsNative } from './http/listen.js';
import { holdUntilReady } from './http/readiness.js';
import { opsRoutes } from './rest/ops.routes.js';
import { identityRoutes } from './rest/identity.routes.js';
import { contactRoutes } from './rest/contacts.routes.js';
import { accountRoutes } from './rest/accounts.routes.js';
import { campaignRoutes } from './rest/campaigns.routes.js';
import { plivoWebhookRoutes } from './webhooks/plivo.routes.js';
import { registerSimulatorRoutes } from './simulator/simulator-routes.js';
import { WS_PATH, registerWsGateway, type WsGateway } from './ws/ws-gateway.js';
import type { Bus } from '../src/bus/bus.js';
import { MemoryBus } from '../src/bus/memory-bus.js';
import { NatsBus } from '../src/bus/nats-bus.js';
import { KvPlacement } from '../src/actors-runtime/kv-placement.js';
import type { Placement } from '../src/actors-runtime/placement.js';
import { CLIENT_DIST_DIR, loadClientFiles, registerClientRoutes } from './web/static.routes.js';

// The composition root of one node: store, provider (Plivo or the in-process simulator), core,
// and the uWS app with every route. Tests start it on port 0 exactly as `npm start` does.

export const API_BASE = '/api/v1';
export const OPENAPI_PATH = `${API_BASE}/openapi.json`;
export const SIMULATOR_API_PREFIX = '/simulator/plivo';

export interface Switchboard {
  url: string;
  /** ws://… of the WebSocket endpoint. */
  wsUrl: string;
  ws: WsGateway;
  port: number;
  config: Config;
  core: Core;
  store: Store;
  /** The in-process simulator when it runs on the main thread (a simulated clock, or SIMULATOR_THREAD=false). */
  simulator: PlivoSimulator | null;
  /** The worker thread's id when the in-process simulator runs on one. */
  simulatorThreadId: number | null;
  /** Whether the simulator's handset routes (/simulator/messages, /simulator/calls) are served. */
  simulatorHandsets: boolean;
  demo: DemoSeed | null;
  close(): Promise<void>;
}

export interface StartOptions {
  clock?: Clock;
  /** Use this store instead of opening one from the configuration (tests, benchmarks). */
  store?: Store;
  /** Use this bus instead of opening one from the configuration (closed with the node all the same). */
  bus?: Bus;
  /** Called once the port is bound, before start-up is done (the node answers 503 until then). */
  onListening?: (url: string) => void;
  /** Serve the web client built into this directory (default: gateways/web/dist). */
  clientDir?: string;
}

export async function startSwitchboard(config: Config, log: Logger, options: StartOptions = {}): Promise<Switchboard> {
  const clock = options.clock ?? systemClock;
  if (!uwsIsNative()) log.warn('uWebSockets.js native binary did not load: running on its slow JavaScript fallback');
  else log.debug('uWebSockets.js native binary loaded');

  // The bus first: a cluster node that cannot reach NATS stops here, before it takes any data.
  const bus = options.bus ?? (await openBus(config, log));
  let store: Store;
  let placement: Placement | undefined;
  try {
    // A cluster node takes its lease before it runs any actor.
    placement = await openPlacement(bus, config, log);
    store = options.store ?? (await openStore(config, log));
  } catch (e) {
    await placement?.stop();
    await bus.close();
    throw e;
  }
  const app = uWS.App();
  const router = new Router();
  // The port opens before the core starts (the in-process simulator's Plivo API is served on it),
  // so the API and webhooks are held until the core says it is ready.
  let core: Core | null = null;
  router.mount(app, {
    maxBodyBytes: config.maxBodyBytes,
    log: log.child({ component: 'http' }),
    admit: holdUntilReady(() => core?.ready === true, [API_BASE, WEBHOOK_PREFIX], [OPENAPI_PATH]),
  });
  let listening;
  try {
    listening = await listen(app, config.host, config.port);
  } catch (e) {
    await store.close();
    await placement?.stop();
    await bus.close();
    throw e;
  }
  const localHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const localUrl = `http://${localHost.includes(':') ? `[${localHost}]` : localHost}:${listening.port}`;
  const publicUrl = config.publicUrl ?? localUrl;
  options.onListening?.(localUrl);

  let simulator: PlivoSimulator | null = null;
  let simulatorThread: SimulatorThread | null = null;
  let simulatorService: SimulatorService | null = null;
  let simulatorHandsets = false;
  let provider: SmsProvider;
  let webhookToken: string;
  if (config.plivo.mode === 'simulator') {
    const file = join(config.dataDir, 'simulator.db');
    const simulatorLog = log.child({ component: 'simulator' });
    let service: SimulatorService;
    // On its own thread (SIMULATOR_THREAD) Plivo's side of each send is off the node's event loop;
    // a simulated clock cannot cross into a worker, so with one the simulator shares the main thread.
    if (config.simulator.thread && clock === systemClock) {
      try {
        simulatorThread = await SimulatorThread.start(
          {
            file,
            deliveryDelayMs: config.simulator.deliveryDelayMs,
            retryScale: config.simulator.retryScale,
            logLevel: config.logLevel,
            logBase: { ...simulatorLog.bindings() },
          },
          simulatorLog,
        );
      } catch (e) {
        listening.close();
        await store.close();
        await bus.close();
        throw e;
      }
      service = simulatorThread;
    } else {
      simulator = await PlivoSimulator.open({
        file,
        clock,
        log: simulatorLog,
        deliveryDelayMs: config.simulator.deliveryDelayMs,
        retryScale: config.simulator.retryScale,
      });
      service = simulator;
    }
    simulatorService = service;
    simulatorHandsets = handsetRoutes(config, log);
    // The simulator's Plivo API is always served: the provider below calls it, and it checks the
    // simulator's auth id and token as Plivo does. The handsets have no authentication.
    registerSimulatorRoutes(router, service, { apiPrefix: SIMULATOR_API_PREFIX, handsets: simulatorHandsets });
    provider = new PlivoProvider({
      authId: service.authId,
      authToken: service.authToken,
      // On its thread, the simulator serves its API on a port of its own: the node calls it there.
      apiUrl: simulatorThread?.apiUrl ?? localUrl + SIMULATOR_API_PREFIX,
      timeoutMs: config.plivoTimeoutMs,
    });
    webhookToken = service.authToken;
  } else {
    provider = new PlivoProvider({
      authId: config.plivo.authId,
      authToken: config.plivo.authToken,
      apiUrl: config.plivo.apiUrl,
      timeoutMs: config.plivoTimeoutMs,
    });
    webhookToken = config.plivo.authToken;
  }

  core = new Core({
    config,
    store,
    provider,
    clock,
    log,
    bus,
    nodeId: config.cluster.nodeId,
    webhookUrls: () => webhookUrls(publicUrl),
    ...(placement ? { placement } : {}),
  });
  opsRoutes(router, core);
  identityRoutes(router, core, API_BASE, { simulator: simulatorService ? { handsetRoutes: simulatorHandsets } : null });
  contactRoutes(router, core, API_BASE);
  accountRoutes(router, core, API_BASE);
  campaignRoutes(router, core, API_BASE);
  const client = loadClientFiles(options.clientDir ?? CLIENT_DIST_DIR);
  if (!client) log.warn({ dir: options.clientDir ?? CLIENT_DIST_DIR }, 'the web client is not built; `npm start` builds it');
  registerClientRoutes(router, client);
  plivoWebhookRoutes(router, core, {
    publicUrl: () => publicUrl,
    authToken: () => webhookToken,
    maxBodyBytes: config.webhooks.maxBodyBytes,
    log: log.child({ component: 'webhooks' }),
  });
  const ws: WsGateway = registerWsGateway(app, core, {
    log: log.child({ component: 'ws' }),
    maxPayloadBytes: config.ws.maxPayloadBytes,
    maxBackpressureBytes: config.ws.maxBackpressureBytes,
    idleTimeoutSeconds: config.ws.idleTimeoutSeconds,
    rateLimit: config.ws.rateLimit,
    maxSocketsPerUser: config.ws.maxSocketsPerUser,
    boardTickMs: config.ws.boardTickMs,
  });

  const started = core;
  const close = async () => {
    listening.close();
    ws.stop();
    await started.stop();
    await simulatorService?.close();
    await placement?.stop();
    await bus.close();
    await store.close();
  };

  let demo: DemoSeed | null = null;
  try {
    await core.start();
    if (await store.isEmpty()) {
      // A real installation names its first owner; otherwise the demo shows what it can do.
      if (config.owner) {
        await createOwner(core, { ...config.owner, departmentIds: [] });
        log.info({ email: config.owner.email }, 'first owner created');
      } else if (config.demo.seed) {
        demo = await seedDemo(core, { password: config.demo.password, timeZone: config.defaultTimeZone });
      }
    }
    core.markReady();
    log.info({ url: localUrl }, 'ready');
  } catch (e) {
    await close().catch(() => undefined);
    throw e;
  }
  return { url: localUrl, wsUrl: localUrl.replace(/^http/, 'ws') + WS_PATH, ws, port: listening.port, config, core, store, simulator, simulatorThreadId: simulatorThread?.threadId ?? null, simulatorHandsets, demo, close };
}

/**
 * The handset routes let anyone who reaches the port read any phone's texts and text in as anyone:
 * served on a loopback address (the demo on one machine), elsewhere only when SIMULATOR_ROUTES=true.
 */
function handsetRoutes(config: Config, log: Logger): boolean {
  const explicit = config.simulator.handsetRoutes;
  const loopback = isLoopbackHost(config.host);
  const served = explicit ?? loopback;
  const why = explicit !== undefined ? `SIMULATOR_ROUTES=${explicit}` : loopback ? `HOST ${config.host} is a loopback address` : `HOST ${config.host} is not a loopback address`;
  if (!served) log.info({ host: config.host }, `simulator handset routes (/simulator/messages, /simulator/calls) are off: ${why}; SIMULATOR_ROUTES=true serves them`);
  else if (loopback) log.info({ host: config.host }, `simulator handset routes served under /simulator/: ${why}`);
  else log.warn({ host: config.host }, `simulator handset routes served under /simulator/ on a non-loopback address (${why}): anyone who reaches this port can read and inject texts`);
  return served;
}

/** NATS when NATS_URL is set (and reachable: start-up fails otherwise), else this process alone. */
async function openBus(config: Config, log: Logger): Promise<Bus> {
  const onHandlerError = (err: unknown, subject: string) => log.error({ err, subject }, 'event listener failed');
  const natsUrl = config.cluster.natsUrl;
  if (natsUrl === undefined) return new MemoryBus({ onHandlerError });
  const busLog = log.child({ component: 'bus' });
  const bus = await NatsBus.connect({
    servers: natsUrl,
    name: config.cluster.nodeId,
    connectTimeoutMs: config.cluster.natsConnectTimeoutMs,
    onHandlerError,
    onStatus: (s) => {
      if (s.type === 'disconnect' || s.type === 'reconnect' || s.type === 'error') busLog.warn(s, `NATS ${s.type}`);
    },
  });
  busLog.info({ server: bus.server }, 'connected to NATS');
  return bus;
}

/** On a NATS bus: placement on JetStream KV, with this node's lease taken. */
async function openPlacement(bus: Bus, config: Config, log: Logger): Promise<Placement | undefined> {
  if (!(bus instanceof NatsBus)) return undefined;
  return KvPlacement.start({
    nc: bus.connection,
    nodeId: config.cluster.nodeId,
    leaseMs: config.cluster.nodeLeaseMs,
    replicas: config.cluster.kvReplicas,
    log: log.child({ component: 'placement' }),
  });
}

async function openStore(config: Config, log: Logger): Promise<Store> {
  if (config.cluster.mongodbUri) {
    log.info('using MongoDB (MONGODB_URI is set)');
    // Loaded on demand: a single node on SQLite never pays for the MongoDB driver.
    const { createMongoStore } = await import('../src/store/mongo/mongo-store.js');
    return createMongoStore({ uri: config.cluster.mongodbUri });
  }
  return createSqliteStore({
    file: join(config.dataDir, 'switchboard.db'),
    warn: (details, message) => log.warn(details, message),
    onSyncFailure: (error) => log.fatal({ error }, 'an fsync of the database log failed: every durable write is refused from now on; restart the node once the disk is sound'),
  });
}
