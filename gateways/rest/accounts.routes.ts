import type { Core } from '../../src/core.js';
import type { Router } from '../http/router.js';
import { json, noContent } from '../http/types.js';
import { authed } from './authed.js';
import { jsonBody, queryOf } from './parse.js';
import { accountView, conversationView, lockView, messageView, respond } from './views.js';
import { CAMPAIGN_CREATED } from '../../src/campaigns/campaign-service.js';
import * as V from '../../src/schemas/views.js';
import {
  Compose,
  ConversationListQuery,
  GroupAccountCreate,
  GroupAccountPatch,
  LocksQuery,
  Measure,
  MembersPut,
  MessageListQuery,
  Reply,
} from '../../src/schemas/rest.js';
import { IDEMPOTENCY_HEADER } from '../../src/services/idempotency.js';

// Group accounts, folders, histories, compose and reply.
export function accountRoutes(r: Router, core: Core, base: string): void {
  r.post(
    `${base}/group-accounts`,
    authed(core, async (req, p) => {
      const { account, memberIds } = await core.groupAccounts.create(p, jsonBody(req, GroupAccountCreate));
      return json(201, accountView(account, memberIds));
    }),
  );
  r.get(`${base}/group-accounts`, authed(core, async (_req, p) => json(200, { items: (await core.groupAccounts.list(p)).map((a) => accountView(a)) })));
  r.get(
    `${base}/group-accounts/:apiCode`,
    authed(core, async (req, p) => {
      const account = await core.groupAccounts.get(p, req.params.apiCode!);
      return json(200, accountView(account, await core.groupAccounts.members(p, account.apiCode!)));
    }),
  );
  r.patch(
    `${base}/group-accounts/:apiCode`,
    authed(core, async (req, p) => json(200, accountView(await core.groupAccounts.update(p, req.params.apiCode!, jsonBody(req, GroupAccountPatch))))),
  );
  r.delete(
    `${base}/group-accounts/:apiCode`,
    authed(core, async (req, p) => {
      await core.groupAccounts.delete(p, req.params.apiCode!);
      return noContent;
    }),
  );
  r.get(
    `${base}/group-accounts/:apiCode/members`,
    authed(core, async (req, p) => json(200, { memberIds: await core.groupAccounts.members(p, req.params.apiCode!) })),
  );
  r.put(
    `${base}/group-accounts/:apiCode/members`,
    authed(core, async (req, p) => json(200, { memberIds: await core.groupAccounts.setMembers(p, req.params.apiCode!, jsonBody(req, MembersPut).memberIds) })),
  );

  r.get(
    `${base}/accounts/:accountRef/conversations`,
    authed(core, async (req, p) => {
      const q = queryOf(req, ConversationListQuery);
      const before = q.before ? { lastMessageAt: Number(q.before.split('_')[0]), id: q.before.split('_')[1]! } : undefined;
      const page = await core.conversations.list(p, req.params.accountRef!, { folder: q.folder, limit: q.limit, before });
      return json(200, { items: page.items.map(conversationView), nextBefore: page.nextBefore });
    }),
  );
  r.get(`${base}/conversations/:id`, authed(core, async (req, p) => json(200, conversationView(await core.conversations.get(p, req.params.id!)))));
  r.get(
    `${base}/conversations/:id/messages`,
    authed(core, async (req, p) => {
      const q = queryOf(req, MessageListQuery);
      return json(200, { items: (await core.conversations.messages(p, req.params.id!, q)).map(messageView) });
    }),
  );
  for (const [action, folder] of [
    ['archive', 'archived'],
    ['unarchive', 'inbox'],
  ] as const) {
    r.post(
      `${base}/conversations/:id/${action}`,
      authed(core, async (req, p) => {
        await core.conversations.setFolder(p, req.params.id!, folder);
        return json(200, conversationView(await core.conversations.get(p, req.params.id!)));
      }),
    );
  }
  r.post(
    `${base}/conversations/:id/read`,
    authed(core, async (req, p) => {
      await core.conversations.markRead(p, req.params.id!);
      return json(200, conversationView(await core.conversations.get(p, req.params.id!)));
    }),
  );
  r.post(
    `${base}/conversations/:id/messages`,
    authed(core, async (req, p) => {
      const { text, lockToken } = jsonBody(req, Reply);
      return json(202, messageView(await core.locks.reply(p, req.params.id!, lockToken, text, req.headers[IDEMPOTENCY_HEADER])));
    }),
  );

  r.get(
    `${base}/locks`,
    authed(core, async (req, p) => json(200, { items: (await core.locks.board(p, queryOf(req, LocksQuery).departmentId)).map(lockView) })),
  );

  r.post(
    `${base}/messages`,
    authed(core, async (req, p) => {
      const body = jsonBody(req, Compose);
      const key = req.headers[IDEMPOTENCY_HEADER];
      const { scheduledAt } = body;
      // Sent now (202, what was queued), or scheduled: a campaign of kind message (201).
      return scheduledAt === undefined
        ? respond(202, V.ComposeResult, await core.messaging.compose(p, body, key))
        : respond(CAMPAIGN_CREATED, V.CampaignView, await core.campaigns.scheduleMessage(p, { ...body, scheduledAt }, key));
    }),
  );
  r.post(`${base}/messages/measure`, authed(core, async (req) => respond(200, V.Measurement, core.messaging.measure(jsonBody(req, Measure).text))));
}
