import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Account, Campaign, CampaignCounts, Contact, ContactFilter, Conversation, Department, ExpansionCursor } from '../../src/domain/types.js';
import { LOCK_TOKEN_EPOCH_SPAN, type ContactImportRow, type LockRecord, type NewIdempotencyRecord, type NewRecipient, type Store } from '../../src/store/store.js';
import { newId } from '../../src/ids.js';
import {
  T0,
  contact,
  conversation,
  department,
  groupAccount,
  inboundMessage,
  outboundMessage,
  personalAccount,
  phone,
  rejection,
  user,
} from './store-fixtures.js';

// The one contract every Store implementation passes (src/store/store.ts is the spec). Each test
// gets a fresh, empty store from `make`; `reopen` (when the implementation can) closes a store and
// opens a new one on the same data, to check that resolved writes are durable.

export interface StoreContractOptions {
  reopen?: (store: Store) => Promise<Store>;
}

export function storeContract(name: string, make: () => Promise<Store>, options: StoreContractOptions = {}): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;

    beforeEach(async () => {
      store = await make();
    });

    afterEach(async () => {
      await store.close();
    });

    /** A group account with a department, created in the store. */
    async function givenGroupAccount(over: Partial<Account> = {}, memberIds: string[] = []): Promise<Account> {
      const d = await store.departments.create(department());
      return store.accounts.create(groupAccount(d.id, over), memberIds);
    }

    async function givenContact(over: Partial<Contact> = {}): Promise<Contact> {
      return store.contacts.create(contact(over));
    }

    /** A conversation started by an outbound text (so it sits in Archived), with its contact. */
    async function givenConversation(
      account: Account,
      over: { at?: number; contact?: Contact; folder?: Conversation['folder'] } = {},
    ): Promise<{ conversation: Conversation; contact: Contact }> {
      const c = over.contact ?? (await givenContact());
      const [result] = await store.messages.enqueueOutbound([
        {
          message: outboundMessage({ account, contact: c, ...(over.at === undefined ? {} : { at: over.at }) }),
          conversation: conversation(account.id, c.id, { folder: over.folder ?? 'archived' }),
        },
      ]);
      return { conversation: result!.conversation, contact: c };
    }

    describe('store', () => {
      it('is empty before anything is stored and not after', async () => {
        expect(await store.isEmpty()).toBe(true);
        await store.departments.create(department());
        expect(await store.isEmpty()).toBe(false);
      });

      it('names its kind', () => {
        expect(['sqlite', 'mongo']).toContain(store.kind);
      });

      it('commits writes issued together, failing only the one that conflicts', async () => {
        const a = department({ code: 'ADM' });
        const clash = department({ code: 'adm' });
        const b = department({ code: 'FIN' });
        const results = await Promise.allSettled([
          store.departments.create(a),
          store.departments.create(clash),
          store.departments.create(b),
        ]);
        expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
        expect((await store.departments.list()).map((d) => d.id).sort()).toEqual([a.id, b.id].sort());
      });

      it.runIf(options.reopen !== undefined)('keeps everything it resolved across a close and reopen', async () => {
        const account = await givenGroupAccount({}, ['user-a']);
        const { conversation: c, contact: student } = await givenConversation(account);
        await store.contacts.setOptOut({ contactId: student.id, scope: 'personal', optedOutAt: T0, source: 'keyword' });
        const inbound = await store.messages.recordInbound({
          message: inboundMessage({ account, contact: student, at: T0 + 1_000 }),
          conversation: conversation(account.id, student.id),
        });
        // Not awaited one by one: these ride in one group commit, and close must still land them.
        const pending = [
          store.users.create(user({ email: 'dana@example.edu' })),
          store.conversations.advanceLockToken(c.id, 0, 1),
        ];
        store = await options.reopen!(store);
        await Promise.all(pending);

        expect(await store.accounts.getByApiCode(account.apiCode!)).toEqual(account);
        expect(await store.accounts.listMembers(account.id)).toEqual(['user-a']);
        expect(await store.users.getByEmail('dana@example.edu')).not.toBeNull();
        expect(await store.contacts.listOptOuts(student.id)).toHaveLength(1);
        const reopened = await store.conversations.get(c.id);
        expect(reopened).toMatchObject({ folder: 'inbox', unread: 1, lockToken: 1 });
        expect(await store.messages.getByProviderId(inbound.message.providerId!)).toEqual(inbound.message);
      });
    });

    describe('departments', () => {
      it('reads a department back by id and by code in any case', async () => {
        const d = await store.departments.create(department({ code: 'ADM', name: 'Admissions' }));
        expect(await store.departments.get(d.id)).toEqual(d);
        expect(await store.departments.getByCode('adm')).toEqual(d);
        expect(await store.departments.getByCode('ADM')).toEqual(d);
      });

      it('answers null for an unknown department', async () => {
        expect(await store.departments.get('nope')).toBeNull();
        expect(await store.departments.getByCode('NOPE')).toBeNull();
      });

      it('refuses a code that differs from a used one only in case', async () => {
        await store.departments.create(department({ code: 'Adm' }));
        const e = await rejection(store.departments.create(department({ code: 'aDM' })), 'department_code_taken');
        expect(e.message).toContain('aDM');
        expect(await store.departments.list()).toHaveLength(1);
      });

      it('lists departments by name, ignoring case', async () => {
        await store.departments.create(department({ name: 'financial aid' }));
        await store.departments.create(department({ name: 'Admissions' }));
        await store.departments.create(department({ name: 'Advising' }));
        expect((await store.departments.list()).map((d) => d.name)).toEqual(['Admissions', 'Advising', 'financial aid']);
      });
    });

    describe('users', () => {
      it('reads a user back by id and by email in any case', async () => {
        const u = await store.users.create(user({ email: 'Dana.Reyes@Example.edu', departmentIds: ['d1', 'd2'] }));
        expect(await store.users.get(u.id)).toEqual(u);
        expect(await store.users.getByEmail('dana.reyes@example.EDU')).toEqual(u);
        expect(await store.users.get('nope')).toBeNull();
        expect(await store.users.getByEmail('nobody@example.edu')).toBeNull();
      });

      it('refuses an email that differs from a used one only in case', async () => {
        await store.users.create(user({ email: 'dana@example.edu' }));
        await rejection(store.users.create(user({ email: 'DANA@example.edu' })), 'email_taken');
      });

      it('lists users by name, all or those of one department', async () => {
        await store.users.create(user({ name: 'Zoe', departmentIds: ['adm'] }));
        await store.users.create(user({ name: 'adam', departmentIds: ['fin'] }));
        await store.users.create(user({ name: 'Bea', departmentIds: ['fin', 'adm'] }));
        expect((await store.users.list()).map((u) => u.name)).toEqual(['adam', 'Bea', 'Zoe']);
        expect((await store.users.list({ departmentId: 'adm' })).map((u) => u.name)).toEqual(['Bea', 'Zoe']);
        expect(await store.users.list({ departmentId: 'none' })).toEqual([]);
      });

      it('updates the given fields and leaves the others', async () => {
        const u = await store.users.create(user({ name: 'Dana', role: 'staff', departmentIds: ['adm'] }));
        const { user: updated, leftAccountIds } = await store.users.update(u.id, { role: 'deptAdmin', disabled: true, name: undefined });
        expect(updated).toEqual({ ...u, role: 'deptAdmin', disabled: true });
        expect(leftAccountIds).toEqual([]);
        expect(await store.users.get(u.id)).toEqual(updated);
      });

      it('replaces the departments a user belongs to', async () => {
        const u = await store.users.create(user({ departmentIds: ['adm'] }));
        await store.users.update(u.id, { departmentIds: ['fin', 'aid'] });
        expect((await store.users.get(u.id))?.departmentIds).toEqual(['fin', 'aid']);
        expect(await store.users.list({ departmentId: 'adm' })).toEqual([]);
        expect((await store.users.list({ departmentId: 'aid' })).map((x) => x.id)).toEqual([u.id]);
      });

      it('changes an email unless another user has it', async () => {
        const dana = await store.users.create(user({ email: 'dana@example.edu' }));
        await store.users.create(user({ email: 'sam@example.edu' }));
        await rejection(store.users.update(dana.id, { email: 'Sam@example.edu' }), 'email_taken');
        expect((await store.users.get(dana.id))?.email).toBe('dana@example.edu');
        const { user: renamed } = await store.users.update(dana.id, { email: 'DANA@example.edu' });
        expect(renamed.email).toBe('DANA@example.edu');
        expect(await store.users.getByEmail('dana@EXAMPLE.edu')).toEqual(renamed);
      });

      it('refuses to update an unknown user', async () => {
        await rejection(store.users.update('nope', { name: 'X' }), 'not_found');
      });

      /** Two departments with a group account each, and a staff member of both who is a member of both accounts. */
      async function givenMemberOfTwoDepartments() {
        const [adm, fin] = [await store.departments.create(department()), await store.departments.create(department())];
        const u = await store.users.create(user({ departmentIds: [adm.id, fin.id] }));
        const admAccount = await store.accounts.create(groupAccount(adm.id), [u.id, 'someone-else']);
        const finAccount = await store.accounts.create(groupAccount(fin.id), [u.id]);
        return { adm, fin, u, admAccount, finAccount };
      }

      it('takes a user who leaves a department out of its group accounts, in the same write', async () => {
        const { fin, u, admAccount, finAccount } = await givenMemberOfTwoDepartments();
        const { user: moved, leftAccountIds } = await store.users.update(u.id, { departmentIds: [fin.id] });
        expect(moved.departmentIds).toEqual([fin.id]);
        expect(leftAccountIds).toEqual([admAccount.id]);
        expect(await store.accounts.listMembers(admAccount.id)).toEqual(['someone-else']);
        expect(await store.accounts.listMembers(finAccount.id)).toEqual([u.id]);
        expect((await store.accounts.listGroup({ memberId: u.id })).map((a) => a.id)).toEqual([finAccount.id]);
        // Nothing left to leave the next time.
        expect((await store.users.update(u.id, { name: 'Renamed' })).leftAccountIds).toEqual([]);
      });

      it("keeps an owner's memberships anywhere, and drops them when the owner becomes staff", async () => {
        const { fin, u, admAccount, finAccount } = await givenMemberOfTwoDepartments();
        expect((await store.users.update(u.id, { role: 'owner', departmentIds: [] })).leftAccountIds).toEqual([]);
        expect(await store.accounts.listMembers(admAccount.id)).toContain(u.id);
        const { leftAccountIds } = await store.users.update(u.id, { role: 'staff', departmentIds: [fin.id] });
        expect(leftAccountIds).toEqual([admAccount.id]);
        expect(await store.accounts.listMembers(finAccount.id)).toEqual([u.id]);
      });

      it("ends the user's live sessions in the same write when asked", async () => {
        const u = await store.users.create(user());
        const mine = [`hash-${newId()}`, `hash-${newId()}`];
        const theirs = `hash-${newId()}`;
        for (const tokenHash of mine) await store.sessions.create({ tokenHash, userId: u.id, createdAt: T0, expiresAt: T0 + 3_600_000, revokedAt: null });
        await store.sessions.create({ tokenHash: theirs, userId: 'someone-else', createdAt: T0, expiresAt: T0 + 3_600_000, revokedAt: null });

        await store.users.update(u.id, { name: 'Kept sessions' });
        for (const tokenHash of mine) expect((await store.sessions.get(tokenHash))?.revokedAt).toBeNull();
        await store.users.update(u.id, { passwordHash: 'scrypt$new' }, { endSessionsAt: T0 + 7 });
        for (const tokenHash of mine) expect((await store.sessions.get(tokenHash))?.revokedAt).toBe(T0 + 7);
        expect((await store.sessions.get(theirs))?.revokedAt).toBeNull();
      });

      it('changes nothing at all when the update is refused', async () => {
        const { fin, u, admAccount } = await givenMemberOfTwoDepartments();
        await store.users.create(user({ email: 'taken@example.edu' }));
        const tokenHash = `hash-${newId()}`;
        await store.sessions.create({ tokenHash, userId: u.id, createdAt: T0, expiresAt: T0 + 3_600_000, revokedAt: null });
        await rejection(store.users.update(u.id, { email: 'taken@example.edu', departmentIds: [fin.id] }, { endSessionsAt: T0 + 1 }), 'email_taken');
        expect(await store.users.get(u.id)).toEqual(u);
        expect(await store.accounts.listMembers(admAccount.id)).toContain(u.id);
        expect((await store.sessions.get(tokenHash))?.revokedAt).toBeNull();
      });
    });

    describe('sessions', () => {
      const session = (userId: string, over: { expiresAt?: number } = {}) => ({
        tokenHash: `hash-${newId()}`,
        userId,
        createdAt: T0,
        expiresAt: over.expiresAt ?? T0 + 3_600_000,
        revokedAt: null,
      });

      it('stores a session and revokes it', async () => {
        const s = session('u1');
        await store.sessions.create(s);
        expect(await store.sessions.get(s.tokenHash)).toEqual(s);
        await store.sessions.revoke(s.tokenHash, T0 + 5);
        expect(await store.sessions.get(s.tokenHash)).toEqual({ ...s, revokedAt: T0 + 5 });
        expect(await store.sessions.get('unknown')).toBeNull();
      });

      it('keeps the first revocation time when revoked again', async () => {
        const s = session('u1');
        await store.sessions.create(s);
        await store.sessions.revoke(s.tokenHash, T0 + 5);
        await store.sessions.revoke(s.tokenHash, T0 + 9);
        expect((await store.sessions.get(s.tokenHash))?.revokedAt).toBe(T0 + 5);
      });

      it('refuses to revoke an unknown session', async () => {
        await rejection(store.sessions.revoke('unknown', T0), 'not_found');
      });

      it("revokes every live session of one user and counts them", async () => {
        const live = [session('u1'), session('u1')];
        const revoked = session('u1');
        const expired = session('u1', { expiresAt: T0 - 1 });
        const other = session('u2');
        for (const s of [...live, revoked, expired, other]) await store.sessions.create(s);
        await store.sessions.revoke(revoked.tokenHash, T0 - 10);

        expect(await store.sessions.revokeAllForUser('u1', T0)).toBe(2);
        for (const s of live) expect((await store.sessions.get(s.tokenHash))?.revokedAt).toBe(T0);
        expect((await store.sessions.get(revoked.tokenHash))?.revokedAt).toBe(T0 - 10);
        expect((await store.sessions.get(other.tokenHash))?.revokedAt).toBeNull();
        expect(await store.sessions.revokeAllForUser('u1', T0 + 1)).toBe(0);
      });
    });

    describe('API keys', () => {
      const apiKey = (departmentId: string, createdAt: number) => ({
        id: newId(createdAt),
        departmentId,
        name: `key ${createdAt}`,
        prefix: 'sbk_abcd',
        keyHash: `hash-${newId()}`,
        createdByUserId: 'u1',
        createdAt,
        revokedAt: null,
      });

      it('finds a key by its hash and revokes it', async () => {
        const k = await store.apiKeys.create(apiKey('d1', T0));
        expect(await store.apiKeys.getByHash(k.keyHash)).toEqual(k);
        await store.apiKeys.revoke(k.id, T0 + 1);
        expect((await store.apiKeys.getByHash(k.keyHash))?.revokedAt).toBe(T0 + 1);
        expect(await store.apiKeys.getByHash('unknown')).toBeNull();
      });

      it("lists a department's keys oldest first", async () => {
        const late = await store.apiKeys.create(apiKey('d1', T0 + 2));
        const early = await store.apiKeys.create(apiKey('d1', T0));
        await store.apiKeys.create(apiKey('d2', T0 + 1));
        expect((await store.apiKeys.listForDepartment('d1')).map((k) => k.id)).toEqual([early.id, late.id]);
      });

      it('refuses to revoke an unknown key', async () => {
        await rejection(store.apiKeys.revoke('nope', T0), 'not_found');
      });
    });

    describe('accounts', () => {
      let adm: Department;

      beforeEach(async () => {
        adm = await store.departments.create(department({ code: 'ADM' }));
      });

      it('creates a group account with its six numbers (in order) and members', async () => {
        const a = groupAccount(adm.id, { apiCode: 'Admissions-Outreach' });
        const created = await store.accounts.create(a, ['u2', 'u1']);
        expect(created).toEqual(a);
        expect(await store.accounts.get(a.id)).toEqual(a);
        expect(await store.accounts.getByApiCode('admissions-outreach')).toEqual(a);
        expect(await store.accounts.getByNumber(a.numbers[4]!)).toEqual(a);
        expect(await store.accounts.listMembers(a.id)).toEqual(['u1', 'u2']);
      });

      it("finds a user's personal account", async () => {
        const p = await store.accounts.create(personalAccount('u1'), ['u1']);
        expect(await store.accounts.getPersonal('u1')).toEqual(p);
        expect(await store.accounts.getPersonal('u2')).toBeNull();
        expect(await store.accounts.getByNumber(p.numbers[0]!)).toEqual(p);
      });

      it('answers null for unknown accounts and numbers', async () => {
        expect(await store.accounts.get('nope')).toBeNull();
        expect(await store.accounts.getByApiCode('nope')).toBeNull();
        expect(await store.accounts.getByNumber('+16170000000')).toBeNull();
      });

      it('refuses a number that belongs to another account, naming it, and writes nothing', async () => {
        const first = await store.accounts.create(groupAccount(adm.id), []);
        const second = groupAccount(adm.id, { numbers: [phone(), phone(), first.numbers[2]!, phone(), phone(), phone()] });
        const e = await rejection(store.accounts.create(second, ['u1']), 'number_taken');
        expect(e.message).toContain(first.numbers[2]);
        expect(await store.accounts.get(second.id)).toBeNull();
        expect(await store.accounts.numbersInUse(second.numbers)).toEqual([first.numbers[2]]);
        expect(await store.accounts.getByNumber(first.numbers[2]!)).toEqual(first);
      });

      it('refuses a personal number already in a group pool', async () => {
        const group = await store.accounts.create(groupAccount(adm.id), []);
        await rejection(
          store.accounts.create(personalAccount('u1', { numbers: [group.numbers[0]!] }), []),
          'number_taken',
        );
      });

      it('refuses an apiCode that differs from a used one only in case, and writes nothing', async () => {
        await store.accounts.create(groupAccount(adm.id, { apiCode: 'adm-outreach' }), []);
        const clash = groupAccount(adm.id, { apiCode: 'ADM-Outreach' });
        await rejection(store.accounts.create(clash, []), 'api_code_taken');
        expect(await store.accounts.get(clash.id)).toBeNull();
        expect(await store.accounts.numbersInUse(clash.numbers)).toEqual([]);
      });

      it('lists group accounts by name, by department and by member', async () => {
        const fin = await store.departments.create(department({ code: 'FIN' }));
        const b = await store.accounts.create(groupAccount(adm.id, { name: 'beta' }), ['u1']);
        const a = await store.accounts.create(groupAccount(fin.id, { name: 'Alpha' }), ['u1', 'u2']);
        const c = await store.accounts.create(groupAccount(adm.id, { name: 'Gamma' }), ['u2']);
        await store.accounts.create(personalAccount('u1'), ['u1']);

        const names = (accounts: Account[]) => accounts.map((x) => x.name);
        expect(names(await store.accounts.listGroup())).toEqual([a.name, b.name, c.name]);
        expect(names(await store.accounts.listGroup({ departmentId: adm.id }))).toEqual([b.name, c.name]);
        expect(names(await store.accounts.listGroup({ memberId: 'u1' }))).toEqual([a.name, b.name]);
        expect(names(await store.accounts.listGroup({ departmentId: adm.id, memberId: 'u2' }))).toEqual([c.name]);
        expect(await store.accounts.listGroup({ memberId: 'nobody' })).toEqual([]);
      });

      it('updates fields, clears the forwarding number and moves the apiCode', async () => {
        const a = await store.accounts.create(
          groupAccount(adm.id, { apiCode: 'old-code', forwardingNumber: '+16175559999' }),
          [],
        );
        const updated = await store.accounts.update(
          a.id,
          { name: 'Renamed', color: '#ff0000', forwardingNumber: null, apiCode: 'new-code' },
          T0 + 10,
        );
        expect(updated).toEqual({
          ...a,
          name: 'Renamed',
          color: '#ff0000',
          forwardingNumber: null,
          apiCode: 'new-code',
          updatedAt: T0 + 10,
        });
        expect(await store.accounts.get(a.id)).toEqual(updated);
        expect(await store.accounts.getByApiCode('old-code')).toBeNull();
        expect(await store.accounts.getByApiCode('NEW-CODE')).toEqual(updated);
      });

      it('replaces the number pool, freeing the numbers it no longer has', async () => {
        const a = await store.accounts.create(groupAccount(adm.id), []);
        const kept = a.numbers.slice(0, 3);
        const dropped = a.numbers.slice(3);
        const added = [phone(), phone(), phone()];
        const updated = await store.accounts.update(a.id, { numbers: [...added, ...kept] }, T0 + 1);
        expect(updated.numbers).toEqual([...added, ...kept]);
        expect((await store.accounts.get(a.id))?.numbers).toEqual([...added, ...kept]);
        expect(await store.accounts.numbersInUse(dropped)).toEqual([]);
        expect(await store.accounts.getByNumber(added[0]!)).toEqual(updated);
        expect(await store.accounts.getByNumber(dropped[0]!)).toBeNull();
      });

      it("refuses to take another account's number in an update and keeps the pool", async () => {
        const other = await store.accounts.create(groupAccount(adm.id), []);
        const a = await store.accounts.create(groupAccount(adm.id), []);
        const e = await rejection(
          store.accounts.update(a.id, { numbers: [...a.numbers.slice(1), other.numbers[0]!], name: 'X' }, T0 + 1),
          'number_taken',
        );
        expect(e.message).toContain(other.numbers[0]);
        expect(await store.accounts.get(a.id)).toEqual(a);
      });

      it("refuses to take another account's apiCode in an update", async () => {
        await store.accounts.create(groupAccount(adm.id, { apiCode: 'taken' }), []);
        const a = await store.accounts.create(groupAccount(adm.id), []);
        await rejection(store.accounts.update(a.id, { apiCode: 'TAKEN' }, T0 + 1), 'api_code_taken');
        expect(await store.accounts.get(a.id)).toEqual(a);
      });

      it('refuses to update an unknown account', async () => {
        await rejection(store.accounts.update('nope', { name: 'X' }, T0), 'not_found');
      });

      it('deletes an account with its numbers and members, keeping its conversations and messages', async () => {
        const a = await store.accounts.create(groupAccount(adm.id), ['u1']);
        const { conversation: c } = await givenConversation(a);
        await store.accounts.delete(a.id);
        expect(await store.accounts.get(a.id)).toBeNull();
        expect(await store.accounts.getByApiCode(a.apiCode!)).toBeNull();
        expect(await store.accounts.numbersInUse(a.numbers)).toEqual([]);
        expect(await store.accounts.listMembers(a.id)).toEqual([]);
        expect(await store.accounts.isMember(a.id, 'u1')).toBe(false);
        expect(await store.accounts.listGroup({ memberId: 'u1' })).toEqual([]);
        expect(await store.conversations.get(c.id)).toEqual(c);
        expect(await store.messages.listForConversation(c.id, { limit: 10 })).toHaveLength(1);
        // Its numbers and apiCode are free for a new account.
        await store.accounts.create(groupAccount(adm.id, { numbers: a.numbers, apiCode: a.apiCode }), []);
      });

      it('refuses to delete an unknown account', async () => {
        await rejection(store.accounts.delete('nope'), 'not_found');
      });

      it('replaces the members and tells who was added and who was removed', async () => {
        const a = await store.accounts.create(groupAccount(adm.id), ['u1', 'u2', 'u3']);
        const change = await store.accounts.setMembers(a.id, ['u3', 'u4', 'u2', 'u4']);
        expect(change).toEqual({ added: ['u4'], removed: ['u1'] });
        expect(await store.accounts.listMembers(a.id)).toEqual(['u2', 'u3', 'u4']);
        expect(await store.accounts.isMember(a.id, 'u4')).toBe(true);
        expect(await store.accounts.isMember(a.id, 'u1')).toBe(false);
        expect(await store.accounts.setMembers(a.id, [])).toEqual({ added: [], removed: ['u2', 'u3', 'u4'] });
      });

      it('refuses to set the members of an unknown account', async () => {
        await rejection(store.accounts.setMembers('nope', ['u1']), 'not_found');
      });

      it('tells which numbers already belong to an account', async () => {
        const a = await store.accounts.create(groupAccount(adm.id), []);
        const free = phone();
        expect(await store.accounts.numbersInUse([free, a.numbers[1]!, a.numbers[5]!])).toEqual([
          a.numbers[1],
          a.numbers[5],
        ]);
        expect(await store.accounts.numbersInUse([])).toEqual([]);
      });
    });

    describe('contacts', () => {
      it('reads a contact back by id and by phone', async () => {
        const c = await store.contacts.create(contact({ customFields: { program: 'Nursing', term: 'Fall 2026' } }));
        expect(await store.contacts.get(c.id)).toEqual(c);
        expect(await store.contacts.getByPhone(c.phone)).toEqual(c);
        expect(await store.contacts.get('nope')).toBeNull();
        expect(await store.contacts.getByPhone('+16170000000')).toBeNull();
      });

      it('keeps a contact’s tags, on create and on an import that names them (none named: as they were)', async () => {
        const c = await store.contacts.create(contact({ tags: ['fall-2026', 'transfer'] }));
        expect(await store.contacts.get(c.id)).toEqual(c);
        expect((await store.contacts.getByPhone(c.phone))?.tags).toEqual(['fall-2026', 'transfer']);
        expect((await store.contacts.getMany([c.id]))[0]?.tags).toEqual(['fall-2026', 'transfer']);
        const base = { firstName: '', lastName: '', staffId: undefined, customFields: {} };
        await store.contacts.importRows([{ ...base, phone: c.phone, tags: undefined }], T0 + 1, () => 'unused');
        expect((await store.contacts.get(c.id))?.tags).toEqual(['fall-2026', 'transfer']);
        await store.contacts.importRows([{ ...base, phone: c.phone, tags: ['honors'] }], T0 + 2, () => 'unused');
        expect((await store.contacts.get(c.id))?.tags).toEqual(['honors']);
        await store.contacts.importRows([{ ...base, phone: c.phone, tags: [] }], T0 + 3, () => 'unused');
        expect((await store.contacts.get(c.id))?.tags).toEqual([]);
        const fresh = phone();
        await store.contacts.importRows([{ ...base, phone: fresh, tags: ['new'] }], T0 + 4, () => `c-tag-${fresh}`);
        expect((await store.contacts.getByPhone(fresh))?.tags).toEqual(['new']);
      });

      it('updates the fields given, replacing custom fields and tags, and leaves the others', async () => {
        const c = await store.contacts.create(contact({ firstName: 'Ana', staffId: 'u1', customFields: { program: 'Nursing' }, tags: ['fall-2026'] }));
        const tagged = await store.contacts.update(c.id, { tags: ['honors', 'transfer'] }, T0 + 1);
        expect(tagged).toEqual({ ...c, tags: ['honors', 'transfer'], updatedAt: T0 + 1 });
        expect(await store.contacts.get(c.id)).toEqual(tagged);
        const moved = await store.contacts.update(c.id, { staffId: null, customFields: { term: 'Spring' }, lastName: 'Lopez' }, T0 + 2);
        expect(moved).toEqual({ ...tagged, staffId: null, customFields: { term: 'Spring' }, lastName: 'Lopez', updatedAt: T0 + 2 });
        expect(await store.contacts.get(c.id)).toEqual(moved);
        expect((await store.contacts.scanByFilter({ filter: { tags: ['honors'] }, afterId: null, limit: 10 })).matches.map((x) => x.id)).toEqual([c.id]);
        await store.contacts.update(c.id, { tags: [] }, T0 + 3);
        expect((await store.contacts.scanByFilter({ filter: { tags: ['honors'] }, afterId: null, limit: 10 })).matches).toEqual([]);
        await rejection(store.contacts.update('nope', { tags: ['x'] }, T0), 'not_found');
      });

      it('refuses a second contact with the same phone', async () => {
        const c = await store.contacts.create(contact());
        await rejection(store.contacts.create(contact({ phone: c.phone })), 'conflict');
      });

      it('returns the existing contact for a known phone instead of creating one', async () => {
        const c = await store.contacts.create(contact());
        const found = await store.contacts.getOrCreateByPhone(contact({ phone: c.phone }));
        expect(found).toEqual(c);
      });

      it('creates one contact for concurrent first texts from the same phone', async () => {
        const number = phone();
        const results = await Promise.all(
          Array.from({ length: 5 }, () => store.contacts.getOrCreateByPhone(contact({ phone: number }))),
        );
        expect(new Set(results.map((c) => c.id)).size).toBe(1);
        expect(await store.contacts.getByPhone(number)).toEqual(results[0]);
      });

      it('gets many contacts at once, skipping unknown ids', async () => {
        const a = await store.contacts.create(contact());
        const b = await store.contacts.create(contact());
        const found = await store.contacts.getMany([b.id, 'nope', a.id]);
        expect(found.map((c) => c.id).sort()).toEqual([a.id, b.id].sort());
        expect(await store.contacts.getMany([])).toEqual([]);
      });

      describe('list', () => {
        let ana: Contact, bob: Contact, cy: Contact, dee: Contact;

        beforeEach(async () => {
          ana = await store.contacts.create(contact({ firstName: 'Ana', lastName: 'Zimmer', staffId: 'u1' }));
          bob = await store.contacts.create(contact({ firstName: 'Bob', lastName: 'adams', phone: '+16175551234' }));
          cy = await store.contacts.create(contact({ firstName: 'Cy', lastName: 'Adams', staffId: 'u1' }));
          dee = await store.contacts.create(contact({ firstName: 'Dee', lastName: 'Moss', staffId: 'u2' }));
        });

        const ids = (contacts: Contact[]) => contacts.map((c) => c.id);

        it('orders by last name, then first name, ignoring case', async () => {
          expect(ids(await store.contacts.list({ limit: 10 }))).toEqual([bob.id, cy.id, dee.id, ana.id]);
        });

        it('pages with limit and offset', async () => {
          expect(ids(await store.contacts.list({ limit: 2 }))).toEqual([bob.id, cy.id]);
          expect(ids(await store.contacts.list({ limit: 2, offset: 2 }))).toEqual([dee.id, ana.id]);
          expect(await store.contacts.list({ limit: 2, offset: 4 })).toEqual([]);
        });

        it('keeps only the students assigned to a staff member', async () => {
          expect(ids(await store.contacts.list({ staffId: 'u1', limit: 10 }))).toEqual([cy.id, ana.id]);
        });

        it('searches names in any case and phones by their digits', async () => {
          expect(ids(await store.contacts.list({ search: 'ADAMS', limit: 10 }))).toEqual([bob.id, cy.id]);
          expect(ids(await store.contacts.list({ search: 'cy adams', limit: 10 }))).toEqual([cy.id]);
          expect(ids(await store.contacts.list({ search: '(617) 555-1234', limit: 10 }))).toEqual([bob.id]);
          expect(ids(await store.contacts.list({ search: 'adams', staffId: 'u1', limit: 10 }))).toEqual([cy.id]);
          // % and _ are text, not wildcards.
          expect(await store.contacts.list({ search: 'Ana%', limit: 10 })).toEqual([]);
          expect(await store.contacts.list({ search: 'A_a', limit: 10 })).toEqual([]);
        });
      });

      describe('importRows', () => {
        const row = (over: Partial<ContactImportRow> & { phone: string }): ContactImportRow => ({
          firstName: '',
          lastName: '',
          staffId: undefined,
          customFields: {},
          tags: undefined,
          ...over,
        });

        it('creates contacts for new phones with ids from newId', async () => {
          const ids = ['c-new-1', 'c-new-2'];
          const p1 = phone();
          const p2 = phone();
          const result = await store.contacts.importRows(
            [
              row({ phone: p1, firstName: 'Ana', lastName: 'Lee', staffId: 'u1', customFields: { program: 'Nursing' } }),
              row({ phone: p2, firstName: 'Bo', lastName: 'Kim' }),
            ],
            T0 + 5,
            () => ids.shift()!,
          );
          expect(result).toEqual({ created: 2, updated: 0 });
          expect(await store.contacts.getByPhone(p1)).toEqual({
            id: 'c-new-1',
            phone: p1,
            firstName: 'Ana',
            lastName: 'Lee',
            staffId: 'u1',
            customFields: { program: 'Nursing' },
            tags: [],
            createdAt: T0 + 5,
            updatedAt: T0 + 5,
          });
          expect((await store.contacts.getByPhone(p2))?.staffId).toBeNull();
        });

        it('updates existing phones: merges custom fields, overwrites non-empty names', async () => {
          const c = await store.contacts.create(
            contact({ firstName: 'Ana', lastName: 'Lee', customFields: { program: 'Nursing', term: 'Fall' } }),
          );
          const result = await store.contacts.importRows(
            [row({ phone: c.phone, firstName: 'Anna', lastName: ' ', customFields: { term: 'Spring', gpa: '3.9' } })],
            T0 + 9,
            () => 'unused',
          );
          expect(result).toEqual({ created: 0, updated: 1 });
          expect(await store.contacts.get(c.id)).toEqual({
            ...c,
            firstName: 'Anna',
            customFields: { program: 'Nursing', term: 'Spring', gpa: '3.9' },
            updatedAt: T0 + 9,
          });
        });

        it('leaves the assignment for undefined, clears it for null, and assigns a string', async () => {
          const keep = await store.contacts.create(contact({ staffId: 'u1' }));
          const clear = await store.contacts.create(contact({ staffId: 'u1' }));
          const assign = await store.contacts.create(contact({ staffId: 'u1' }));
          await store.contacts.importRows(
            [
              row({ phone: keep.phone, staffId: undefined }),
              row({ phone: clear.phone, staffId: null }),
              row({ phone: assign.phone, staffId: 'u2' }),
            ],
            T0 + 1,
            () => 'unused',
          );
          expect((await store.contacts.get(keep.id))?.staffId).toBe('u1');
          expect((await store.contacts.get(clear.id))?.staffId).toBeNull();
          expect((await store.contacts.get(assign.id))?.staffId).toBe('u2');
        });

        it('counts a phone repeated in one file as created once, then updated', async () => {
          const p = phone();
          const result = await store.contacts.importRows(
            [row({ phone: p, firstName: 'Ana', customFields: { a: '1' } }), row({ phone: p, customFields: { b: '2' } })],
            T0,
            () => newId(T0),
          );
          expect(result).toEqual({ created: 1, updated: 1 });
          expect((await store.contacts.getByPhone(p))?.customFields).toEqual({ a: '1', b: '2' });
        });

        it('writes nothing when one row cannot be stored', async () => {
          const existing = await store.contacts.create(contact());
          const p = phone();
          await expect(
            // The second new row reuses an existing contact's id: the whole import must roll back.
            store.contacts.importRows(
              [row({ phone: p, firstName: 'Ana' }), row({ phone: phone(), firstName: 'Bo' })],
              T0,
              (() => {
                const ids = [newId(T0), existing.id];
                return () => ids.shift()!;
              })(),
            ),
          ).rejects.toMatchObject({ name: 'AppError', code: 'conflict' });
          expect(await store.contacts.getByPhone(p)).toBeNull();
        });
      });

      describe('opt-outs', () => {
        it('keeps opt-outs per scope and tells who is opted out in one', async () => {
          const a = await givenContact();
          const b = await givenContact();
          await store.contacts.setOptOut({ contactId: a.id, scope: 'personal', optedOutAt: T0, source: 'keyword' });
          await store.contacts.setOptOut({ contactId: b.id, scope: 'account:g1', optedOutAt: T0, source: 'manual' });

          expect(await store.contacts.optedOut([a.id, b.id], 'personal')).toEqual(new Set([a.id]));
          expect(await store.contacts.optedOut([a.id, b.id], 'account:g1')).toEqual(new Set([b.id]));
          expect(await store.contacts.optedOut([a.id, b.id], 'account:g2')).toEqual(new Set());
          expect(await store.contacts.optedOut([], 'personal')).toEqual(new Set());
        });

        it('lists a contact’s opt-outs and clears one scope only', async () => {
          const a = await givenContact();
          const personal = { contactId: a.id, scope: 'personal' as const, optedOutAt: T0, source: 'keyword' as const };
          const group = { contactId: a.id, scope: 'account:g1' as const, optedOutAt: T0 + 1, source: 'manual' as const };
          await store.contacts.setOptOut(personal);
          await store.contacts.setOptOut(group);
          expect(await store.contacts.listOptOuts(a.id)).toEqual([personal, group]);

          await store.contacts.clearOptOut(a.id, 'personal');
          expect(await store.contacts.listOptOuts(a.id)).toEqual([group]);
          expect(await store.contacts.optedOut([a.id], 'personal')).toEqual(new Set());
          // Clearing again is harmless.
          await store.contacts.clearOptOut(a.id, 'personal');
        });

        it('replaces an opt-out in the same scope', async () => {
          const a = await givenContact();
          await store.contacts.setOptOut({ contactId: a.id, scope: 'personal', optedOutAt: T0, source: 'keyword' });
          await store.contacts.setOptOut({ contactId: a.id, scope: 'personal', optedOutAt: T0 + 5, source: 'manual' });
          expect(await store.contacts.listOptOuts(a.id)).toEqual([
            { contactId: a.id, scope: 'personal', optedOutAt: T0 + 5, source: 'manual' },
          ]);
        });

        it('refuses opt-outs of an unknown contact', async () => {
          await rejection(
            store.contacts.setOptOut({ contactId: 'nope', scope: 'personal', optedOutAt: T0, source: 'manual' }),
            'not_found',
          );
          await rejection(store.contacts.clearOptOut('nope', 'personal'), 'not_found');
        });
      });
    });

    describe('conversations', () => {
      let account: Account;

      beforeEach(async () => {
        account = await givenGroupAccount();
      });

      it('finds a conversation by id and by account and contact', async () => {
        const { conversation: c, contact: student } = await givenConversation(account);
        expect(await store.conversations.get(c.id)).toEqual(c);
        expect(await store.conversations.getByPair(account.id, student.id)).toEqual(c);
        expect(await store.conversations.get('nope')).toBeNull();
        expect(await store.conversations.getByPair(account.id, 'nope')).toBeNull();
      });

      it('lists a folder newest activity first and pages with a cursor', async () => {
        const made: Conversation[] = [];
        for (let i = 0; i < 7; i++) made.push((await givenConversation(account, { at: T0 + i * 1_000 })).conversation);
        // Two conversations with the same time: the id breaks the tie.
        made.push((await givenConversation(account, { at: T0 + 3_000 })).conversation);
        const expected = [...made]
          .sort((a, b) => b.lastMessageAt! - a.lastMessageAt! || (a.id < b.id ? 1 : -1))
          .map((c) => c.id);

        const seen: string[] = [];
        let before: { lastMessageAt: number; id: string } | undefined;
        for (;;) {
          const page = await store.conversations.list(account.id, 'archived', { limit: 3, ...(before ? { before } : {}) });
          seen.push(...page.map((c) => c.id));
          const last = page.at(-1);
          if (page.length < 3 || !last) break;
          before = { lastMessageAt: last.lastMessageAt!, id: last.id };
        }
        expect(seen).toEqual(expected);
      });

      it('lists only the asked folder of the asked account', async () => {
        const { conversation: archived } = await givenConversation(account);
        const { conversation: inbox } = await givenConversation(account, { folder: 'inbox' });
        const other = await givenGroupAccount();
        await givenConversation(other);
        expect((await store.conversations.list(account.id, 'archived', { limit: 10 })).map((c) => c.id)).toEqual([
          archived.id,
        ]);
        expect((await store.conversations.list(account.id, 'inbox', { limit: 10 })).map((c) => c.id)).toEqual([
          inbox.id,
        ]);
      });

      it('moves a conversation between folders', async () => {
        const { conversation: c } = await givenConversation(account);
        const moved = await store.conversations.setFolder(c.id, 'inbox', T0 + 50);
        expect(moved).toEqual({ ...c, folder: 'inbox', updatedAt: T0 + 50 });
        expect(await store.conversations.get(c.id)).toEqual(moved);
        expect(await store.conversations.list(account.id, 'archived', { limit: 10 })).toEqual([]);
        await rejection(store.conversations.setFolder('nope', 'inbox', T0), 'not_found');
      });

      it('marks a conversation read', async () => {
        const { conversation: c, contact: student } = await givenConversation(account);
        await store.messages.recordInbound({
          message: inboundMessage({ account, contact: student, at: T0 + 10 }),
          conversation: conversation(account.id, student.id),
        });
        const read = await store.conversations.markRead(c.id, T0 + 20);
        expect(read.unread).toBe(0);
        expect(read.updatedAt).toBe(T0 + 20);
        expect((await store.conversations.get(c.id))?.unread).toBe(0);
        await rejection(store.conversations.markRead('nope', T0), 'not_found');
      });

      it('advances the lock token only from the expected value', async () => {
        const { conversation: c } = await givenConversation(account);
        expect(await store.conversations.advanceLockToken(c.id, 0, 1)).toBe(true);
        expect((await store.conversations.get(c.id))?.lockToken).toBe(1);
        // A node that still believes the token is 0 loses.
        expect(await store.conversations.advanceLockToken(c.id, 0, 2)).toBe(false);
        expect((await store.conversations.get(c.id))?.lockToken).toBe(1);
        expect(await store.conversations.advanceLockToken(c.id, 1, 5)).toBe(true);
        expect((await store.conversations.get(c.id))?.lockToken).toBe(5);
      });

      it('lets exactly one of two concurrent grants from the same token win', async () => {
        const { conversation: c } = await givenConversation(account);
        const results = await Promise.all([
          store.conversations.advanceLockToken(c.id, 0, 1),
          store.conversations.advanceLockToken(c.id, 0, 2),
        ]);
        expect(results.filter(Boolean)).toHaveLength(1);
      });

      it('refuses a lock token that does not increase, and an unknown conversation', async () => {
        const { conversation: c } = await givenConversation(account);
        await rejection(store.conversations.advanceLockToken(c.id, 0, 0), 'bad_request');
        await rejection(store.conversations.advanceLockToken('nope', 0, 1), 'not_found');
      });
    });

    describe('messages', () => {
      let account: Account;
      let student: Contact;

      beforeEach(async () => {
        account = await givenGroupAccount();
        student = await givenContact();
      });

      const inbound = (over: Parameters<typeof inboundMessage>[1] = {}, at = T0) => ({
        message: inboundMessage({ account, contact: student, at }, over),
        conversation: conversation(account.id, student.id),
      });

      const outbound = (
        over: Parameters<typeof outboundMessage>[1] = {},
        at = T0,
        folder: Conversation['folder'] = 'archived',
      ) => ({
        message: outboundMessage({ account, contact: student, at }, over),
        conversation: conversation(account.id, student.id, { folder }),
      });

      describe('recordInbound', () => {
        it('starts a conversation in the inbox when a student texts first', async () => {
          const input = inbound({ toNumber: account.numbers[3]!, text: 'Hello?' });
          const { message, conversation: c, duplicate } = await store.messages.recordInbound(input);
          expect(duplicate).toBe(false);
          expect(message).toEqual({ ...input.message, conversationId: input.conversation.id });
          expect(c).toEqual({
            ...input.conversation,
            folder: 'inbox',
            unread: 1,
            senderNumber: account.numbers[3],
            lastMessageAt: T0,
            lastMessagePreview: 'Hello?',
            lastMessageDirection: 'inbound',
          });
          expect(await store.conversations.get(c.id)).toEqual(c);
          expect(await store.messages.get(message.id)).toEqual(message);
          expect(await store.messages.history(message.id)).toEqual([
            { messageId: message.id, status: 'received', at: T0, errorCode: null },
          ]);
        });

        it('moves the conversation to the inbox when the student replies', async () => {
          const [sent] = await store.messages.enqueueOutbound([outbound({}, T0)]);
          expect(sent!.conversation.folder).toBe('archived');
          const reply = inbound({ text: 'Thanks!' }, T0 + 60_000);
          const { message, conversation: c } = await store.messages.recordInbound(reply);
          // The existing conversation, not the one the caller prepared in case there was none.
          expect(c.id).toBe(sent!.conversation.id);
          expect(message.conversationId).toBe(c.id);
          expect(c).toMatchObject({
            folder: 'inbox',
            unread: 1,
            lastMessageAt: T0 + 60_000,
            lastMessagePreview: 'Thanks!',
            lastMessageDirection: 'inbound',
          });
          expect((await store.conversations.list(account.id, 'inbox', { limit: 5 })).map((x) => x.id)).toEqual([c.id]);
        });

        it('counts every unread reply', async () => {
          await store.messages.recordInbound(inbound({}, T0));
          await store.messages.recordInbound(inbound({}, T0 + 1));
          const { conversation: c } = await store.messages.recordInbound(inbound({}, T0 + 2));
          expect(c.unread).toBe(3);
        });

        it('keeps the sender number the contact already texts with', async () => {
          const [sent] = await store.messages.enqueueOutbound([outbound({ fromNumber: account.numbers[1]! })]);
          const { conversation: c } = await store.messages.recordInbound(
            inbound({ toNumber: account.numbers[4]! }, T0 + 1),
          );
          expect(sent!.conversation.senderNumber).toBe(account.numbers[1]);
          expect(c.senderNumber).toBe(account.numbers[1]);
        });

        it('keeps the newest message as the preview when an older one is recorded late', async () => {
          await store.messages.recordInbound(inbound({ text: 'newer' }, T0 + 10));
          const { conversation: c } = await store.messages.recordInbound(inbound({ text: 'older' }, T0 + 5));
          expect(c).toMatchObject({ lastMessageAt: T0 + 10, lastMessagePreview: 'newer', unread: 2 });
        });

        it('shortens a long text to a 160-character preview', async () => {
          const { conversation: c } = await store.messages.recordInbound(inbound({ text: 'x'.repeat(400) }));
          expect(c.lastMessagePreview).toBe('x'.repeat(160));
        });

        it('records a repeated provider id once and answers with the first message', async () => {
          const first = await store.messages.recordInbound(inbound({ providerId: 'uuid-1' }, T0));
          const again = await store.messages.recordInbound(inbound({ providerId: 'uuid-1', text: 'retry' }, T0 + 5));
          expect(again.duplicate).toBe(true);
          expect(again.message).toEqual(first.message);
          expect(again.conversation).toEqual(first.conversation);
          expect(await store.messages.listForConversation(first.conversation.id, { limit: 10 })).toHaveLength(1);
          expect((await store.conversations.get(first.conversation.id))?.unread).toBe(1);
        });

        it('records concurrent deliveries of the same provider id once', async () => {
          const results = await Promise.all(
            Array.from({ length: 4 }, (_, i) => store.messages.recordInbound(inbound({ providerId: 'uuid-2' }, T0 + i))),
          );
          expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
          expect(new Set(results.map((r) => r.message.id)).size).toBe(1);
          const c = results[0]!.conversation;
          expect(await store.messages.listForConversation(c.id, { limit: 10 })).toHaveLength(1);
          expect((await store.conversations.get(c.id))?.unread).toBe(1);
        });
      });

      describe('enqueueOutbound', () => {
        it('records a new outreach as queued in a new conversation in its given folder', async () => {
          const item = outbound(
            { fromNumber: account.numbers[2]!, text: 'Welcome!', quietHoursTimeZone: 'America/Chicago' },
            T0,
            'archived',
          );
          const [result] = await store.messages.enqueueOutbound([item]);
          expect(result!.message).toEqual({ ...item.message, conversationId: item.conversation.id, status: 'queued' });
          expect(result!.conversation).toEqual({
            ...item.conversation,
            folder: 'archived',
            senderNumber: account.numbers[2],
            lastMessageAt: T0,
            lastMessagePreview: 'Welcome!',
            lastMessageDirection: 'outbound',
          });
          expect(await store.messages.history(item.message.id)).toEqual([
            { messageId: item.message.id, status: 'queued', at: T0, errorCode: null },
          ]);
          expect((await store.messages.get(item.message.id))?.sentByName).toBe('Dana Reyes');
        });

        it('leaves the folder and unread count of an existing conversation unchanged', async () => {
          const { conversation: c } = await store.messages.recordInbound(inbound({}, T0));
          const [result] = await store.messages.enqueueOutbound([outbound({ text: 'Sure' }, T0 + 1, 'archived')]);
          expect(result!.conversation).toEqual({
            ...c,
            lastMessageAt: T0 + 1,
            lastMessagePreview: 'Sure',
            lastMessageDirection: 'outbound',
            updatedAt: T0 + 1,
          });
          expect(result!.message.conversationId).toBe(c.id);
        });

        it('records many recipients at once, each in their own conversation', async () => {
          const others = [await givenContact(), await givenContact()];
          const results = await store.messages.enqueueOutbound(
            others.map((c) => ({
              message: outboundMessage({ account, contact: c }),
              conversation: conversation(account.id, c.id),
            })),
          );
          expect(results.map((r) => r.conversation.contactId)).toEqual(others.map((c) => c.id));
          expect(await store.messages.listByStatus('queued')).toHaveLength(2);
        });

        it('records nothing of a batch when one item cannot be stored', async () => {
          const existing = await store.messages.enqueueOutbound([outbound()]);
          const other = await givenContact();
          const fresh = {
            message: outboundMessage({ account, contact: other }),
            conversation: conversation(account.id, other.id),
          };
          const clash = outbound({ id: existing[0]!.message.id });
          await expect(store.messages.enqueueOutbound([fresh, clash])).rejects.toMatchObject({ name: 'AppError', code: 'conflict' });
          expect(await store.conversations.getByPair(account.id, other.id)).toBeNull();
          expect(await store.messages.get(fresh.message.id)).toBeNull();
        });

        it('accepts a reply that carries the current lock token', async () => {
          const { conversation: c } = await store.messages.recordInbound(inbound({}, T0));
          await store.conversations.advanceLockToken(c.id, 0, 7);
          const [result] = await store.messages.enqueueOutbound([outbound({}, T0 + 1)], {
            conversationId: c.id,
            ownerEpoch: 0,
            lockToken: 7,
          });
          expect(result!.message.conversationId).toBe(c.id);
          expect(result!.conversation.lockToken).toBe(7);
        });

        it('refuses a reply with a stale lock token and writes nothing', async () => {
          const { conversation: c } = await store.messages.recordInbound(inbound({}, T0));
          await store.conversations.advanceLockToken(c.id, 0, 1);
          await store.conversations.advanceLockToken(c.id, 1, 2);
          const reply = outbound({}, T0 + 1);
          await rejection(
            store.messages.enqueueOutbound([reply], { conversationId: c.id, ownerEpoch: 0, lockToken: 1 }),
            'stale_lock_token',
          );
          expect(await store.messages.get(reply.message.id)).toBeNull();
          expect(await store.conversations.get(c.id)).toEqual({ ...c, lockToken: 2 });
        });

        it('refuses a reply fenced on the token a concurrent grant just replaced', async () => {
          const { conversation: c } = await store.messages.recordInbound(inbound({}, T0));
          await store.conversations.advanceLockToken(c.id, 0, 1);
          const reply = outbound({}, T0 + 1);
          const [granted, written] = await Promise.allSettled([
            store.conversations.advanceLockToken(c.id, 1, 2),
            store.messages.enqueueOutbound([reply], { conversationId: c.id, ownerEpoch: 0, lockToken: 1 }),
          ]);
          expect(granted).toEqual({ status: 'fulfilled', value: true });
          expect(written.status).toBe('rejected');
          expect(await store.messages.get(reply.message.id)).toBeNull();
        });

        it('refuses a fence on an unknown conversation', async () => {
          await rejection(
            store.messages.enqueueOutbound([outbound()], { conversationId: 'nope', ownerEpoch: 0, lockToken: 0 }),
            'not_found',
          );
        });
      });

      describe('with an idempotency record', () => {
        const TTL = 24 * 3600_000;
        const record = (over: Partial<NewIdempotencyRecord> = {}): NewIdempotencyRecord => ({
          scope: 'user:U1',
          key: 'compose-1',
          fingerprint: 'f1',
          createdAt: T0,
          expiresAt: T0 + TTL,
          // The answer names what was recorded, as a compose's does.
          response: (recorded) => ({
            status: 202,
            body: JSON.stringify(recorded.map((r) => ({ id: r.message.id, conversationId: r.message.conversationId }))),
          }),
          ...over,
        });

        it('keeps the record written with the messages, its answer made from what was recorded', async () => {
          const { conversation: c } = await store.messages.recordInbound(inbound({}, T0));
          const item = outbound({}, T0 + 1);
          const [result] = await store.messages.enqueueOutbound([item], undefined, record());
          // The item's prepared conversation lost to the existing one: the answer says which was used.
          expect(result!.message.conversationId).toBe(c.id);
          expect(await store.idempotency.get('user:U1', 'compose-1', T0 + 2)).toEqual({
            scope: 'user:U1',
            key: 'compose-1',
            fingerprint: 'f1',
            status: 202,
            body: JSON.stringify([{ id: item.message.id, conversationId: c.id }]),
            createdAt: T0,
            expiresAt: T0 + TTL,
          });
        });

        it('refuses a key that already has a live record, writing nothing', async () => {
          await store.messages.enqueueOutbound([outbound({}, T0)], undefined, record());
          const again = outbound({}, T0 + 1);
          await rejection(store.messages.enqueueOutbound([again], undefined, record({ fingerprint: 'f2', createdAt: T0 + 1 })), 'idempotency_key_in_flight');
          expect(await store.messages.get(again.message.id)).toBeNull();
          expect((await store.idempotency.get('user:U1', 'compose-1', T0 + 2))?.fingerprint).toBe('f1');
        });

        it('lets exactly one of two concurrent requests with one key commit', async () => {
          const a = outbound({}, T0);
          const b = outbound({}, T0);
          const results = await Promise.allSettled([
            store.messages.enqueueOutbound([a], undefined, record({ fingerprint: 'a' })),
            store.messages.enqueueOutbound([b], undefined, record({ fingerprint: 'b' })),
          ]);
          expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
          const lost = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')!;
          expect(lost.reason).toMatchObject({ code: 'idempotency_key_in_flight' });
          const kept = (await store.idempotency.get('user:U1', 'compose-1', T0))!;
          const winner = kept.fingerprint === 'a' ? a : b;
          const loser = kept.fingerprint === 'a' ? b : a;
          expect(await store.messages.get(winner.message.id)).not.toBeNull();
          expect(await store.messages.get(loser.message.id)).toBeNull();
        });

        it('keeps the keys of different callers apart', async () => {
          await store.messages.enqueueOutbound([outbound({}, T0)], undefined, record({ scope: 'user:U1', fingerprint: 'mine' }));
          await store.messages.enqueueOutbound([outbound({}, T0)], undefined, record({ scope: 'apiKey:K1', fingerprint: 'theirs' }));
          expect((await store.idempotency.get('user:U1', 'compose-1', T0))?.fingerprint).toBe('mine');
          expect((await store.idempotency.get('apiKey:K1', 'compose-1', T0))?.fingerprint).toBe('theirs');
          expect(await store.idempotency.get('user:U2', 'compose-1', T0)).toBeNull();
        });

        it('writes no record when the messages are refused', async () => {
          const { conversation: c } = await store.messages.recordInbound(inbound({}, T0));
          await store.conversations.advanceLockToken(c.id, 0, 2);
          await rejection(store.messages.enqueueOutbound([outbound({}, T0 + 1)], { conversationId: c.id, ownerEpoch: 0, lockToken: 1 }, record()), 'stale_lock_token');
          const existing = await store.messages.enqueueOutbound([outbound({}, T0 + 2)]);
          await expect(store.messages.enqueueOutbound([outbound({ id: existing[0]!.message.id })], undefined, record())).rejects.toBeDefined();
          expect(await store.idempotency.get('user:U1', 'compose-1', T0 + 3)).toBeNull();
        });

        it('treats an expired record as absent: not read, and its key free again', async () => {
          await store.messages.enqueueOutbound([outbound({}, T0)], undefined, record({ expiresAt: T0 + 10 }));
          expect(await store.idempotency.get('user:U1', 'compose-1', T0 + 9)).not.toBeNull();
          expect(await store.idempotency.get('user:U1', 'compose-1', T0 + 10)).toBeNull();
          await store.messages.enqueueOutbound([outbound({}, T0 + 20)], undefined, record({ fingerprint: 'f2', createdAt: T0 + 20, expiresAt: T0 + 20 + TTL }));
          expect((await store.idempotency.get('user:U1', 'compose-1', T0 + 21))?.fingerprint).toBe('f2');
        });

        it('prunes expired records, at most `limit` at a time, and leaves live ones', async () => {
          for (const key of ['old-1', 'old-2', 'old-3']) {
            await store.messages.enqueueOutbound([outbound({}, T0)], undefined, record({ key, expiresAt: T0 + 10 }));
          }
          await store.messages.enqueueOutbound([outbound({}, T0)], undefined, record({ key: 'live' }));
          expect(await store.idempotency.prune(T0 + 10, 2)).toBe(2);
          expect(await store.idempotency.prune(T0 + 10, 2)).toBe(1);
          expect(await store.idempotency.prune(T0 + 10, 2)).toBe(0);
          expect(await store.idempotency.get('user:U1', 'live', T0 + 10)).not.toBeNull();
        });

        it('keeps a large answer whole', async () => {
          const body = JSON.stringify({ messages: 'x'.repeat(1_500_000) });
          await store.messages.enqueueOutbound([outbound({}, T0)], undefined, record({ response: () => ({ status: 202, body }) }));
          expect((await store.idempotency.get('user:U1', 'compose-1', T0))?.body).toBe(body);
        });

        it.runIf(options.reopen !== undefined)('keeps the record and its messages across a close and reopen', async () => {
          const item = outbound({}, T0);
          await store.messages.enqueueOutbound([item], undefined, record());
          store = await options.reopen!(store);
          expect((await store.idempotency.get('user:U1', 'compose-1', T0 + 1))?.status).toBe(202);
          expect(await store.messages.get(item.message.id)).not.toBeNull();
        });
      });

      describe('reading', () => {
        it('finds a message by id and by provider id', async () => {
          const { message } = await store.messages.recordInbound(inbound({ providerId: 'uuid-9' }));
          expect(await store.messages.get(message.id)).toEqual(message);
          expect(await store.messages.getByProviderId('uuid-9')).toEqual(message);
          expect(await store.messages.get('nope')).toBeNull();
          expect(await store.messages.getByProviderId('nope')).toBeNull();
        });

        it('pages a history backwards, each page oldest first', async () => {
          const ids: string[] = [];
          for (let i = 0; i < 7; i++) {
            const at = T0 + i;
            const r =
              i % 2 === 0
                ? await store.messages.recordInbound(inbound({}, at))
                : (await store.messages.enqueueOutbound([outbound({}, at)]))[0]!;
            ids.push(r.message.id);
          }
          const conversationId = (await store.conversations.getByPair(account.id, student.id))!.id;
          const newest = await store.messages.listForConversation(conversationId, { limit: 3 });
          expect(newest.map((m) => m.id)).toEqual(ids.slice(4));
          const older = await store.messages.listForConversation(conversationId, { limit: 3, before: newest[0]!.id });
          expect(older.map((m) => m.id)).toEqual(ids.slice(1, 4));
          const oldest = await store.messages.listForConversation(conversationId, { limit: 3, before: older[0]!.id });
          expect(oldest.map((m) => m.id)).toEqual(ids.slice(0, 1));
          expect(await store.messages.listForConversation('nope', { limit: 3 })).toEqual([]);
        });

        it('lists outbound messages in a status oldest first, per sender number and bounded', async () => {
          const [n1, n2] = [account.numbers[0]!, account.numbers[1]!];
          const queued = await store.messages.enqueueOutbound(
            [n1, n2, n1, n1].map((fromNumber, i) => {
              const c = contact();
              return {
                message: outboundMessage({ account, contact: c, at: T0 + i }, { fromNumber }),
                conversation: conversation(account.id, c.id),
              };
            }),
          );
          await store.messages.recordInbound(inbound());
          const ids = queued.map((r) => r.message.id);
          expect((await store.messages.listByStatus('queued')).map((m) => m.id)).toEqual(ids);
          expect((await store.messages.listByStatus('queued', { fromNumber: n1 })).map((m) => m.id)).toEqual([
            ids[0],
            ids[2],
            ids[3],
          ]);
          expect((await store.messages.listByStatus('queued', { fromNumber: n1, limit: 2 })).map((m) => m.id)).toEqual(
            [ids[0], ids[2]],
          );
          expect((await store.messages.listByStatus('queued', { limit: 1 })).map((m) => m.id)).toEqual([ids[0]]);
          expect(await store.messages.listByStatus('received')).toEqual([]);
          expect(await store.messages.listByStatus('sending')).toEqual([]);
        });
      });

      describe('transition', () => {
        async function queued() {
          return (await store.messages.enqueueOutbound([outbound({}, T0)]))[0]!.message;
        }

        it('moves a message along and appends to its history', async () => {
          const m = await queued();
          const sending = await store.messages.transition(m.id, { status: 'sending', at: T0 + 1 });
          expect(sending).toEqual({ ...m, status: 'sending', updatedAt: T0 + 1 });
          const submitted = await store.messages.transition(
            m.id,
            { status: 'submitted', providerId: 'uuid-out', at: T0 + 2 },
            ['sending'],
          );
          expect(submitted).toEqual({ ...m, status: 'submitted', providerId: 'uuid-out', updatedAt: T0 + 2 });
          expect(await store.messages.getByProviderId('uuid-out')).toEqual(submitted);
          expect((await store.messages.history(m.id)).map((e) => [e.status, e.at])).toEqual([
            ['queued', T0],
            ['sending', T0 + 1],
            ['submitted', T0 + 2],
          ]);
        });

        it('changes nothing and answers null when the status is not one of `from`', async () => {
          const m = await queued();
          expect(await store.messages.transition(m.id, { status: 'submitted', at: T0 + 1 }, ['sending'])).toBeNull();
          expect(await store.messages.get(m.id)).toEqual(m);
          expect(await store.messages.history(m.id)).toHaveLength(1);
        });

        it('lets only one of two concurrent senders take a queued message', async () => {
          const m = await queued();
          const results = await Promise.all([
            store.messages.transition(m.id, { status: 'sending', at: T0 + 1 }, ['queued']),
            store.messages.transition(m.id, { status: 'sending', at: T0 + 1 }, ['queued']),
          ]);
          expect(results.filter((r) => r !== null)).toHaveLength(1);
        });

        it('sets, keeps and clears the error code', async () => {
          const m = await queued();
          await store.messages.transition(m.id, { status: 'sending', at: T0 + 1 });
          const failed = await store.messages.transition(m.id, { status: 'rejected', errorCode: '400', at: T0 + 2 });
          expect(failed?.errorCode).toBe('400');
          const kept = await store.messages.transition(m.id, { status: 'unknown', at: T0 + 3 });
          expect(kept?.errorCode).toBe('400');
          const cleared = await store.messages.transition(m.id, { status: 'queued', errorCode: null, at: T0 + 4 });
          expect(cleared?.errorCode).toBeNull();
          expect((await store.messages.history(m.id)).map((e) => e.errorCode)).toEqual([null, null, '400', null, null]);
        });

        it('refuses a provider id another message has', async () => {
          const a = await queued();
          const b = (await store.messages.enqueueOutbound([outbound({}, T0 + 1)]))[0]!.message;
          await store.messages.transition(a.id, { status: 'submitted', providerId: 'uuid-x', at: T0 + 2 });
          await rejection(
            store.messages.transition(b.id, { status: 'submitted', providerId: 'uuid-x', at: T0 + 3 }),
            'conflict',
          );
          expect(await store.messages.get(b.id)).toEqual(b);
        });

        it('refuses to move an unknown message', async () => {
          await rejection(store.messages.transition('nope', { status: 'sending', at: T0 }), 'not_found');
        });
      });

      describe('applyProviderStatus', () => {
        async function submitted(providerId: string) {
          const m = (await store.messages.enqueueOutbound([outbound({}, T0)]))[0]!.message;
          return (await store.messages.transition(m.id, { status: 'submitted', providerId, at: T0 + 1 }))!;
        }

        it('applies callbacks in sequence order and records them in the history', async () => {
          const m = await submitted('uuid-s');
          const sent = await store.messages.applyProviderStatus('uuid-s', {
            status: 'sent',
            sequence: 1,
            errorCode: null,
            at: T0 + 2,
          });
          expect(sent).toEqual({ ...m, status: 'sent', statusSequence: 1, updatedAt: T0 + 2 });
          const failed = await store.messages.applyProviderStatus('uuid-s', {
            status: 'undelivered',
            sequence: 2,
            errorCode: '30005',
            at: T0 + 3,
          });
          expect(failed).toMatchObject({ status: 'undelivered', statusSequence: 2, errorCode: '30005' });
          expect((await store.messages.history(m.id)).slice(-2)).toEqual([
            { messageId: m.id, status: 'sent', at: T0 + 2, errorCode: null },
            { messageId: m.id, status: 'undelivered', at: T0 + 3, errorCode: '30005' },
          ]);
        });

        it('ignores a callback that arrives out of order or again', async () => {
          const m = await submitted('uuid-o');
          await store.messages.applyProviderStatus('uuid-o', {
            status: 'delivered',
            sequence: 3,
            errorCode: null,
            at: T0 + 5,
          });
          const late = await store.messages.applyProviderStatus('uuid-o', {
            status: 'sent',
            sequence: 2,
            errorCode: null,
            at: T0 + 6,
          });
          const repeated = await store.messages.applyProviderStatus('uuid-o', {
            status: 'delivered',
            sequence: 3,
            errorCode: null,
            at: T0 + 7,
          });
          expect(late).toBeNull();
          expect(repeated).toBeNull();
          expect(await store.messages.get(m.id)).toMatchObject({ status: 'delivered', statusSequence: 3, updatedAt: T0 + 5 });
          expect(await store.messages.history(m.id)).toHaveLength(3);
        });

        it('refuses a callback for an unknown provider id (the provider retries it)', async () => {
          await rejection(
            store.messages.applyProviderStatus('uuid-unknown', { status: 'sent', sequence: 1, errorCode: null, at: T0 }),
            'not_found',
          );
        });
      });

      describe('markInterruptedSendsUnknown', () => {
        it('marks every send interrupted before the provider answered as unknown', async () => {
          const made = await store.messages.enqueueOutbound([outbound({}, T0), outbound({}, T0 + 1), outbound({}, T0 + 2)]);
          const [interrupted, answered, waiting] = made.map((r) => r.message);
          await store.messages.transition(interrupted!.id, { status: 'sending', at: T0 + 3 });
          await store.messages.transition(answered!.id, { status: 'sending', at: T0 + 3 });
          await store.messages.transition(answered!.id, { status: 'sending', providerId: 'uuid-a', at: T0 + 4 });

          expect(await store.messages.markInterruptedSendsUnknown(T0 + 10)).toEqual([interrupted!.id]);
          expect(await store.messages.get(interrupted!.id)).toMatchObject({ status: 'unknown', updatedAt: T0 + 10 });
          expect((await store.messages.history(interrupted!.id)).at(-1)).toEqual({
            messageId: interrupted!.id,
            status: 'unknown',
            at: T0 + 10,
            errorCode: null,
          });
          expect((await store.messages.get(answered!.id))?.status).toBe('sending');
          expect((await store.messages.get(waiting!.id))?.status).toBe('queued');
          expect(await store.messages.markInterruptedSendsUnknown(T0 + 11)).toEqual([]);
        });

        it("marks only one sender number's interrupted sends when asked for that number", async () => {
          const made = await store.messages.enqueueOutbound([outbound({}, T0), outbound({ fromNumber: account.numbers[1]! }, T0 + 1)]);
          const [mine, theirs] = made.map((r) => r.message);
          for (const m of [mine!, theirs!]) await store.messages.transition(m.id, { status: 'sending', at: T0 + 2 });

          expect(await store.messages.markInterruptedSendsUnknown(T0 + 10, { fromNumber: mine!.fromNumber })).toEqual([mine!.id]);
          expect((await store.messages.get(theirs!.id))?.status).toBe('sending');
          expect(await store.messages.markInterruptedSendsUnknown(T0 + 11, { fromNumber: theirs!.fromNumber })).toEqual([theirs!.id]);
        });
      });
    });

    describe('locks', () => {
      const record = (conversationId: string, accountId: string, over: Partial<LockRecord> = {}): LockRecord => ({
        conversationId,
        accountId,
        snapshot: '{"value":"lockedBy"}',
        token: 1,
        ownerEpoch: 0,
        state: 'locked',
        holderUserId: 'U1',
        holderName: 'Dana Reyes',
        since: T0,
        releaseAt: null,
        updatedAt: T0,
        ...over,
      });

      it('saves a lock and moves the conversation token in one conditional write', async () => {
        const account = await givenGroupAccount();
        const { conversation: c } = await givenConversation(account);
        expect(await store.locks.save(record(c.id, account.id, { token: 1 }))).toBe(true);
        expect(await store.locks.get(c.id)).toEqual(record(c.id, account.id, { token: 1 }));
        expect((await store.conversations.get(c.id))?.lockToken).toBe(1);
      });

      it('refuses a save from a stale activation and changes nothing', async () => {
        const account = await givenGroupAccount();
        const { conversation: c } = await givenConversation(account);
        await store.locks.save(record(c.id, account.id, { token: 2 }));
        const newer = await store.locks.claimEpoch(c.id, 0);
        expect(newer).toEqual({ ownerEpoch: 1, lockToken: LOCK_TOKEN_EPOCH_SPAN });
        expect(await store.locks.save(record(c.id, account.id, { token: 3, holderUserId: 'U2' }))).toBe(false);
        expect((await store.locks.get(c.id))?.holderUserId).toBe('U1');
        expect(await store.locks.ownership(c.id)).toEqual({ ownerEpoch: 1, lockToken: LOCK_TOKEN_EPOCH_SPAN });
      });

      it('refuses a save with the current token under a stale epoch', async () => {
        const account = await givenGroupAccount();
        const { conversation: c } = await givenConversation(account);
        const first = (await store.locks.claimEpoch(c.id, 0))!;
        await store.locks.save(record(c.id, account.id, { ownerEpoch: 1, token: first.lockToken + 1 }));
        const second = (await store.locks.claimEpoch(c.id, 1))!;
        // Both activations would hand out second.lockToken + 1 next; only the current one may write it.
        const token = second.lockToken + 1;
        expect(await store.locks.save(record(c.id, account.id, { ownerEpoch: 1, token, holderUserId: 'U2' }))).toBe(false);
        expect(await store.locks.save(record(c.id, account.id, { ownerEpoch: 2, token, holderUserId: 'U3' }))).toBe(true);
        expect((await store.locks.get(c.id))?.holderUserId).toBe('U3');
        expect(await store.locks.ownership(c.id)).toEqual({ ownerEpoch: 2, lockToken: token });
      });

      it('refuses a save whose token is smaller than the saved one, and accepts an equal one', async () => {
        const account = await givenGroupAccount();
        const { conversation: c } = await givenConversation(account);
        const { lockToken } = (await store.locks.claimEpoch(c.id, 0))!;
        expect(await store.locks.save(record(c.id, account.id, { ownerEpoch: 1, token: lockToken + 2 }))).toBe(true);
        expect(await store.locks.save(record(c.id, account.id, { ownerEpoch: 1, token: lockToken + 1, holderUserId: 'U2' }))).toBe(false);
        expect((await store.locks.get(c.id))?.holderUserId).toBe('U1');
        // The same token again: the holder's activity, saved later.
        expect(await store.locks.save(record(c.id, account.id, { ownerEpoch: 1, token: lockToken + 2, updatedAt: T0 + 1 }))).toBe(true);
        expect(await store.locks.ownership(c.id)).toEqual({ ownerEpoch: 1, lockToken: lockToken + 2 });
      });

      it('lets one of two activations claim the same epoch, and starts each epoch above every older token', async () => {
        const account = await givenGroupAccount();
        const { conversation: c } = await givenConversation(account);
        await store.locks.save(record(c.id, account.id, { token: 9 }));
        const claims = await Promise.all([store.locks.claimEpoch(c.id, 0), store.locks.claimEpoch(c.id, 0)]);
        expect(claims.filter((x) => x !== null)).toEqual([{ ownerEpoch: 1, lockToken: LOCK_TOKEN_EPOCH_SPAN }]);
        expect(await store.locks.claimEpoch(c.id, 0)).toBeNull();
        const { lockToken } = (await store.locks.claimEpoch(c.id, 1))!;
        expect(lockToken).toBe(2 * LOCK_TOKEN_EPOCH_SPAN);
        await rejection(store.locks.claimEpoch(newId(), 0), 'not_found');
        expect(await store.locks.ownership(newId())).toBeNull();
      });

      it('refuses a reply under a stale owner epoch, even with the current token', async () => {
        const account = await givenGroupAccount();
        const { conversation: c, contact: k } = await givenConversation(account);
        const first = (await store.locks.claimEpoch(c.id, 0))!;
        const second = (await store.locks.claimEpoch(c.id, 1))!;
        const reply = (ownerEpoch: number, lockToken: number) => {
          const message = outboundMessage({ account, contact: k }, { conversationId: c.id });
          return { message, written: store.messages.enqueueOutbound([{ message, conversation: c }], { conversationId: c.id, ownerEpoch, lockToken }) };
        };
        const stale = reply(first.ownerEpoch, second.lockToken);
        await rejection(stale.written, 'stale_lock_token');
        expect(await store.messages.get(stale.message.id)).toBeNull();
        await expect(reply(second.ownerEpoch, second.lockToken).written).resolves.toHaveLength(1);
      });

      it('fences replies on the token the lock moved to', async () => {
        const account = await givenGroupAccount();
        const { conversation: c, contact: k } = await givenConversation(account);
        await store.locks.save(record(c.id, account.id, { token: 4 }));
        const reply = (token: number) =>
          store.messages.enqueueOutbound([{ message: outboundMessage({ account, contact: k }, { conversationId: c.id }), conversation: c }], {
            conversationId: c.id,
            ownerEpoch: 0,
            lockToken: token,
          });
        await rejection(reply(3), 'stale_lock_token');
        await expect(reply(4)).resolves.toHaveLength(1);
      });

      it('lists only the held locks of the given accounts', async () => {
        const a = await givenGroupAccount();
        const b = await givenGroupAccount();
        const held = await givenConversation(a);
        const free = await givenConversation(a);
        const elsewhere = await givenConversation(b);
        await store.locks.save(record(held.conversation.id, a.id, { state: 'idleWarning', releaseAt: T0 + 60_000 }));
        await store.locks.save(record(free.conversation.id, a.id, { state: 'idle', holderUserId: null, holderName: null, since: null }));
        await store.locks.save(record(elsewhere.conversation.id, b.id));
        expect((await store.locks.listActive([a.id])).map((l) => [l.conversationId, l.state])).toEqual([[held.conversation.id, 'idleWarning']]);
        expect(await store.locks.listActive([])).toEqual([]);
      });

      it('says not_found for a conversation that does not exist', async () => {
        await rejection(store.locks.save(record(newId(), newId())), 'not_found');
        expect(await store.locks.get(newId())).toBeNull();
      });
    });

    describe('webhook nonces', () => {
      const DAY = 24 * 3600_000;
      const claim = (nonce: string, fingerprint: string, seenAt = T0, keepFor = DAY) =>
        store.webhookNonces.claim({ nonce, fingerprint, seenAt, keepUntil: seenAt + keepFor });

      it('claims a new nonce, and the same nonce again for the same request (a retry)', async () => {
        expect(await claim('05429567804466091622', 'request-a')).toBe(true);
        expect(await claim('05429567804466091622', 'request-a', T0 + 60_000)).toBe(true);
      });

      it('refuses a nonce recorded for another request (a replay), and keeps the first binding', async () => {
        expect(await claim('11111111111111111111', 'request-a')).toBe(true);
        expect(await claim('11111111111111111111', 'request-b', T0 + 1)).toBe(false);
        expect(await claim('11111111111111111111', 'request-a', T0 + 2)).toBe(true);
        expect(await claim('22222222222222222222', 'request-b', T0 + 3)).toBe(true);
      });

      it('grants a nonce to one of two requests claiming it at once', async () => {
        const results = await Promise.all([claim('33333333333333333333', 'request-a'), claim('33333333333333333333', 'request-b')]);
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = results[0] ? 'request-a' : 'request-b';
        expect(await claim('33333333333333333333', winner, T0 + 1)).toBe(true);
      });

      it('grants both of two identical requests claiming a nonce at once', async () => {
        expect(await Promise.all([claim('44444444444444444444', 'request-a'), claim('44444444444444444444', 'request-a')])).toEqual([true, true]);
      });

      it('keeps a record until its keepUntil (a retry does not extend it), and starts afresh after it', async () => {
        expect(await claim('55555555555555555555', 'request-a', T0, 10)).toBe(true);
        expect(await claim('55555555555555555555', 'request-a', T0 + 5)).toBe(true);
        expect(await claim('55555555555555555555', 'request-b', T0 + 10)).toBe(false);
        expect(await claim('55555555555555555555', 'request-b', T0 + 11)).toBe(true);
        expect(await claim('55555555555555555555', 'request-a', T0 + 12)).toBe(false);
      });

      it.runIf(options.reopen !== undefined)('keeps its records across a close and reopen', async () => {
        expect(await claim('66666666666666666666', 'request-a')).toBe(true);
        store = await options.reopen!(store);
        expect(await claim('66666666666666666666', 'request-b', T0 + 1)).toBe(false);
        expect(await claim('66666666666666666666', 'request-a', T0 + 2)).toBe(true);
      });
    });
    describe('campaigns', () => {
      const START: ExpansionCursor = { phase: 'phones', offset: 0, afterContactId: null, ordinal: 0 };
      const cursorAt = (n: number): ExpansionCursor => ({ phase: 'phones', offset: n, afterContactId: null, ordinal: n });

      function campaign(account: Account, over: Partial<Campaign> = {}): Campaign {
        return {
          id: newId(T0),
          kind: 'campaign',
          accountId: account.id,
          name: 'Fall welcome',
          text: 'Welcome {FirstName}!',
          timeZone: 'America/New_York',
          state: 'draft',
          pausedReason: null,
          scheduledAt: null,
          sendAnyway: false,
          snapshot: '{}',
          source: { phones: [], contactIds: [], filter: null },
          expansion: START,
          skippedDuplicate: 0,
          createdByUserId: 'user-dana',
          createdByName: 'Dana Reyes',
          createdAt: T0,
          updatedAt: T0,
          ...over,
        };
      }

      const row = (phoneNumber: string, seq: number, over: Partial<NewRecipient> = {}): NewRecipient => ({
        phone: phoneNumber,
        seq,
        contactId: null,
        senderNumber: null,
        status: 'queued',
        ...over,
      });

      /** A campaign with these contacts as queued recipients, all for the account's first number. */
      async function givenCampaignWith(contacts: Contact[]): Promise<{ account: Account; c: Campaign }> {
        const account = await givenGroupAccount();
        const c = await store.campaigns.create(campaign(account));
        const rows = contacts.map((x, i) => row(x.phone, i, { contactId: x.id, senderNumber: account.numbers[0]! }));
        await store.campaigns.addRecipients(c.id, START, cursorAt(rows.length), rows, T0, 0);
        return { account, c };
      }

      const handOff = (account: Account, c: Campaign, x: Contact, at = T0 + 1, ownerEpoch = 0) =>
        store.messages.enqueueOutbound([
          {
            message: outboundMessage({ account, contact: x, at }),
            conversation: conversation(account.id, x.id),
            campaignRecipient: { campaignId: c.id, phone: x.phone, ownerEpoch },
          },
        ]);

      it('lets one of two activations claiming the same epoch win, and the next claim goes on from it', async () => {
        const account = await givenGroupAccount();
        const c = await store.campaigns.create(campaign(account));
        expect(await store.campaigns.ownerEpoch(c.id)).toBe(0);
        const claims = await Promise.all([store.campaigns.claimEpoch(c.id, 0), store.campaigns.claimEpoch(c.id, 0)]);
        expect(claims.sort()).toEqual([1, null]);
        expect(await store.campaigns.claimEpoch(c.id, 0)).toBeNull();
        expect(await store.campaigns.claimEpoch(c.id, 1)).toBe(2);
        expect(await store.campaigns.ownerEpoch(c.id)).toBe(2);
        expect(await store.campaigns.ownerEpoch(newId(T0))).toBeNull();
        await expect(store.campaigns.claimEpoch(newId(T0), 0)).rejects.toMatchObject({ code: 'not_found' });
        // The epoch is the store's, not part of what a campaign reads as.
        expect(await store.campaigns.get(c.id)).toEqual(c);
      });

      it("refuses every write of a campaign's state under a stale owner epoch, and passes the newer epoch's", async () => {
        const contacts = [await givenContact(), await givenContact(), await givenContact()];
        const account = await givenGroupAccount();
        const c = await store.campaigns.create(campaign(account));
        expect(await store.campaigns.claimEpoch(c.id, 0)).toBe(1);
        const rows = contacts.map((x, i) => row(x.phone, i, { contactId: x.id, senderNumber: account.numbers[0]! }));
        expect(await store.campaigns.addRecipients(c.id, START, cursorAt(2), rows.slice(0, 2), T0, 1)).toEqual({ inserted: 2, duplicates: 0 });
        // A newer activation claims the campaign: the older one's writes change nothing from now on.
        expect(await store.campaigns.claimEpoch(c.id, 1)).toBe(2);
        const stale = { name: 'StaleOwnerEpoch' };
        await expect(store.campaigns.saveState(c.id, { state: 'sending', pausedReason: null, snapshot: '{"old":1}', at: T0 + 1 }, 1)).rejects.toMatchObject(stale);
        await expect(store.campaigns.addRecipients(c.id, cursorAt(2), cursorAt(3), rows.slice(2), T0 + 1, 1)).rejects.toMatchObject(stale);
        await expect(store.campaigns.skip(c.id, [contacts[1]!.phone], 'skipped_opted_out', T0 + 1, 1)).rejects.toMatchObject(stale);
        const old = outboundMessage({ account, contact: contacts[0]!, at: T0 + 1 });
        await expect(
          store.messages.enqueueOutbound([{ message: old, conversation: conversation(account.id, contacts[0]!.id), campaignRecipient: { campaignId: c.id, phone: contacts[0]!.phone, ownerEpoch: 1 } }]),
        ).rejects.toMatchObject(stale);
        expect(await store.messages.get(old.id)).toBeNull();
        expect(await store.campaigns.get(c.id)).toMatchObject({ state: 'draft', snapshot: '{}', expansion: cursorAt(2) });
        expect(await store.campaigns.counts(c.id)).toMatchObject({ total: 2, queued: 2, skippedOptedOut: 0 });
        expect((await store.campaigns.listRecipients(c.id, { limit: 10 })).map((r) => r.messageId)).toEqual([null, null]);
        // The newer epoch's writes pass.
        expect(await store.campaigns.saveState(c.id, { state: 'sending', pausedReason: null, snapshot: '{"new":1}', at: T0 + 2 }, 2)).toMatchObject({ state: 'sending', snapshot: '{"new":1}' });
        expect(await store.campaigns.addRecipients(c.id, cursorAt(2), cursorAt(3), rows.slice(2), T0 + 2, 2)).toEqual({ inserted: 1, duplicates: 0 });
        await store.campaigns.skip(c.id, [contacts[1]!.phone], 'skipped_opted_out', T0 + 2, 2);
        const [done] = await handOff(account, c, contacts[0]!, T0 + 2, 2);
        expect((await store.campaigns.listRecipients(c.id, { limit: 10 })).map((r) => [r.status, r.messageId])).toEqual([
          ['queued', done!.message.id],
          ['skipped_opted_out', null],
          ['queued', null],
        ]);
        await expect(store.campaigns.saveState(newId(T0), { state: 'sending', pausedReason: null, snapshot: '{}', at: T0 }, 2)).rejects.toMatchObject({ code: 'not_found' });
      });

      it('creates, reads, lists newest first, and records state changes', async () => {
        const account = await givenGroupAccount();
        const first = await store.campaigns.create(campaign(account, { id: newId(T0) }));
        const second = await store.campaigns.create(campaign(account, { id: newId(T0 + 1), source: { phones: ['+16175550100'], contactIds: [], filter: { customFields: { program: 'MBA' } } } }));
        expect(await store.campaigns.get(second.id)).toEqual(second);
        expect((await store.campaigns.list(account.id, { limit: 10 })).map((c) => c.id)).toEqual([second.id, first.id]);
        expect((await store.campaigns.list(account.id, { limit: 10, before: second.id })).map((c) => c.id)).toEqual([first.id]);
        const saved = await store.campaigns.saveState(first.id, { state: 'paused', pausedReason: 'quietHours', snapshot: '{"x":1}', at: T0 + 5 }, 0);
        expect(saved).toMatchObject({ state: 'paused', pausedReason: 'quietHours', snapshot: '{"x":1}', updatedAt: T0 + 5 });
        await store.campaigns.saveState(second.id, { state: 'completed', pausedReason: null, snapshot: '{}', at: T0 + 6 }, 0);
        expect((await store.campaigns.listUnfinished()).map((c) => c.id)).toEqual([first.id]);
        await expect(store.campaigns.saveState(newId(T0), { state: 'sending', pausedReason: null, snapshot: '{}', at: T0 }, 0)).rejects.toMatchObject({ code: 'not_found' });
      });

      it('keeps a campaign’s kind and lists one kind at a time, newest first', async () => {
        const account = await givenGroupAccount();
        const a = await store.campaigns.create(campaign(account, { id: newId(T0) }));
        const m1 = await store.campaigns.create(campaign(account, { id: newId(T0 + 1), kind: 'message', state: 'scheduled', scheduledAt: T0 + 3_600_000 }));
        const b = await store.campaigns.create(campaign(account, { id: newId(T0 + 2) }));
        const m2 = await store.campaigns.create(campaign(account, { id: newId(T0 + 3), kind: 'message' }));
        expect(await store.campaigns.get(m1.id)).toEqual(m1);
        const ids = async (page: Parameters<Store['campaigns']['list']>[1]) => (await store.campaigns.list(account.id, page)).map((c) => c.id);
        expect(await ids({ limit: 10 })).toEqual([m2.id, b.id, m1.id, a.id]);
        expect(await ids({ limit: 10, kind: 'message' })).toEqual([m2.id, m1.id]);
        expect(await ids({ limit: 10, kind: 'campaign' })).toEqual([b.id, a.id]);
        expect(await ids({ limit: 1, kind: 'message', before: m2.id })).toEqual([m1.id]);
      });

      it('writes an idempotency record with the campaign, and refuses a live key', async () => {
        const account = await givenGroupAccount();
        const record: NewIdempotencyRecord = {
          scope: 'user:dana', key: 'k-1', fingerprint: 'f', createdAt: T0, expiresAt: T0 + 1000,
          response: () => ({ status: 201, body: '{"id":"first"}' }),
        };
        await store.campaigns.create(campaign(account), record);
        expect(await store.idempotency.get('user:dana', 'k-1', T0)).toMatchObject({ status: 201, body: '{"id":"first"}' });
        const other = campaign(account);
        await expect(store.campaigns.create(other, record)).rejects.toMatchObject({ code: 'idempotency_key_in_flight' });
        expect(await store.campaigns.get(other.id)).toBeNull();
      });

      it('inserts a phone once per campaign, counting repeats in a batch and across batches as duplicates', async () => {
        const account = await givenGroupAccount();
        const c = await store.campaigns.create(campaign(account));
        const [a, b, d] = [phone(), phone(), phone()];
        expect(await store.campaigns.addRecipients(c.id, START, cursorAt(3), [row(a, 0), row(b, 1), row(a, 2)], T0, 0)).toEqual({ inserted: 2, duplicates: 1 });
        expect(await store.campaigns.addRecipients(c.id, cursorAt(3), cursorAt(5), [row(b, 3), row(d, 4)], T0, 0)).toEqual({ inserted: 1, duplicates: 1 });
        expect((await store.campaigns.get(c.id))?.expansion).toEqual(cursorAt(5));
        expect(await store.campaigns.counts(c.id)).toMatchObject({ total: 3, queued: 3, skippedDuplicate: 2 });
        // The first row of a phone is the one kept.
        expect((await store.campaigns.listRecipients(c.id, { limit: 10 })).map((r) => [r.phone, r.seq])).toEqual([[a, 0], [b, 1], [d, 4]]);
      });

      it('writes nothing for a batch whose cursor has moved on (a re-run after a crash)', async () => {
        const account = await givenGroupAccount();
        const c = await store.campaigns.create(campaign(account));
        const rows = [row(phone(), 0), row(phone(), 1)];
        expect(await store.campaigns.addRecipients(c.id, START, cursorAt(2), rows, T0, 0)).toEqual({ inserted: 2, duplicates: 0 });
        expect(await store.campaigns.addRecipients(c.id, START, cursorAt(2), [...rows, row(phone(), 2)], T0, 0)).toBeNull();
        expect(await store.campaigns.counts(c.id)).toMatchObject({ total: 2, skippedDuplicate: 0 });
      });

      it('counts recipients by status, with skipped ones and replies', async () => {
        const account = await givenGroupAccount();
        const c = await store.campaigns.create(campaign(account));
        await store.campaigns.addRecipients(
          c.id, START, cursorAt(4),
          [row(phone(), 0), row(phone(), 1, { status: 'skipped_opted_out' }), row('not a phone', 2, { status: 'skipped_invalid' }), row(phone(), 3)],
          T0,
          0,
        );
        expect(await store.campaigns.counts(c.id)).toEqual({
          total: 4, queued: 2, sent: 0, delivered: 0, failed: 0, unknown: 0, skippedOptedOut: 1, skippedDuplicate: 0, skippedInvalid: 1, replies: 0,
        });
      });

      it('hands a recipient its message once, in the write that records the message', async () => {
        const contacts = [await givenContact(), await givenContact(), await givenContact()];
        const { account, c } = await givenCampaignWith(contacts);
        const number = account.numbers[0]!;
        expect((await store.campaigns.nextToHandOff(c.id, number, 2)).map((r) => r.phone)).toEqual([contacts[0]!.phone, contacts[1]!.phone]);
        const [done] = await handOff(account, c, contacts[0]!);
        expect((await store.campaigns.nextToHandOff(c.id, number, 5)).map((r) => r.phone)).toEqual([contacts[1]!.phone, contacts[2]!.phone]);
        const [handed] = await store.campaigns.listRecipients(c.id, { limit: 1 });
        expect(handed).toMatchObject({ messageId: done!.message.id, handedAt: T0 + 1, status: 'queued' });
        // Twice is refused, and the refused write records no message.
        const again = outboundMessage({ account, contact: contacts[0]! });
        await expect(
          store.messages.enqueueOutbound([{ message: again, conversation: conversation(account.id, contacts[0]!.id), campaignRecipient: { campaignId: c.id, phone: contacts[0]!.phone, ownerEpoch: 0 } }]),
        ).rejects.toMatchObject({ code: 'conflict' });
        expect(await store.messages.get(again.id)).toBeNull();
        expect(await store.campaigns.nextToHandOff(c.id, account.numbers[1]!, 5)).toEqual([]);
      });

      it("follows its message's status: sending stays queued, then sent, delivered, failed, unknown", async () => {
        const contacts = [await givenContact(), await givenContact(), await givenContact()];
        const { account, c } = await givenCampaignWith(contacts);
        const ids: string[] = [];
        for (const x of contacts) ids.push((await handOff(account, c, x))[0]!.message.id);
        const statusOf = async (i: number) => (await store.campaigns.listRecipients(c.id, { limit: 10 }))[i]!.status;
        await store.messages.transition(ids[0]!, { status: 'sending', at: T0 + 2 });
        expect(await statusOf(0)).toBe('queued');
        await store.messages.transition(ids[0]!, { status: 'submitted', providerId: 'p-0', at: T0 + 3 });
        expect(await statusOf(0)).toBe('sent');
        await store.messages.applyProviderStatus('p-0', { status: 'delivered', sequence: 2, errorCode: null, at: T0 + 4 });
        expect(await statusOf(0)).toBe('delivered');
        await store.messages.transition(ids[1]!, { status: 'rejected', errorCode: 'provider_rejected', at: T0 + 3 });
        expect(await statusOf(1)).toBe('failed');
        await store.messages.transition(ids[2]!, { status: 'sending', at: T0 + 2 });
        await store.messages.markInterruptedSendsUnknown(T0 + 9);
        expect(await statusOf(2)).toBe('unknown');
        expect(await store.campaigns.counts(c.id)).toMatchObject({ total: 3, queued: 0, delivered: 1, failed: 1, unknown: 1 });
        expect((await store.campaigns.listRecipients(c.id, { status: 'unknown', limit: 10 })).map((r) => r.phone)).toEqual([contacts[2]!.phone]);
      });

      it('skips only recipients not handed over yet', async () => {
        const contacts = [await givenContact(), await givenContact()];
        const { account, c } = await givenCampaignWith(contacts);
        await handOff(account, c, contacts[0]!);
        await store.campaigns.skip(c.id, contacts.map((x) => x.phone), 'skipped_opted_out', T0 + 2, 0);
        expect((await store.campaigns.listRecipients(c.id, { limit: 10 })).map((r) => r.status)).toEqual(['queued', 'skipped_opted_out']);
      });

      it('pages recipients by seq, filtered by status', async () => {
        const account = await givenGroupAccount();
        const c = await store.campaigns.create(campaign(account));
        const phones = [phone(), phone(), phone(), phone()];
        await store.campaigns.addRecipients(c.id, START, cursorAt(4), phones.map((p, i) => row(p, i, i === 2 ? { status: 'skipped_opted_out' } : {})), T0, 0);
        const firstPage = await store.campaigns.listRecipients(c.id, { status: 'queued', limit: 2 });
        expect(firstPage.map((r) => r.phone)).toEqual([phones[0], phones[1]]);
        expect((await store.campaigns.listRecipients(c.id, { status: 'queued', limit: 2, after: firstPage[1]!.seq })).map((r) => r.phone)).toEqual([phones[3]]);
      });

      it('counts a reply once, on the latest campaign text sent to that contact before it', async () => {
        const x = await givenContact();
        const { account, c } = await givenCampaignWith([x]);
        expect(await store.campaigns.recordReply(account.id, x.id, T0)).toBeNull();
        await handOff(account, c, x, T0 + 10);
        expect(await store.campaigns.recordReply(account.id, x.id, T0 + 5)).toBeNull();
        expect(await store.campaigns.recordReply(account.id, x.id, T0 + 20)).toBe(c.id);
        expect(await store.campaigns.recordReply(account.id, x.id, T0 + 30)).toBeNull();
        expect(await store.campaigns.counts(c.id)).toMatchObject({ replies: 1 });
        const other = await givenGroupAccount();
        expect(await store.campaigns.recordReply(other.id, x.id, T0 + 40)).toBeNull();
      });

      /** A campaign's counts recounted from its rows, every page of them, and its duplicates counter. */
      async function recount(campaignId: string): Promise<CampaignCounts> {
        const key = { queued: 'queued', sent: 'sent', delivered: 'delivered', failed: 'failed', unknown: 'unknown', skipped_opted_out: 'skippedOptedOut', skipped_invalid: 'skippedInvalid' } as const;
        const counts = { total: 0, queued: 0, sent: 0, delivered: 0, failed: 0, unknown: 0, skippedOptedOut: 0, skippedInvalid: 0, replies: 0 };
        for (let after: number | undefined = undefined, pages = 0; pages < 100; pages++) {
          const page = await store.campaigns.listRecipients(campaignId, { limit: 3, ...(after === undefined ? {} : { after }) });
          for (const r of page) {
            counts.total++;
            counts[key[r.status]]++;
            if (r.repliedAt !== null) counts.replies++;
          }
          if (page.length < 3) break;
          after = page.at(-1)!.seq;
        }
        return { ...counts, skippedDuplicate: (await store.campaigns.get(campaignId))!.skippedDuplicate };
      }

      it('keeps counts equal to a recount of the rows through every transition, refused writes included', async () => {
        const contacts: Contact[] = [];
        for (let i = 0; i < 7; i++) contacts.push(await givenContact());
        const account = await givenGroupAccount();
        const c = await store.campaigns.create(campaign(account));
        const same = async () => expect(await store.campaigns.counts(c.id)).toEqual(await recount(c.id));
        await same();
        const number = account.numbers[0]!;
        const rows = contacts.map((x, i) => row(x.phone, i, { contactId: x.id, senderNumber: number }));
        // Expansion: queued, opted out, invalid, and repeats (in a batch and across batches).
        await store.campaigns.addRecipients(
          c.id, START, cursorAt(5),
          [...rows.slice(0, 3), row(contacts[0]!.phone, 3), row(phone(), 4, { status: 'skipped_opted_out' })],
          T0, 0,
        );
        await same();
        await store.campaigns.addRecipients(c.id, cursorAt(5), cursorAt(10), [...rows.slice(3), row('not a phone', 9, { status: 'skipped_invalid' }), row(contacts[1]!.phone, 10)], T0, 0);
        await same();
        expect(await store.campaigns.claimEpoch(c.id, 0)).toBe(1);
        // Refused writes: a stale epoch's batch and skip, a hand-over batch with one conflict in it.
        await expect(store.campaigns.addRecipients(c.id, cursorAt(10), cursorAt(11), [row(phone(), 11)], T0, 0)).rejects.toMatchObject({ name: 'StaleOwnerEpoch' });
        await expect(store.campaigns.skip(c.id, [contacts[6]!.phone], 'skipped_opted_out', T0, 0)).rejects.toMatchObject({ name: 'StaleOwnerEpoch' });
        const ids: string[] = [];
        for (const x of contacts.slice(0, 5)) ids.push((await handOff(account, c, x, T0 + 1, 1))[0]!.message.id);
        await expect(
          store.messages.enqueueOutbound(
            [contacts[5]!, contacts[0]!].map((x) => ({
              message: outboundMessage({ account, contact: x, at: T0 + 2 }),
              conversation: conversation(account.id, x.id),
              campaignRecipient: { campaignId: c.id, phone: x.phone, ownerEpoch: 1 },
            })),
          ),
        ).rejects.toMatchObject({ code: 'conflict' });
        await same();
        // Skips at send time, one of them of a recipient handed over already (which stays).
        await store.campaigns.skip(c.id, [contacts[5]!.phone, contacts[0]!.phone], 'skipped_opted_out', T0 + 2, 1);
        await same();
        // Message statuses: sent then delivered (a late lower-sequence callback changes nothing),
        // rejected, undelivered, interrupted (unknown), and one still sending.
        await store.messages.transition(ids[0]!, { status: 'sending', at: T0 + 3 });
        await store.messages.transition(ids[0]!, { status: 'submitted', providerId: 'cnt-0', at: T0 + 3 });
        await same();
        await store.messages.applyProviderStatus('cnt-0', { status: 'delivered', sequence: 2, errorCode: null, at: T0 + 4 });
        expect(await store.messages.applyProviderStatus('cnt-0', { status: 'sent', sequence: 1, errorCode: null, at: T0 + 4 })).toBeNull();
        await store.messages.transition(ids[1]!, { status: 'rejected', errorCode: 'provider_rejected', at: T0 + 3 });
        await store.messages.transition(ids[2]!, { status: 'submitted', providerId: 'cnt-2', at: T0 + 3 });
        await store.messages.applyProviderStatus('cnt-2', { status: 'undelivered', sequence: 2, errorCode: '30', at: T0 + 5 });
        await store.messages.transition(ids[3]!, { status: 'sending', at: T0 + 3 });
        await store.messages.transition(ids[4]!, { status: 'sending', at: T0 + 3 });
        await store.messages.markInterruptedSendsUnknown(T0 + 6);
        await store.messages.transition(ids[4]!, { status: 'submitted', providerId: 'cnt-4', at: T0 + 7 });
        await same();
        // Replies: counted once per recipient.
        expect(await store.campaigns.recordReply(account.id, contacts[0]!.id, T0 + 8)).toBe(c.id);
        expect(await store.campaigns.recordReply(account.id, contacts[0]!.id, T0 + 9)).toBeNull();
        expect(await store.campaigns.recordReply(account.id, contacts[1]!.id, T0 + 9)).toBe(c.id);
        await same();
        expect(await store.campaigns.counts(c.id)).toEqual({
          total: 9, queued: 1, sent: 1, delivered: 1, failed: 2, unknown: 1, skippedOptedOut: 2, skippedDuplicate: 2, skippedInvalid: 1, replies: 2,
        });
        // A campaign with no rows, and none at all, count zero.
        const empty = await store.campaigns.create(campaign(account, { id: newId(T0 + 1) }));
        expect(await store.campaigns.counts(empty.id)).toEqual(await recount(empty.id));
        expect(await store.campaigns.counts(newId(T0))).toMatchObject({ total: 0, queued: 0, replies: 0 });
      });

      it('scans contacts by a saved filter a page at a time: custom fields (names in any case) and staff', async () => {
        const mba = await givenContact({ customFields: { Program: 'MBA', term: 'Fall' } });
        await givenContact({ customFields: { program: 'BSc' } });
        const mine = await givenContact({ customFields: { program: 'MBA' }, staffId: 'user-sam' });
        const all: string[] = [];
        let afterId: string | null = null;
        let pages = 0;
        do {
          const page: { matches: Contact[]; last: string | null } = await store.contacts.scanByFilter({ filter: { customFields: { PROGRAM: 'MBA' } }, afterId, limit: 1 });
          all.push(...page.matches.map((m) => m.id));
          afterId = page.last;
          pages++;
        } while (afterId !== null && pages < 10);
        expect(all.sort()).toEqual([mba.id, mine.id].sort());
        const staff = await store.contacts.scanByFilter({ filter: { staffId: 'user-sam' }, afterId: null, limit: 10 });
        expect(staff).toEqual({ matches: [mine], last: null });
      });

      it('scans contacts carrying every tag of a filter a page at a time, with the other conditions', async () => {
        const tag = `cohort-${phone().slice(-6)}`;
        for (let i = 0; i < 12; i++) await givenContact();
        const both = await givenContact({ tags: [tag, 'transfer'] });
        const onlyCohort = await givenContact({ tags: [tag] });
        await givenContact({ tags: ['transfer'] });
        const bothMba = await givenContact({ tags: [tag, 'transfer'], customFields: { program: 'MBA' } });
        const scan = async (filter: ContactFilter, limit: number): Promise<string[]> => {
          const all: string[] = [];
          let afterId: string | null = null;
          let pages = 0;
          do {
            const page: { matches: Contact[]; last: string | null } = await store.contacts.scanByFilter({ filter, afterId, limit });
            expect(page.matches.length).toBeLessThanOrEqual(limit);
            all.push(...page.matches.map((m) => m.id));
            afterId = page.last;
            pages++;
          } while (afterId !== null && pages < 20);
          return all;
        };
        expect(await scan({ tags: [tag] }, 1)).toEqual([both.id, onlyCohort.id, bothMba.id].sort());
        expect(await scan({ tags: [tag, 'transfer'] }, 1)).toEqual([both.id, bothMba.id].sort());
        expect(await scan({ tags: [tag, 'transfer'], customFields: { Program: 'MBA' } }, 2)).toEqual([bothMba.id]);
        expect(await scan({ tags: ['no-such-tag'] }, 5)).toEqual([]);
        // Only the tag's contacts are read: a page of one tag's contacts ends where they end.
        expect(await store.contacts.scanByFilter({ filter: { tags: [tag] }, afterId: null, limit: 10 })).toMatchObject({ last: null });
      });
    });
  });
}
