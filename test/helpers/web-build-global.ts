import { buildClient } from '../../gateways/web/build.js';

// The gateway serves the web client from its build (gateways/web/dist); tests that load it need
// the current sources built. Vitest runs global setups once per project, in one process: build
// once per run.

const shared = globalThis as typeof globalThis & { switchboardWebBuild?: Promise<unknown> };

export default async function setup(): Promise<void> {
  shared.switchboardWebBuild ??= buildClient();
  await shared.switchboardWebBuild;
}
