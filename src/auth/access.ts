import type { Account, User } from '../domain/types.js';
import type { Principal } from './principal.js';

// The access rules, in one place (docs/access.md explains them to people):
// - owner: every department, every account (group accounts; personal accounts stay personal).
// - deptAdmin: manages the departments they belong to, and has access to those departments'
//   group accounts (they create them, take over locks and answer for them).
// - staff: the group accounts they are members of, and their own personal account. A membership
//   counts only while the person belongs to the account's department (owners: anywhere).
// - an API key: the group accounts of its department.
// Personal accounts belong to their user alone.

export function canManageDepartment(user: User, departmentId: string): boolean {
  return user.role === 'owner' || (user.role === 'deptAdmin' && user.departmentIds.includes(departmentId));
}

export function isAdmin(user: User): boolean {
  return user.role === 'owner' || user.role === 'deptAdmin';
}

/** What of an account access depends on: none of it changes while the account exists. */
export type AccountAccessFacts = Pick<Account, 'id' | 'kind' | 'departmentId' | 'ownerUserId'>;

/**
 * May this principal read the account's conversations and send from it? A membership only ever
 * adds access: without one the answer is the same or no.
 */
export function hasAccountAccess(p: Principal, account: AccountAccessFacts, isMember: boolean): boolean {
  if (account.kind === 'personal') return p.kind === 'user' && account.ownerUserId === p.user.id;
  if (p.kind === 'apiKey') return account.departmentId === p.apiKey.departmentId;
  return canUseGroupAccount(p.user, account, isMember);
}

/**
 * May this person use the group account? Leaving a department removes its memberships in the
 * same store write; checking the department here as well keeps a membership that outlived it (a
 * write racing the move, data from before the rule) from granting anything.
 */
export function canUseGroupAccount(user: User, account: Pick<Account, 'departmentId'>, isMember: boolean): boolean {
  if (account.departmentId === null) return false;
  return canManageDepartment(user, account.departmentId) || (isMember && user.departmentIds.includes(account.departmentId));
}

/** May this principal change the account's details, pool and members? */
export function canManageAccount(p: Principal, account: Account): boolean {
  return p.kind === 'user' && account.kind === 'group' && account.departmentId !== null && canManageDepartment(p.user, account.departmentId);
}
