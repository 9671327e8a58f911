import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import type { SmsProvider } from './sms/sms-provider.js';
import type { Store } from './store/store.js';
import type { CoreContext } from './services/context.js';
import { SUBJECT_PREFIX, type Bus } from './bus/bus.js';
import { CoreEvents, type CoreEvent } from './events.js';
import { Outbox } from './sms/outbox.js';
import { quietHoursEnd } from './domain/quiet-hours.js';
import { AuthService } from './services/auth-service.js';
import { NumberService } from './services/number-service.js';
import { DirectoryService } from './services/directory-service.js';
import { GroupAccountService } from './services/group-account-service.js';
import { ConversationService } from './services/conversation-service.js';
import { MessagingService } from './services/messaging-service.js';
import { InboundService } from './services/inbound-service.js';
import { WebhookService } from './services/webhook-service.js';
import { Metrics } from './metrics.js';
import type { LockService } from './locks/lock-service.js';
import type { LockCommand, LockReply } from './locks/lock-commands.js';
import { createLocks } from './locks/lock-wiring.js';
import type { ActorHost } from './actors-runtime/actor-host.js';
import { singleNodePlacement, type Placement } from './actors-runtime/placement.js';
import { Idempotency } from './services/idempotency.js';
import type { CampaignService } from './campaigns/campaign-service.js';
import { createCampaigns } from './campaigns/campaign-wiring.js';

// The core of one node: services over the ports (Store, SmsProvider, Bus), the send queues and the
// events. Gateways call it; it knows nothing about HTTP or WebSockets.

export interface CoreOptions {
  config: Config;
  store: Store;
  provider: SmsProvider;
  clock: Clock;
  log: Logger;
  /** How events reach the nodes that watch them (a MemoryBus on a single node). */
  bus: Bus;
  /** This node's name in the cluster (NODE_ID). */
  nodeId: string;
  /** The URLs Plivo reaches our webhooks at (signed against them); known once the port is bound. */
  webhookUrls: () => { message: string; status: string; voice: string };
  metrics?: Metrics;
  /** Which node runs which actor: a cluster's placement (actors are then reached over the bus); absent, this node runs them all. */
  placement?: Placement;
}

export class Core {
  readonly events: CoreEvents;
  readonly outbox: Outbox;
  readonly metrics: Metrics;
  readonly auth: AuthService;
  readonly numbers: NumberService;
  readonly directory: DirectoryService;
  readonly groupAccounts: GroupAccountService;
  readonly conversations: ConversationService;
  readonly messaging: MessagingService;
  readonly inbound: InboundService;
  readonly webhooks: WebhookService;
  readonly locks: LockService;
  private readonly lockActors: ActorHost<LockCommand, LockReply>;
  private readonly stopLocks: () => void;
  readonly idempotency: Idempotency;
  readonly campaigns: CampaignService;
  private readonly stopCampaigns: () => Promise<void>;
  readonly context: CoreContext;
  private readonly stopWatching: () => void;
  private appId: string | null = null;
  private started = false;
  private open = false;

  constructor(private readonly o: CoreOptions) {
    this.metrics = o.metrics ?? new Metrics();
    this.events = new CoreEvents({
      bus: o.bus,
      prefix: SUBJECT_PREFIX,
      nodeId: o.nodeId,
      // Counted where the event happens: once in the cluster, whoever watches it.
      observe: (e) => {
        if (e.type === 'message') this.metrics.messages.inc({ direction: e.message.direction, status: e.message.status });
      },
      onError: (err, e) => o.log.error({ err, event: e.type }, 'publishing an event failed'),
    });
    const webhookUrls = o.webhookUrls;
    this.outbox = new Outbox({
      store: o.store,
      provider: o.provider,
      clock: o.clock,
      log: o.log.child({ component: 'outbox' }),
      events: this.events,
      metrics: this.metrics,
      intervalMs: o.config.sending.numberSendIntervalMs,
      maxInFlight: o.config.sending.numberMaxInFlight,
      statusCallbackUrl: () => webhookUrls().status,
      holdUntil: (m, now) => (m.quietHoursTimeZone ? quietHoursEnd(now, m.quietHoursTimeZone) : null),
      // Each number's queue on its owner alone: the number's pacing holds cluster-wide.
      ...(o.placement ? { cluster: { placement: o.placement, bus: o.bus, prefix: SUBJECT_PREFIX, rescanMs: o.config.cluster.queueRescanMs } } : {}),
    });
    // The one place that reads the configuration: each service gets the settings it names.
    this.context = {
      store: o.store,
      provider: o.provider,
      clock: o.clock,
      log: o.log,
      events: this.events,
      outbox: this.outbox,
      providerAppId: () => {
        if (this.appId === null) throw new Error('core not started: no provider application yet');
        return this.appId;
      },
      webhookUrls,
    };
    this.auth = new AuthService(this.context, o.config);
    this.numbers = new NumberService(this.context);
    this.directory = new DirectoryService(this.context, this.numbers, this.auth, o.config);
    this.groupAccounts = new GroupAccountService(this.context, this.numbers);
    this.conversations = new ConversationService(this.context);
    this.idempotency = new Idempotency(this.context, o.config);
    this.messaging = new MessagingService(this.context, this.idempotency, o.config);
    this.inbound = new InboundService(this.context, this.messaging, o.config);
    this.webhooks = new WebhookService(this.context, o.config);
    const { passivateAfterMs, ...durations } = o.config.lock;
    const placement = o.placement ?? singleNodePlacement(o.nodeId);
    // One request may take a lease (a slow owner is still its owner); one ask outlasts a lease
    // and the requests that found its owner gone, so a dead or paused owner's actors are taken
    // over within it.
    const cluster = o.placement
      ? { cluster: { bus: o.bus, requestTimeoutMs: o.config.cluster.nodeLeaseMs, deadlineMs: 3 * o.config.cluster.nodeLeaseMs + 1_000 } }
      : {};
    const locks = createLocks({
      c: this.context,
      messaging: this.messaging,
      idempotency: this.idempotency,
      durations,
      passivateAfterMs,
      placement,
      emit: (e) => this.events.emit(e),
      boot: this.events.boot,
      ...cluster,
    });
    this.locks = locks.service;
    this.lockActors = locks.host;
    this.stopLocks = locks.stop;
    const campaigns = createCampaigns({ c: this.context, settings: o.config, idempotency: this.idempotency, passivateAfterMs, placement, ...cluster });
    this.campaigns = campaigns.service;
    this.stopCampaigns = campaigns.stop;
    // Lost access takes the person's locks with it at once (DOMAIN.md: removal is immediate).
    // Every node hears people's changes and releases the locks of the actors it hosts.
    this.stopWatching = this.events.watch({ kind: 'people' }, (e) => this.revokeAccess(e));
  }

