import type { Account, Contact, Department, Role, User } from '../domain/types.js';
import type { ContactImportRow } from '../store/store.js';
import type { Principal } from '../auth/principal.js';
import type { CoreContext } from './context.js';
import type { Config } from '../config.js';
import type { NumberService } from './number-service.js';
import { AppError, forbidden, notFound, type FieldIssue } from '../errors.js';
import { hashPassword } from '../auth/passwords.js';
import { canManageDepartment, canUseGroupAccount, isAdmin } from '../auth/access.js';
import { requireUser, type AuthService } from './auth-service.js';
import { provisionUser } from './provision-user.js';
import { membershipEvent } from './group-account-service.js';
import { newId } from '../ids.js';
import { CsvError, readCsvRows } from '../domain/csv.js';
import { importColumns, importRow, type ImportColumns, type ImportRowContext } from '../domain/contact-import.js';
import { isTimeZone } from '../domain/time-zone.js';
import { tagsOrRefuse } from '../domain/contact-fields.js';
import { definedOnly } from '../store/adapter-rules.js';

// Departments, people and students.

export const MAX_IMPORT_ROWS = 50_000;
/** Bad rows reported by one failed import; the message still counts them all. */
export const MAX_REPORTED_ISSUES = 200;

/** What the directory reads from the configuration. */
export type DirectorySettings = Pick<Config, 'defaultTimeZone'>;

export class DirectoryService {
  constructor(
    private readonly c: CoreContext,
    private readonly numbers: NumberService,
    private readonly auth: AuthService,
    private readonly settings: DirectorySettings,
  ) {}

  // --- departments -------------------------------------------------------------------------

  async listDepartments(p: Principal): Promise<Department[]> {
    const all = await this.c.store.departments.list();
    if (p.kind === 'apiKey') return all.filter((d) => d.id === p.apiKey.departmentId);
    return p.user.role === 'owner' ? all : all.filter((d) => p.user.departmentIds.includes(d.id));
  }

  async createDepartment(p: Principal, input: { name: string; code: string; timeZone?: string | undefined }): Promise<Department> {
    if (requireUser(p).role !== 'owner') throw forbidden('Only an owner can create departments');
    const timeZone = input.timeZone ?? this.settings.defaultTimeZone;
    if (!isTimeZone(timeZone)) {
      throw new AppError('validation_failed', 'timeZone must be an IANA time zone', {
        details: [{ path: 'timeZone', message: 'must be an IANA time zone such as America/Chicago' }],
      });
    }
    return this.c.store.departments.create({ id: newId(), name: input.name, code: input.code, timeZone, createdAt: this.c.clock.now() });
  }

  // --- users -------------------------------------------------------------------------------

  async listUsers(p: Principal, filter: { departmentId?: string | undefined }): Promise<User[]> {
    const me = requireUser(p);
    if (!isAdmin(me)) throw forbidden('Only an owner or a department admin can list users');
    const users = await this.c.store.users.list(filter.departmentId ? { departmentId: filter.departmentId } : {});
    if (me.role === 'owner') return users;
    return users.filter((u) => u.departmentIds.some((d) => me.departmentIds.includes(d)));
  }

  async getUser(p: Principal, id: string): Promise<User> {
    const me = requireUser(p);
    const user = await this.c.store.users.get(id);
    if (!user) throw notFound('User');
    if (me.id === id || me.role === 'owner') return user;
    if (me.role === 'deptAdmin' && user.departmentIds.some((d) => me.departmentIds.includes(d))) return user;
    throw notFound('User');
  }

  async createUser(
    p: Principal,
    input: {
      email: string;
      name: string;
      role: Role;
      departmentIds: string[];
      password: string;
      personalNumber?: string | undefined;
      personalAreaCode?: string | undefined;
    },
  ): Promise<{ user: User; personalNumber: string }> {
    const me = requireUser(p);
    await this.checkAssignable(me, input.role, input.departmentIds);
    if (await this.c.store.users.getByEmail(input.email)) throw new AppError('email_taken', 'A user with this email exists');

    let number: string;
    if (input.personalNumber !== undefined) {
      if ((await this.c.store.accounts.numbersInUse([input.personalNumber])).length > 0) {
        throw new AppError('number_taken', `${input.personalNumber} is already used by another account`);
      }
      await this.numbers.acquire([input.personalNumber]);
      number = input.personalNumber;
    } else {
      number = await this.numbers.acquireAny(input.personalAreaCode!);
    }

    const user = await provisionUser(
      this.c,
      this.numbers,
      {
        id: newId(),
        email: input.email,
        name: input.name,
        role: input.role,
        departmentIds: [...new Set(input.departmentIds)],
        passwordHash: await hashPassword(input.password),
        disabled: false,
        createdAt: this.c.clock.now(),
      },
      number,
    );
    return { user, personalNumber: number };
  }

