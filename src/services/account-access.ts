import type { Account, Conversation } from '../domain/types.js';
import type { Principal } from '../auth/principal.js';
import type { CoreContext } from './context.js';
import { forbidden, notFound } from '../errors.js';
import { hasAccountAccess, type AccountAccessFacts } from '../auth/access.js';

// Access to an account's conversations, resolved the same way for every route: no access looks
// exactly like "does not exist".

/** How a membership is found out: from the store, or from what a caller keeps of it. */
type MembershipReader = (accountId: string, userId: string) => Promise<boolean>;

export async function canAccess(c: CoreContext, p: Principal, account: AccountAccessFacts, isMember?: MembershipReader): Promise<boolean> {
  // A membership only adds access: whoever has it without one (an admin of the department, the
  // owner) needs no read of it.
  if (hasAccountAccess(p, account, false)) return true;
  const member = p.kind === 'user' && account.kind === 'group' && (await (isMember ? isMember(account.id, p.user.id) : c.store.accounts.isMember(account.id, p.user.id)));
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

export async function accessibleConversation(c: CoreContext, p: Principal, id: string, isMember?: MembershipReader): Promise<{ conversation: Conversation; account: Account }> {
  const conversation = await c.store.conversations.get(id);
  const account = conversation ? await c.store.accounts.get(conversation.accountId) : null;
  if (!conversation || !account || !(await canAccess(c, p, account, isMember))) throw notFound('Conversation');
  return { conversation, account };
}

/**
 * What the lock commands' access checks need from the store, as far as this node has read it:
 * which account each conversation belongs to, what of that account access depends on, and who is
 * a member of it. A conversation never changes account, and those facts never change while the
 * account exists. Memberships do change, and every change that alters someone's access is
 * announced to that person (`membership`), as is every change of a person (`userChanged`): the
 * core hears both on every node and calls `forgetAccount` / `forgetPerson`, so the next command is
 * judged on the store again. The person's record is judged on every command as the caller holds
 * it. A read that was under way when something was forgotten is used once but not kept (it may
 * predate the change). Bounded: past `max` entries a map starts afresh.
 */
export class ConversationAccounts {
  private readonly known = new Map<string, AccountAccessFacts>();
  /** `accountId userId` → member or not. */
  private readonly members = new Map<string, boolean>();
  /** Counts forgets: a read is kept only if none happened while it ran. */
  private generation = 0;

  constructor(private readonly max = 100_000) {}

  /** Whether the person is a member of the group account (read once, until forgotten). */
  async isMember(c: CoreContext, accountId: string, userId: string): Promise<boolean> {
    const key = `${accountId} ${userId}`;
    const known = this.members.get(key);
    if (known !== undefined) return known;
    const mark = this.generation;
    const member = await c.store.accounts.isMember(accountId, userId);
    if (mark === this.generation) {
      if (this.members.size >= this.max) this.members.clear();
      this.members.set(key, member);
    }
    return member;
  }

  /** The person's memberships are read afresh from now on (their role or departments changed). */
  forgetPerson(userId: string): void {
    this.generation++;
    const suffix = ` ${userId}`;
    for (const key of this.members.keys()) if (key.endsWith(suffix)) this.members.delete(key);
  }

  get(conversationId: string): AccountAccessFacts | undefined {
    return this.known.get(conversationId);
  }

  /** Taken before reading facts to `remember`: they are kept only if nothing was forgotten since. */
  mark(): number {
    return this.generation;
  }

  remember(conversationId: string, account: AccountAccessFacts, mark: number): void {
    if (mark !== this.generation) return;
    if (this.known.size >= this.max) this.known.clear();
    this.known.set(conversationId, { id: account.id, kind: account.kind, departmentId: account.departmentId, ownerUserId: account.ownerUserId });
  }

  /** The account's conversations and members are read afresh from now on (it may be gone). */
  forgetAccount(accountId: string): void {
    this.generation++;
    for (const [conversationId, account] of this.known) if (account.id === accountId) this.known.delete(conversationId);
    const prefix = `${accountId} `;
    for (const key of this.members.keys()) if (key.startsWith(prefix)) this.members.delete(key);
  }
}

/**
 * What access depends on of the account of a conversation the principal may use, for callers
 * that need nothing else of either (the lock commands, many a second): the same answers as
 * accessibleConversation, without re-reading a conversation and an account already known.
 */
export async function accessibleConversationAccount(c: CoreContext, p: Principal, id: string, accounts: ConversationAccounts): Promise<AccountAccessFacts> {
  const isMember: MembershipReader = (accountId, userId) => accounts.isMember(c, accountId, userId);
  const known = accounts.get(id);
  if (known === undefined) {
    const mark = accounts.mark();
    const { account } = await accessibleConversation(c, p, id, isMember);
    accounts.remember(id, account, mark);
    return account;
  }
  if (!(await canAccess(c, p, known, isMember))) throw notFound('Conversation');
  return known;
}
