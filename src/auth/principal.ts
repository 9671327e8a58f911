import type { ApiKey, User } from '../domain/types.js';

// Who is asking: a signed-in person, or a department's API key (an integration).
export type Principal =
  | { kind: 'user'; user: User; sessionTokenHash: string; sessionExpiresAt: number }
  | { kind: 'apiKey'; apiKey: ApiKey };

/** A person acting outside any request, with no session: seeding, re-checking access after a change. */
export function personPrincipal(user: User): Principal {
  return { kind: 'user', user, sessionTokenHash: '', sessionExpiresAt: Number.MAX_SAFE_INTEGER };
}

export function principalName(p: Principal): string {
  return p.kind === 'user' ? p.user.name : `API key ${p.apiKey.name}`;
}
