import type { Core } from '../../src/core.js';
import type { Router } from '../http/router.js';
import { authed } from './authed.js';
import { jsonBody, queryOf } from './parse.js';
import { respond } from './views.js';
import * as V from '../../src/schemas/views.js';
import { CampaignCreate, CampaignListQuery, CampaignPreviewQuery, CampaignRecipientsQuery, CampaignStart } from '../../src/schemas/rest.js';
import { IDEMPOTENCY_HEADER } from '../../src/services/idempotency.js';
import { CAMPAIGN_CREATED } from '../../src/campaigns/campaign-service.js';

// Campaigns: create, list, read, per-recipient status, and the four commands.
export function campaignRoutes(r: Router, core: Core, base: string): void {
  r.post(
    `${base}/campaigns`,
    authed(core, async (req, p) => respond(CAMPAIGN_CREATED, V.CampaignView, await core.campaigns.create(p, jsonBody(req, CampaignCreate), req.headers[IDEMPOTENCY_HEADER]))),
  );
  r.get(
    `${base}/campaigns`,
    authed(core, async (req, p) => {
      const q = queryOf(req, CampaignListQuery);
      return respond(200, V.CampaignList, { items: await core.campaigns.list(p, q.account, q) });
    }),
  );
  r.get(`${base}/campaigns/:id`, authed(core, async (req, p) => respond(200, V.CampaignView, await core.campaigns.get(p, req.params.id!))));
  r.get(
    `${base}/campaigns/:id/recipients`,
    authed(core, async (req, p) => {
      const items = await core.campaigns.recipients(p, req.params.id!, queryOf(req, CampaignRecipientsQuery));
      return respond(200, V.CampaignRecipientList, {
        items: items.map(({ phone, seq, contactId, senderNumber, status, messageId, handedAt, repliedAt }) => ({ phone, seq, contactId, senderNumber, status, messageId, handedAt, repliedAt })),
      });
    }),
  );
  r.get(`${base}/campaigns/:id/preview`, authed(core, async (req, p) => respond(200, V.CampaignPreview, await core.campaigns.preview(p, req.params.id!, queryOf(req, CampaignPreviewQuery)))));
  for (const type of ['start', 'resume'] as const) {
    r.post(
      `${base}/campaigns/:id/${type}`,
      authed(core, async (req, p) => respond(200, V.CampaignView, await core.campaigns.command(p, req.params.id!, { type, sendAnyway: jsonBody(req, CampaignStart).sendAnyway }))),
    );
  }
  for (const type of ['pause', 'cancel'] as const) {
    r.post(`${base}/campaigns/:id/${type}`, authed(core, async (req, p) => respond(200, V.CampaignView, await core.campaigns.command(p, req.params.id!, { type }))));
  }
}
