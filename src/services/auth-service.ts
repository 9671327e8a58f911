import type { ApiKey, Department, User } from '../domain/types.js';
import type { Principal } from '../auth/principal.js';
import type { CoreContext } from './context.js';
import type { Config } from '../config.js';
import { AppError, forbidden, notFound } from '../errors.js';
import { hashPassword, verifyPassword } from '../auth/passwords.js';
import { hashToken, looksLikeApiKey, newApiKey, newSessionToken } from '../auth/tokens.js';
import { canManageDepartment } from '../auth/access.js';
import { LoginLimiter } from '../auth/login-limiter.js';
import { newId } from '../ids.js';

// Sessions (email + password → a revocable bearer token) and department API keys.

// A real hash to compare against when the email is unknown, so that a wrong email and a wrong
// password take the same time (no account enumeration by timing).
const DUMMY_HASH = hashPassword('not-a-real-password');

/** What the sign-in rules read from the configuration. */
export type AuthSettings = Pick<Config, 'login' | 'sessionTtlMs'>;

export class AuthService {
  private readonly limiter: LoginLimiter;

  /** The department, when `user` may manage it (its board, its keys); else not_found / forbidden. */
  requireDepartmentAdmin(user: User, departmentId: string): Promise<Department> {
    return requireDepartmentAdmin(this.c, user, departmentId);
  }

  constructor(
    private readonly c: CoreContext,
    private readonly settings: AuthSettings,
  ) {
    this.limiter = new LoginLimiter(settings.login, c.clock);
  }

  /** `address`: the client's, for the per-address limit on failed sign-ins. */
  async login(email: string, password: string, address: string): Promise<{ token: string; user: User; expiresAt: number }> {
    const user = await this.checkPassword(email, address, async () => {
      const found = await this.c.store.users.getByEmail(email);
      const ok = await verifyPassword(password, found?.passwordHash ?? (await DUMMY_HASH));
      return found && ok && !found.disabled ? found : null;
    });
    if (!user) throw new AppError('invalid_credentials', 'Email or password is wrong');
    const token = newSessionToken();
    const now = this.c.clock.now();
    const expiresAt = now + this.settings.sessionTtlMs;
    await this.c.store.sessions.create({ tokenHash: hashToken(token), userId: user.id, createdAt: now, expiresAt, revokedAt: null });
    return { token, user, expiresAt };
  }

  /**
   * A signed-in person's own password, asked again before it is changed; wrong guesses count
   * against the account like failed sign-ins (a stolen session must not become a way to find out
   * the password).
   */
  async confirmPassword(user: User, password: string | undefined): Promise<void> {
    if (password === undefined) {
      throw new AppError('invalid_current_password', 'Changing your password needs your current one (currentPassword)');
    }
    const ok = await this.checkPassword(user.email, null, () => verifyPassword(password, user.passwordHash));
    if (!ok) throw new AppError('invalid_current_password', 'The current password is wrong');
  }

  /** Runs one password check under the sign-in limits; a falsy result is a failure. */
  private async checkPassword<T>(email: string, address: string | null, check: () => Promise<T>): Promise<T> {
    const attempt = this.limiter.admit(email, address);
    let result: T;
    try {
      result = await check();
    } catch (e) {
      attempt.abandoned();
      throw e;
    }
    if (result) attempt.succeeded();
    else attempt.failed();
    return result;
  }

  async logout(p: Principal): Promise<void> {
    if (p.kind !== 'user') throw new AppError('bad_request', 'API keys have no session to end; revoke the key instead');
    await this.c.store.sessions.revoke(p.sessionTokenHash, this.c.clock.now());
    this.c.events.emit({ type: 'sessionRevoked', userId: p.user.id, tokenHash: p.sessionTokenHash });
  }

  /** Resolves the bearer token to a principal, or throws `unauthenticated`. */
  async authenticate(token: string | null): Promise<Principal> {
    if (!token) throw new AppError('unauthenticated', 'Sign in first: send Authorization: Bearer <token>');
    const tokenHash = hashToken(token);
    if (looksLikeApiKey(token)) {
      const apiKey = await this.c.store.apiKeys.getByHash(tokenHash);
      if (!apiKey || apiKey.revokedAt !== null) throw new AppError('unauthenticated', 'The API key is unknown or revoked');
      return { kind: 'apiKey', apiKey };
    }
    const session = await this.c.store.sessions.get(tokenHash);
    if (!session || session.revokedAt !== null || session.expiresAt <= this.c.clock.now()) {
      throw new AppError('unauthenticated', 'The session has ended; sign in again');
    }
    const user = await this.c.store.users.get(session.userId);
    if (!user || user.disabled) throw new AppError('unauthenticated', 'The session has ended; sign in again');
    return { kind: 'user', user, sessionTokenHash: tokenHash, sessionExpiresAt: session.expiresAt };
  }

  /**
   * The person as stored now, for connections that outlive the request that authenticated them;
   * null when they can no longer act (deleted or disabled).
   */
  async activeUser(userId: string): Promise<User | null> {
    const user = await this.c.store.users.get(userId);
    return user && !user.disabled ? user : null;
  }

  async createApiKey(p: Principal, departmentId: string, name: string): Promise<{ key: string; apiKey: ApiKey }> {
    const user = requireUser(p);
    await requireDepartmentAdmin(this.c, user, departmentId);
    const { key, prefix } = newApiKey();
    const apiKey = await this.c.store.apiKeys.create({
      id: newId(),
      departmentId,
      name,
      prefix,
      keyHash: hashToken(key),
      createdByUserId: user.id,
      createdAt: this.c.clock.now(),
      revokedAt: null,
    });
    return { key, apiKey };
  }

  async listApiKeys(p: Principal, departmentId: string): Promise<ApiKey[]> {
    await requireDepartmentAdmin(this.c, requireUser(p), departmentId);
    return this.c.store.apiKeys.listForDepartment(departmentId);
  }

  async revokeApiKey(p: Principal, departmentId: string, keyId: string): Promise<void> {
    await requireDepartmentAdmin(this.c, requireUser(p), departmentId);
    const keys = await this.c.store.apiKeys.listForDepartment(departmentId);
    if (!keys.some((k) => k.id === keyId)) throw notFound('API key');
    await this.c.store.apiKeys.revoke(keyId, this.c.clock.now());
  }

  async revokeAllSessions(userId: string): Promise<void> {
    await this.c.store.sessions.revokeAllForUser(userId, this.c.clock.now());
    this.c.events.emit({ type: 'sessionRevoked', userId, tokenHash: null });
  }
}

/**
 * The department, when the user may manage it. A department the user does not belong to is "not
 * found" (its existence is not theirs to know); their own department without admin rights is 403.
 */
export async function requireDepartmentAdmin(c: CoreContext, user: User, departmentId: string): Promise<Department> {
  const dept = await c.store.departments.get(departmentId);
  if (!dept || (user.role !== 'owner' && !user.departmentIds.includes(departmentId))) throw notFound('Department');
  if (!canManageDepartment(user, departmentId)) throw forbidden('Only an owner or a department admin can do this');
  return dept;
}

export function requireUser(p: Principal): User {
  if (p.kind !== 'user') throw forbidden('This needs a signed-in person, not an API key');
  return p.user;
}