  async updateUser(
    p: Principal,
    id: string,
    patch: {
      name?: string | undefined;
      role?: Role | undefined;
      departmentIds?: string[] | undefined;
      password?: string | undefined;
      currentPassword?: string | undefined;
      disabled?: boolean | undefined;
    },
  ): Promise<User> {
    const me = requireUser(p);
    const target = await this.getUser(p, id);
    const self = me.id === target.id;
    const adminFields = patch.role !== undefined || patch.departmentIds !== undefined || patch.disabled !== undefined;
    if (self) {
      if (adminFields && me.role !== 'owner') throw forbidden('You cannot change your own role, departments or status');
      if (patch.password !== undefined) await this.auth.confirmPassword(me, patch.currentPassword);
    } else {
      requireManages(me, target);
    }
    if (adminFields) await this.checkAssignable(me, patch.role ?? target.role, patch.departmentIds ?? target.departmentIds);
    // A disabled person, or one whose password changed, must sign in again everywhere.
    const endSessions = patch.disabled === true || patch.password !== undefined;
    // One store write changes the person, drops the memberships their departments no longer
    // allow and ends their sessions: a crash cannot leave the new departments with the old
    // memberships, nor a new password with the old sessions. The events after it only tell
    // live connections and locks; if the process dies first, those die with it, and every
    // request after a restart reads access from the store.
    const { user: updated, leftAccountIds } = await this.c.store.users.update(
      id,
      {
        ...(patch.name !== undefined ? { name: patch.name } : {}),
        ...(patch.role !== undefined ? { role: patch.role } : {}),
        ...(patch.departmentIds !== undefined ? { departmentIds: [...new Set(patch.departmentIds)] } : {}),
        ...(patch.password !== undefined ? { passwordHash: await hashPassword(patch.password) } : {}),
        ...(patch.disabled !== undefined ? { disabled: patch.disabled } : {}),
      },
      endSessions ? { endSessionsAt: this.c.clock.now() } : {},
    );
    // Live sockets judge their next command on the person as stored now.
    this.c.events.emit({ type: 'userChanged', userId: id });
    if (endSessions) this.c.events.emit({ type: 'sessionRevoked', userId: id, tokenHash: null });
    if (patch.role !== undefined || patch.departmentIds !== undefined) {
      const { lost, gained } = await this.groupAccessChanges(target, updated, leftAccountIds);
      // Lost: their sockets are unsubscribed (access_revoked) and their locks there released.
      for (const account of lost) this.c.events.emit(membershipEvent(account, [id], []));
      // Gained (a new role or department): their sockets are told (accessGranted).
      for (const account of gained) this.c.events.emit(membershipEvent(account, [], [id]));
    }
    return updated;
  }

  /**
   * The group accounts `before` could use and `after` cannot (memberships they left, the accounts
   * of departments they no longer manage: a department admin moved, an owner demoted), and those
   * `after` can use and `before` could not (a department they now manage).
   */
  private async groupAccessChanges(before: User, after: User, leftAccountIds: string[]): Promise<{ lost: Account[]; gained: Account[] }> {
    const memberNow = new Set((await this.c.store.accounts.listGroup({ memberId: after.id })).map((a) => a.id));
    const memberBefore = new Set([...memberNow, ...leftAccountIds]);
    const lost: Account[] = [];
    const gained: Account[] = [];
    for (const a of await this.c.store.accounts.listGroup()) {
      const could = canUseGroupAccount(before, a, memberBefore.has(a.id));
      const can = canUseGroupAccount(after, a, memberNow.has(a.id));
      if (could && !can) lost.push(a);
      if (can && !could) gained.push(a);
    }
    return { lost, gained };
  }

  /** May `me` give someone this role in these departments? */
  private async checkAssignable(me: User, role: Role, departmentIds: string[]): Promise<void> {
    if (!isAdmin(me)) throw forbidden('Only an owner or a department admin can manage users');
    if (role === 'owner' && me.role !== 'owner') throw forbidden('Only an owner can make an owner');
    for (const d of departmentIds) {
      if (!(await this.c.store.departments.get(d))) {
        throw new AppError('validation_failed', 'Unknown department', { details: [{ path: 'departmentIds', message: `no department ${d}` }] });
      }
      if (!canManageDepartment(me, d)) throw forbidden('You can only place people in departments you manage');
    }
    if (role !== 'owner' && departmentIds.length === 0) {
      throw new AppError('validation_failed', 'A department admin or staff member needs a department', {
        details: [{ path: 'departmentIds', message: 'give at least one department' }],
      });
    }
  }

  // --- contacts ----------------------------------------------------------------------------
  // Students are the organisation's: every signed-in person (and integration) can find them to
  // text them; importing lists is an admin's job.

  async listContacts(_p: Principal, q: { search?: string | undefined; staffId?: string | undefined; limit: number; offset: number }): Promise<Contact[]> {
    return this.c.store.contacts.list({
      limit: q.limit,
      offset: q.offset,
      ...(q.search ? { search: q.search } : {}),
      ...(q.staffId ? { staffId: q.staffId } : {}),
    });
  }

