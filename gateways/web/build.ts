import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { CLIENT_DIST_DIR } from './static.routes.js';

// Builds the thin web client into gateways/web/dist/: index.html plus content-hashed files under
// assets/, so the gateway can let browsers keep assets forever and revalidate only index.html.
// esbuild takes well under a second, so `npm start` and the test setup simply build every time.

const here = dirname(fileURLToPath(import.meta.url));
export const CLIENT_SOURCE_DIR = join(here, 'client');

export interface ClientBuild {
  dir: string;
  /** Paths under dir of the scripts and style sheets index.html loads. */
  assets: string[];
}

export async function buildClient(outDir: string = CLIENT_DIST_DIR): Promise<ClientBuild> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(join(outDir, 'assets'), { recursive: true });
  const result = await build({
    entryPoints: { app: join(CLIENT_SOURCE_DIR, 'main.ts') },
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022'],
    outdir: join(outDir, 'assets'),
    entryNames: '[name]-[hash]',
    metafile: true,
    logLevel: 'silent',
    legalComments: 'none',
  });
  const assets = Object.keys(result.metafile.outputs)
    .filter((p) => !p.endsWith('.map'))
    .map((p) => `assets/${basename(p)}`);
  const script = assets.find((a) => a.endsWith('.js'));
  const style = assets.find((a) => a.endsWith('.css'));
  if (!script || !style) throw new Error(`the client build produced no script or style sheet: ${assets.join(', ')}`);
  const html = readFileSync(join(CLIENT_SOURCE_DIR, 'index.html'), 'utf8')
    .replace('%STYLE%', `/${style}`)
    .replace('%SCRIPT%', `/${script}`);
  writeFileSync(join(outDir, 'index.html'), html);
  return { dir: outDir, assets };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started = performance.now();
  // An optional directory to build into (`npm run build` puts the client beside the compiled server).
  const out = await buildClient(process.argv[2] ? resolve(process.argv[2]) : undefined);
  process.stdout.write(`web client built into ${out.dir} (${out.assets.join(', ')}) in ${Math.round(performance.now() - started)} ms\n`);
}
