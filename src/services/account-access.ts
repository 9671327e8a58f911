import type { Account, Conversation } from '../domain/types.js';
import type { Principal } from '../auth/principal.js';
import type { CoreContext } from './context.js';
import { forbidden, notFound } from '../errors.js';
import { hasAccountAccess } from '../auth/access.js';

// Access to an account's conversations, resolved the same way for every route: no access looks
// exactly like "does not exist".

export async function canAccess(c: CoreContext, p: Principal, account: Account): Promise<boolean> {
  const member = p.kind === 'user' && account.kind === 'group' && (await c.store.accounts.isMember(account.id, p.user.id));
  return hasAccountAccess(p, account, member);
}

/** The accounts among `accountIds` the principal may no longer use (gone ones included). */
export async function lostAccounts(c: CoreContext, p: Principal, accountIds: Iterable<string>): Promise<string[]> {
  const lost: string[] = [];
  for (const id of accountIds) {
    const account = await c.store.accounts.get(id);
    if (!account || !(await canAccess(c, p, account))) lost.push(id);
  }
  return lost;
}

/** `personal` (the caller's own personal account) or a group account's apiCode. */
export async function resolveAccountRef(c: CoreContext, p: Principal, ref: string): Promise<Account> {
  let account: Account | null;
  if (ref === 'personal') {
    if (p.kind !== 'user') throw forbidden('API keys have no personal account');
    account = await c.store.accounts.getPersonal(p.user.id);
  } else {
    account = await c.store.accounts.getByApiCode(ref);
    if (account?.kind !== 'group') account = null;
  }
  if (!account || !(await canAccess(c, p, account))) throw notFound('Account');
  return account;
}

export async function accessibleConversation(c: CoreContext, p: Principal, id: string): Promise<{ conversation: Conversation; account: Account }> {
  const conversation = await c.store.conversations.get(id);
  const account = conversation ? await c.store.accounts.get(conversation.accountId) : null;
  if (!conversation || !account || !(await canAccess(c, p, account))) throw notFound('Conversation');
  return { conversation, account };
}

/**
 * Which account each conversation belongs to, as far as this node has read it. A conversation
 * never changes account, so the fact may be kept; the account itself and the person's access to it
 * are still read every time (both change). Bounded: past `max` entries it starts afresh.
 */
export class ConversationAccounts {
  private readonly known = new Map<string, string>();

  constructor(private readonly max = 100_000) {}

  get(conversationId: string): string | undefined {
    return this.known.get(conversationId);
  }

  remember(conversationId: string, accountId: string): void {
    if (this.known.size >= this.max) this.known.clear();
    this.known.set(conversationId, accountId);
  }
}

/**
 * The account of a conversation the principal may use, for callers that need nothing else of the
 * conversation (the lock commands, many a second): the same answers as accessibleConversation,
 * without re-reading a conversation whose account is known.
 */
export async function accessibleConversationAccount(c: CoreContext, p: Principal, id: string, accounts: ConversationAccounts): Promise<Account> {
  const accountId = accounts.get(id);
  if (accountId === undefined) {
    const { account } = await accessibleConversation(c, p, id);
    accounts.remember(id, account.id);
    return account;
  }
  const account = await c.store.accounts.get(accountId);
  if (!account || !(await canAccess(c, p, account))) throw notFound('Conversation');
  return account;
}
