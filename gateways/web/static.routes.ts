import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants as zlibConstants, gzipSync } from 'node:zlib';
import type { Router } from '../http/router.js';
import type { HttpRequest, HttpResult } from '../http/types.js';
import { text } from '../http/types.js';

// Serves the built web client (gateways/web/build.ts) from memory: `/` is index.html, `/assets/<name>`
// the content-hashed scripts and style sheets. Only files found in the build directory at start-up
// exist, looked up by exact name, so no request path ever reaches the file system (no traversal).
// Each file is compressed once at start-up (brotli and gzip) and the best one the browser accepts
// is sent.

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.json']);

// Hashed names change with their content: a browser may keep them for good.
const IMMUTABLE = 'public, max-age=31536000, immutable';
// index.html names the current assets: revalidate it every time (cheap: ETag → 304).
const REVALIDATE = 'no-cache';
// The client loads only its own files and talks only to this origin (REST and the WebSocket).
const PAGE_POLICY = "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** Where gateways/web/build.ts writes the client. */
export const CLIENT_DIST_DIR = join(dirname(fileURLToPath(import.meta.url)), 'dist');

interface StaticFile {
  type: string;
  etag: string;
  cacheControl: string;
  identity: Buffer;
  gzip: Buffer | null;
  brotli: Buffer | null;
}

export interface ClientFiles {
  /** Keyed by the URL path without the leading slash: 'index.html', 'assets/app-3F2A.js'. */
  files: Map<string, StaticFile>;
}

/** Reads a client build into memory; null when there is none (the gateway then explains how to build it). */
export function loadClientFiles(dir: string): ClientFiles | null {
  if (!existsSync(join(dir, 'index.html'))) return null;
  const files = new Map<string, StaticFile>();
  const add = (name: string, cacheControl: string) => {
    const ext = extname(name);
    const identity = readFileSync(join(dir, name));
    const compressible = COMPRESSIBLE.has(ext);
    files.set(name, {
      type: TYPES[ext] ?? 'application/octet-stream',
      etag: `"${createHash('sha256').update(identity).digest('base64url').slice(0, 22)}"`,
      cacheControl,
      identity,
      gzip: compressible ? gzipSync(identity, { level: 9 }) : null,
      brotli: compressible ? brotliCompressSync(identity, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 11 } }) : null,
    });
  };
  add('index.html', REVALIDATE);
  const assetsDir = join(dir, 'assets');
  if (existsSync(assetsDir)) {
    for (const entry of readdirSync(assetsDir, { withFileTypes: true })) {
      if (entry.isFile() && !entry.name.endsWith('.map')) add(`assets/${entry.name}`, IMMUTABLE);
    }
  }
  return { files };
}

export function registerClientRoutes(router: Router, client: ClientFiles | null): void {
  if (!client) {
    const missing = () => text(503, 'The web client is not built: run `npm start` (it builds it) or `npx tsx gateways/web/build.ts`.\n');
    router.get('/', missing);
    return;
  }
  router.get('/', (req) => serve(req, client.files.get('index.html')!));
  router.get('/assets/:name', (req) => {
    const file = client.files.get(`assets/${req.params['name'] ?? ''}`);
    return file ? serve(req, file) : text(404, 'Not found\n');
  });
}

function serve(req: HttpRequest, file: StaticFile): HttpResult {
  const headers: Record<string, string> = { 'content-type': file.type, 'cache-control': file.cacheControl, etag: file.etag, vary: 'accept-encoding' };
  if (file.type.startsWith('text/html')) headers['content-security-policy'] = PAGE_POLICY;
  if (matchesEtag(req.headers['if-none-match'], file.etag)) return { status: 304, headers };
  const accepted = acceptedEncodings(req.headers['accept-encoding']);
  if (file.brotli && accepted.has('br')) return { status: 200, headers: { ...headers, 'content-encoding': 'br' }, body: file.brotli };
  if (file.gzip && accepted.has('gzip')) return { status: 200, headers: { ...headers, 'content-encoding': 'gzip' }, body: file.gzip };
  return { status: 200, headers, body: file.identity };
}

function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((t) => {
    const tag = t.trim();
    return tag === '*' || tag === etag || tag === `W/${etag}`;
  });
}

/** The codings a browser accepts (q=0 means "not this one"). */
function acceptedEncodings(header: string | undefined): Set<string> {
  const out = new Set<string>();
  for (const part of (header ?? '').split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (!name) continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q && Number(q.slice(2)) === 0) continue;
    out.add(name);
  }
  return out;
}
