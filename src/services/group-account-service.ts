import type { Account, User } from '../domain/types.js';
import { personPrincipal, type Principal } from '../auth/principal.js';
import type { CoreContext } from './context.js';
import type { NumberService } from './number-service.js';
import { AppError, forbidden, notFound, type FieldIssue } from '../errors.js';
import { canManageAccount, canUseGroupAccount, hasAccountAccess } from '../auth/access.js';
import { requireDepartmentAdmin, requireUser } from './auth-service.js';
import { uniqueApiCode } from '../domain/api-code.js';
import { lostAccounts, resolveAccountRef } from './account-access.js';
import { newId } from '../ids.js';
import type { CoreEvent } from '../events.js';

// Group accounts: shared, department-owned texting accounts with a pool of six numbers.

/** The event telling people they lost (`removed`) or were given (`added`) access to the account. */
export function membershipEvent(account: Account, removed: string[], added: string[]): Extract<CoreEvent, { type: 'membership' }> {
  return { type: 'membership', accountId: account.id, apiCode: account.apiCode, name: account.name, removedUserIds: removed, addedUserIds: added };
}

export interface GroupAccountInput {
  name: string;
  apiCode?: string | undefined;
  departmentId: string;
  color: string;
  numbers: string[];
  forwardingNumber?: string | null | undefined;
  memberIds: string[];
}

export interface GroupAccountPatchInput {
  name?: string | undefined;
  apiCode?: string | undefined;
  color?: string | undefined;
  numbers?: string[] | undefined;
  forwardingNumber?: string | null | undefined;
}

export class GroupAccountService {
  constructor(
    private readonly c: CoreContext,
    private readonly numbers: NumberService,
  ) {}

  async create(p: Principal, input: GroupAccountInput): Promise<{ account: Account; memberIds: string[] }> {
    await requireDepartmentAdmin(this.c, requireUser(p), input.departmentId);
    const issues: FieldIssue[] = [];
    if (input.forwardingNumber && input.numbers.includes(input.forwardingNumber)) {
      issues.push({ path: 'forwardingNumber', message: 'must not be one of the pool numbers (calls would loop)' });
    }
    issues.push(...(await this.memberIssues(input.departmentId, input.memberIds)));
    if (issues.length > 0) throw new AppError('validation_failed', 'The group account has invalid fields', { details: issues });

    const apiCode =
      input.apiCode ?? (await uniqueApiCode(input.name, async (code) => (await this.c.store.accounts.getByApiCode(code)) !== null));
    if (input.apiCode && (await this.c.store.accounts.getByApiCode(input.apiCode))) {
      throw new AppError('api_code_taken', `apiCode "${input.apiCode}" is already used`);
    }
    await this.requireFree(input.numbers);

    await this.numbers.acquire(input.numbers);
    const now = this.c.clock.now();
    const members = [...new Set(input.memberIds)];
    let account: Account;
    try {
      account = await this.c.store.accounts.create(
        {
          id: newId(),
          kind: 'group',
          name: input.name,
          apiCode,
          departmentId: input.departmentId,
          ownerUserId: null,
          color: input.color,
          forwardingNumber: input.forwardingNumber ?? null,
          numbers: input.numbers,
          createdAt: now,
          updatedAt: now,
        },
        members,
      );
    } catch (e) {
      await this.numbers.release(input.numbers);
      throw e;
    }
    // Everyone who may use the new account sees it appear: its members, the department's admins, owners.
    this.c.events.emit(membershipEvent(account, [], await this.usersOf(account, members)));
    return { account, memberIds: members };
  }

  /** Every account a person can use: their personal account first, then the group accounts. */
  async usableBy(user: User): Promise<Account[]> {
    const personal = await this.c.store.accounts.getPersonal(user.id);
    return [...(personal ? [personal] : []), ...(await this.list(personPrincipal(user)))];
  }

  /** The account behind `personal` or an apiCode, when the principal may use it (else not_found). */
  resolve(p: Principal, ref: string): Promise<Account> {
    return resolveAccountRef(this.c, p, ref);
  }

  /** Of these accounts, the ones the principal can no longer use. */
  lostBy(p: Principal, accountIds: Iterable<string>): Promise<string[]> {
    return lostAccounts(this.c, p, accountIds);
  }

