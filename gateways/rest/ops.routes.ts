import type { Core } from '../../src/core.js';
import type { Router } from '../http/router.js';
import { json, text } from '../http/types.js';
import { openApiDocument } from './openapi.js';

// Liveness, readiness, metrics and the API description. No authentication: they say nothing
// about accounts or messages. (Expose /metrics only to the monitoring network in production.)
export function opsRoutes(r: Router, core: Core): void {
  let openapi: string | null = null;
  r.get('/healthz', () => json(200, { status: 'ok' }));
  r.get('/readyz', () => (core.ready ? json(200, { status: 'ready' }) : json(503, { status: 'starting' })));
  r.get('/metrics', async () => {
    core.metrics.outboxDepth.set(core.outbox.totalDepth());
    return text(200, await core.metrics.registry.metrics(), core.metrics.registry.contentType);
  });
  r.get('/api/v1/openapi.json', () => text(200, (openapi ??= JSON.stringify(openApiDocument(), null, 2)), 'application/json; charset=utf-8'));
}