  async getContact(_p: Principal, id: string): Promise<Contact> {
    const c = await this.c.store.contacts.get(id);
    if (!c) throw notFound('Contact');
    return c;
  }

  async createContact(
    _p: Principal,
    input: { firstName: string; lastName: string; phone: string; staffId?: string | null | undefined; customFields: Record<string, string>; tags: string[] },
  ): Promise<Contact> {
    if (input.staffId) await this.requireStaff(input.staffId, 'staffId');
    const tags = tagsOrRefuse(input.tags, 'tags');
    const now = this.c.clock.now();
    return this.c.store.contacts.create({
      id: newId(),
      firstName: input.firstName,
      lastName: input.lastName,
      phone: input.phone,
      staffId: input.staffId ?? null,
      customFields: input.customFields,
      tags,
      createdAt: now,
      updatedAt: now,
    });
  }

  /**
   * Changing a contact that exists (names, assignment, custom fields, tags) is an admin's job, as
   * importing is: staff and API keys add contacts but change none (docs/access.md).
   */
  async updateContact(
    p: Principal,
    id: string,
    patch: { firstName?: string | undefined; lastName?: string | undefined; staffId?: string | null | undefined; customFields?: Record<string, string> | undefined; tags?: string[] | undefined },
  ): Promise<Contact> {
    if (!isAdmin(requireUser(p))) throw forbidden('Only an owner or a department admin can change contacts');
    if (patch.staffId) await this.requireStaff(patch.staffId, 'staffId');
    return this.c.store.contacts.update(
      id,
      definedOnly({
        firstName: patch.firstName,
        lastName: patch.lastName,
        staffId: patch.staffId,
        customFields: patch.customFields,
        tags: patch.tags === undefined ? undefined : tagsOrRefuse(patch.tags, 'tags'),
      }),
      this.c.clock.now(),
    );
  }

  /**
   * CSV import, all or nothing: a file with any bad row imports nothing and every bad row is
   * reported (row number and column, the first MAX_REPORTED_ISSUES of them), so a person fixes the
   * file once instead of guessing what was kept. The file is read and checked a row at a time;
   * once a row is bad, good rows are no longer kept (nothing will be imported).
   */
  async importContacts(p: Principal, csv: string | Buffer): Promise<{ created: number; updated: number }> {
    if (!isAdmin(requireUser(p))) throw forbidden('Only an owner or a department admin can import contacts');
    const users = await this.c.store.users.list();
    const byId = new Set(users.map((u) => u.id));
    const byEmail = new Map(users.map((u) => [u.email.toLowerCase(), u.id]));
    const ctx: ImportRowContext = {
      staffUser: (s) => (byId.has(s) ? s : byEmail.get(s.toLowerCase())),
      seen: new Map(),
    };

    let columns: ImportColumns | null = null;
    const out: ContactImportRow[] = [];
    const issues: FieldIssue[] = [];
    let badRows = 0;
    try {
      for await (const { cells, row } of readCsvRows(csv)) {
        if (!columns) {
          columns = importColumns(cells);
          continue;
        }
        if (row - 1 > MAX_IMPORT_ROWS) throw new AppError('payload_too_large', `At most ${MAX_IMPORT_ROWS} rows per import`);
        const result = importRow(columns, cells, row, ctx);
        if ('issue' in result) {
          badRows++;
          if (issues.length < MAX_REPORTED_ISSUES) issues.push(result.issue);
          out.length = 0;
        } else if (badRows === 0) {
          out.push(result.contact);
        }
      }
    } catch (e) {
      if (e instanceof CsvError) throw new AppError('validation_failed', `The CSV is malformed: ${e.message}`, { details: [{ path: `line ${e.line}`, message: e.message }] });
      throw e;
    }
    if (!columns) throw new AppError('validation_failed', 'The CSV is empty; the first row must name the columns');
    if (badRows > 0) {
      throw new AppError('validation_failed', `${badRows} row(s) need fixing; nothing was imported`, { details: issues });
    }
    return this.c.store.contacts.importRows(out, this.c.clock.now(), () => newId());
  }

  private async requireStaff(userId: string, path: string): Promise<void> {
    if (!(await this.c.store.users.get(userId))) {
      throw new AppError('validation_failed', 'Unknown user', { details: [{ path, message: `no user ${userId}` }] });
    }
  }
}

/**
 * May `me` change someone else at all (their name, password, role, departments, status)? Owners
 * may change anyone. A department admin only people all of whose departments they manage: a
 * person shared with another department is that department's business too (a password reset
 * would let the admin sign in as them and act in the other department). Reading them, adding
 * them to one's own department's group accounts and taking over their locks there stay open.
 */
function requireManages(me: User, target: User): void {
  if (me.role === 'owner') return;
  if (!isAdmin(me)) throw forbidden('You can only change your own profile');
  if (target.role === 'owner') throw forbidden('Only an owner can change an owner');
  if (!target.departmentIds.every((d) => canManageDepartment(me, d))) {
    throw forbidden(`${target.name} also belongs to a department you do not manage: only an owner or an admin of all their departments can change them`);
  }
}