  /** The group accounts this principal has access to. */
  async list(p: Principal): Promise<Account[]> {
    if (p.kind === 'apiKey') return this.c.store.accounts.listGroup({ departmentId: p.apiKey.departmentId });
    const { user } = p;
    if (user.role === 'owner') return this.c.store.accounts.listGroup();
    const byId = new Map<string, Account>();
    for (const a of await this.c.store.accounts.listGroup({ memberId: user.id })) {
      if (canUseGroupAccount(user, a, true)) byId.set(a.id, a);
    }
    if (user.role === 'deptAdmin') {
      for (const d of user.departmentIds) {
        for (const a of await this.c.store.accounts.listGroup({ departmentId: d })) byId.set(a.id, a);
      }
    }
    return [...byId.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The account by apiCode when the principal has access; "not found" otherwise (existence is not leaked). */
  async get(p: Principal, apiCode: string): Promise<Account> {
    const account = await this.c.store.accounts.getByApiCode(apiCode);
    if (!account || account.kind !== 'group') throw notFound('Group account');
    const member = p.kind === 'user' && (await this.c.store.accounts.isMember(account.id, p.user.id));
    if (!hasAccountAccess(p, account, member)) throw notFound('Group account');
    return account;
  }

  async members(p: Principal, apiCode: string): Promise<string[]> {
    const account = await this.get(p, apiCode);
    return this.c.store.accounts.listMembers(account.id);
  }

  async update(p: Principal, apiCode: string, patch: GroupAccountPatchInput): Promise<Account> {
    const account = await this.manageable(p, apiCode);
    const numbers = patch.numbers ?? account.numbers;
    if (patch.forwardingNumber && numbers.includes(patch.forwardingNumber)) {
      throw new AppError('validation_failed', 'The group account has invalid fields', {
        details: [{ path: 'forwardingNumber', message: 'must not be one of the pool numbers (calls would loop)' }],
      });
    }
    if (patch.apiCode && patch.apiCode !== account.apiCode) {
      const other = await this.c.store.accounts.getByApiCode(patch.apiCode);
      if (other && other.id !== account.id) throw new AppError('api_code_taken', `apiCode "${patch.apiCode}" is already used`);
    }
    const added = patch.numbers ? patch.numbers.filter((n) => !account.numbers.includes(n)) : [];
    const removed = patch.numbers ? account.numbers.filter((n) => !patch.numbers!.includes(n)) : [];
    await this.requireFree(added);
    await this.numbers.acquire(added);
    let updated: Account;
    try {
      updated = await this.c.store.accounts.update(
        account.id,
        {
          ...(patch.name !== undefined ? { name: patch.name } : {}),
          ...(patch.apiCode !== undefined ? { apiCode: patch.apiCode } : {}),
          ...(patch.color !== undefined ? { color: patch.color } : {}),
          ...(patch.forwardingNumber !== undefined ? { forwardingNumber: patch.forwardingNumber } : {}),
          ...(patch.numbers !== undefined ? { numbers: patch.numbers } : {}),
        },
        this.c.clock.now(),
      );
    } catch (e) {
      await this.numbers.release(added);
      throw e;
    }
    await this.numbers.release(removed);
    return updated;
  }

  async delete(p: Principal, apiCode: string): Promise<void> {
    const account = await this.manageable(p, apiCode);
    // Everyone who could use it loses it: its members, and the department's admins and owners.
    const users = await this.usersOf(account, await this.c.store.accounts.listMembers(account.id));
    await this.c.store.accounts.delete(account.id);
    await this.numbers.release(account.numbers);
    this.c.events.emit(membershipEvent(account, users, []));
  }

  async setMembers(p: Principal, apiCode: string, memberIds: string[]): Promise<string[]> {
    const account = await this.manageable(p, apiCode);
    const issues = await this.memberIssues(account.departmentId!, memberIds);
    if (issues.length > 0) throw new AppError('validation_failed', 'Some members cannot be added', { details: issues });
    const { added, removed } = await this.c.store.accounts.setMembers(account.id, [...new Set(memberIds)]);
    // Removal takes effect at once, also on open connections: the gateway listens for this. A
    // member added or removed who can use the account anyway (an admin of its department, an
    // owner) gains or loses nothing: they are not told, and keep their locks.
    const changed = async (ids: string[]) => {
      const out: string[] = [];
      for (const id of ids) {
        const u = await this.c.store.users.get(id);
        if (u && !canUseGroupAccount(u, account, false)) out.push(id);
      }
      return out;
    };
    this.c.events.emit(membershipEvent(account, await changed(removed), await changed(added)));
    return this.c.store.accounts.listMembers(account.id);
  }

  private async manageable(p: Principal, apiCode: string): Promise<Account> {
    const account = await this.get(p, apiCode);
    if (!canManageAccount(p, account)) throw forbidden('Only an owner or an admin of its department can change a group account');
    return account;
  }

  /** The active people who may use the account with these members: members, the department's admins, owners. */
  private async usersOf(account: Account, memberIds: string[]): Promise<string[]> {
    const members = new Set(memberIds);
    const users = await this.c.store.users.list();
    return users.filter((u) => !u.disabled && canUseGroupAccount(u, account, members.has(u.id))).map((u) => u.id);
  }

  private async requireFree(numbers: string[]): Promise<void> {
    const inUse = await this.c.store.accounts.numbersInUse(numbers);
    if (inUse.length > 0) throw new AppError('number_taken', `Already used by another account: ${inUse.join(', ')}`);
  }

  /** Members must be active people of the account's department (owners may be members anywhere). */
  private async memberIssues(departmentId: string, memberIds: string[]): Promise<FieldIssue[]> {
    const issues: FieldIssue[] = [];
    for (const [i, id] of memberIds.entries()) {
      const u = await this.c.store.users.get(id);
      if (!u) issues.push({ path: `memberIds.${i}`, message: `no user ${id}` });
      else if (u.disabled) issues.push({ path: `memberIds.${i}`, message: `${u.name} is disabled` });
      else if (u.role !== 'owner' && !u.departmentIds.includes(departmentId)) {
        issues.push({ path: `memberIds.${i}`, message: `${u.name} is not in the account's department` });
      }
    }
    return issues;
  }
}
