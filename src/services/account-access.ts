import type { Account, Conversation } from '../domain/types.js';
import type { Principal } from '../auth/principal.js';
import type { CoreContext } from './context.js';
import { forbidden, notFound } from '../errors.js';
import { hasAccountAccess, type AccountAccessFacts } from '../auth/access.js';

// Access to an account's conversations, resolved the same way for every route: no access looks
// exactly like "does not exist".

export async function canAccess(c: CoreContext, p: Principal, account: AccountAccessFacts): Promise<boolean> {
  // A membership only adds access: whoever has it without one (an admin of the department, the
  // owner) needs no read of it.
  if (hasAccountAccess(p, account, false)) return true;
  const member = p.kind === 'user' && account.kind === 'group' && (await c.store.accounts.isMember(account.id, p.user.id));
  return member && hasAccountAccess(p, account, true);
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
 * Which account each conversation belongs to, and what of that account access depends on, as far
 * as this node has read it. A conversation never changes account, and those facts never change
 * while the account exists, so they may be kept: the person's access (their record, their
 * membership) is still judged every time. An account that goes away is forgotten when its
 * removal is announced (`forgetAccount`: the core hears it on every node). Bounded: past `max`
 * entries it starts afresh.
 */
export class ConversationAccounts {
  private readonly known = new Map<string, AccountAccessFacts>();

  constructor(private readonly max = 100_000) {}

  get(conversationId: string): AccountAccessFacts | undefined {
    return this.known.get(conversationId);
  }

  remember(conversationId: string, account: AccountAccessFacts): void {
    if (this.known.size >= this.max) this.known.clear();
    this.known.set(conversationId, { id: account.id, kind: account.kind, departmentId: account.departmentId, ownerUserId: account.ownerUserId });
  }

  /** The account's conversations are read afresh from now on (it may be gone). */
  forgetAccount(accountId: string): void {
    for (const [conversationId, account] of this.known) if (account.id === accountId) this.known.delete(conversationId);
  }
}

/**
 * What access depends on of the account of a conversation the principal may use, for callers
 * that need nothing else of either (the lock commands, many a second): the same answers as
 * accessibleConversation, without re-reading a conversation and an account already known.
 */
export async function accessibleConversationAccount(c: CoreContext, p: Principal, id: string, accounts: ConversationAccounts): Promise<AccountAccessFacts> {
  const known = accounts.get(id);
  if (known === undefined) {
    const { account } = await accessibleConversation(c, p, id);
    accounts.remember(id, account);
    return account;
  }
  if (!(await canAccess(c, p, known))) throw notFound('Conversation');
  return known;
}
