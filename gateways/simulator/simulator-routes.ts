import { z } from 'zod';
import type { SimulatorService } from '../../src/sms/simulator/simulator-service.js';
import type { ApiOperation } from '../../src/sms/simulator/plivo-api.js';
import type { Router } from '../http/router.js';
import { json, type Handler, type HttpResult } from '../http/types.js';
import { jsonBody, queryOf } from '../rest/parse.js';

// The simulator's HTTP surface. The Plivo REST API sits under `${apiPrefix}/v1/Account/:authId/`
// (in-process: '/simulator/plivo'; standalone: ''), so the real SDK can be pointed at it; the
// handset controls sit under /simulator/. Thin: route, parse, hand to the simulator, answer.

export interface SimulatorRouteOptions {
  /** '' for the standalone simulator, '/simulator/plivo' inside the app. No trailing slash. */
  apiPrefix: string;
  /**
   * Serve the handset controls (/simulator/messages, /simulator/calls). They have no
   * authentication: whoever reaches them reads any phone's texts and texts in as anyone.
   */
  handsets: boolean;
}

const TextIn = z.object({
  from: z.string().min(1).max(32),
  to: z.string().min(1).max(32),
  text: z.string().max(5000),
});

const CallIn = z.object({
  from: z.string().min(1).max(32),
  to: z.string().min(1).max(32),
});

const InboxQuery = z.object({ number: z.string().min(1).max(32) });

export function registerSimulatorRoutes(router: Router, sim: SimulatorService, options: SimulatorRouteOptions): void {
  const account = `${options.apiPrefix.replace(/\/+$/, '')}/v1/Account/:authId`;

  const api =
    (op: ApiOperation): Handler =>
    async (req): Promise<HttpResult> => {
      const res = await sim.api.handle(op, {
        method: req.method,
        authId: req.params['authId'] ?? '',
        id: req.params['id'],
        authorization: req.headers['authorization'],
        contentType: req.headers['content-type'],
        rawQuery: req.rawQuery,
        body: req.body,
      });
      return res.body === null ? { status: res.status } : json(res.status, res.body);
    };

  router.post(`${account}/Message/`, api('message.send'));
  router.get(`${account}/Message/`, api('message.list'));
  router.get(`${account}/Message/:id/`, api('message.get'));
  router.get(`${account}/PhoneNumber/`, api('phoneNumber.search'));
  router.post(`${account}/PhoneNumber/:id/`, api('phoneNumber.buy'));
  router.get(`${account}/Number/`, api('number.list'));
  router.get(`${account}/Number/:id/`, api('number.get'));
  router.post(`${account}/Number/:id/`, api('number.update'));
  router.delete(`${account}/Number/:id/`, api('number.delete'));
  router.post(`${account}/Application/`, api('application.create'));
  router.get(`${account}/Application/`, api('application.list'));
  router.get(`${account}/Application/:id/`, api('application.get'));
  router.post(`${account}/Application/:id/`, api('application.update'));
  router.delete(`${account}/Application/:id/`, api('application.delete'));
  // Anything else under the account answers in Plivo's error shape, which the SDK can read.
  for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) router.add(method, `${account}/*`, api('unknown'));

  if (!options.handsets) return;
  router.post('/simulator/messages', async (req) => json(200, await sim.textIn(jsonBody(req, TextIn))));
  router.get('/simulator/messages', async (req) => {
    const { number } = queryOf(req, InboxQuery);
    return json(200, { number, messages: await sim.inbox(number) });
  });
  router.post('/simulator/calls', async (req) => json(200, await sim.placeCall(jsonBody(req, CallIn))));
}
