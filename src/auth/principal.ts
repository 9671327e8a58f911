import type { ApiKey, User } from '../domain/types.js';

// Who is asking: a signed-in person, or a department's API key (an integration).
export type Principal =
  | { kind: 'user'; user: User; sessionTokenHash: string; sessionExpiresAt: number }
  | { kind: 'apiKey'; apiKey: ApiKey };

export function principalName(p: Principal): string {
  return p.kind === 'user' ? p.user.name : `API key ${p.apiKey.name}`;
}
