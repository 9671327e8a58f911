import { createHash } from 'node:crypto';
import { newSecret } from '../ids.js';

// Bearer secrets are stored only as SHA-256 hashes: a stolen database yields no usable session or
// API key. (They are 256-bit random values, so a fast hash is enough; passwords use scrypt.)

export const API_KEY_PREFIX = 'sbk_';

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

export function newSessionToken(): string {
  return newSecret(32);
}

export function newApiKey(): { key: string; prefix: string } {
  const key = API_KEY_PREFIX + newSecret(32);
  return { key, prefix: key.slice(0, API_KEY_PREFIX.length + 6) };
}

export function looksLikeApiKey(token: string): boolean {
  return token.startsWith(API_KEY_PREFIX);
}