  private revokeAccess(e: CoreEvent): void {
    const log = this.o.log;
    if (e.type === 'membership') this.locks.accountAccessChanged(e.accountId);
    if (e.type === 'userChanged') this.locks.personChanged(e.userId);
    const revoked =
      e.type === 'membership'
        ? e.removedUserIds.map((userId) => ({ userId, scope: { accountId: e.accountId } }))
        : e.type === 'sessionRevoked'
          ? [{ userId: e.userId, scope: {} }]
          : [];
    for (const { userId, scope } of revoked) {
      this.locks.revokeUser(userId, scope).catch((err: unknown) => log.error({ err, userId }, 'releasing the locks of a revoked user failed'));
    }
    if (e.type === 'userChanged') {
      this.locks.revokeLostAccess(e.userId).catch((err: unknown) => log.error({ err, userId: e.userId }, 'releasing the locks of a changed user failed'));
    }
  }

  /**
   * A session reached its end and the gateway closed its connections. Locks held only through
   * those connections go now (`revoked`), without the reload grace: nobody comes back on an
   * expired session. A lock the person also holds through a connection of another, still valid
   * session stays with it (two tabs share one lock); those connections just leave it.
   */
  async endExpiredSession(userId: string, connections: Array<{ connId: string; conversationIds: string[] }>): Promise<void> {
    await this.locks.revokeUser(userId, { connIds: connections.map((c) => c.connId) });
    for (const c of connections) await this.locks.disconnect(c.connId, c.conversationIds);
  }

  /**
   * Started, and the first-start bootstrap (demo seed or first owner) done: requests may come in.
   * Before that a sign-in could find no user yet, and a command could race the lock recovery.
   */
  /** The node's clock (a simulated one in tests): timers at the edges run on it too. */
  get clock(): Clock {
    return this.o.clock;
  }

  get ready(): boolean {
    return this.open;
  }

  /** Called by the composition root once start() and the bootstrap are done. */
  markReady(): void {
    if (!this.started) throw new Error('core not started');
    this.open = true;
  }

  /** Points the provider at our webhooks and resumes the send queues. */
  async start(): Promise<void> {
    const urls = this.context.webhookUrls();
    // PLIVO_APP_ID: the operator manages the Plivo application (and its URLs) themselves.
    // Otherwise we keep an application named "switchboard" pointed at our webhooks.
    const configured = this.o.config.plivo.mode === 'plivo' ? this.o.config.plivo.appId : undefined;
    this.appId =
      configured ?? (await this.o.provider.ensureApplication({ name: 'switchboard', messageUrl: urls.message, answerUrl: urls.voice }));
    const { recoveredUnknown, requeued } = await this.outbox.start();
    await this.locks.start();
    // After the outbox: a campaign's interrupted sends are `unknown` before it resumes handing over.
    const campaigns = await this.campaigns.recover();
    this.idempotency.start();
    this.o.log.info({ appId: this.appId, requeued, recoveredUnknown, campaigns }, 'core started');
    this.started = true;
  }

  async stop(): Promise<void> {
    this.open = false;
    this.started = false;
    this.outbox.stop();
    this.stopLocks();
    await this.stopCampaigns();
    await this.lockActors.stop();
    this.idempotency.stop();
    this.stopWatching();
  }
}
