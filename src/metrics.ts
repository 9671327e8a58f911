import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

// Prometheus metrics of one node, served at GET /metrics. Labels stay low-cardinality: route
// patterns, never ids or phone numbers.

export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: 'switchboard_http_requests_total',
    help: 'HTTP requests by route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'switchboard_http_request_duration_seconds',
    help: 'HTTP request handling time',
    labelNames: ['route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly webhooks = new Counter({
    name: 'switchboard_webhooks_total',
    help: 'Provider webhooks by kind and outcome',
    labelNames: ['kind', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly messages = new Counter({
    name: 'switchboard_messages_total',
    help: 'Messages by direction and status reached',
    labelNames: ['direction', 'status'] as const,
    registers: [this.registry],
  });
  readonly sendFailures = new Counter({
    name: 'switchboard_send_failures_total',
    help: 'Outbound sends that ended without the provider accepting them, by error code (rejected, unknown, store failures)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly outboxDepth = new Gauge({
    name: 'switchboard_outbox_depth',
    help: 'Messages waiting or in flight in the send queues',
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics: boolean } = { defaultMetrics: true }) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }
}
