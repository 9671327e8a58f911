import { ConfigError, loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { isBusError } from '../src/bus/bus.js';
import { startSwitchboard } from './server.js';

// `npm start`: one process, everything in it. Reads the environment once, starts, prints where to
// go, and shuts down cleanly on SIGINT/SIGTERM.

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const log = createLogger(config.logLevel, { node: config.cluster.nodeId });
  const sb = await startSwitchboard(config, log);
  const lines = [
    '',
    `Switchboard is running at ${sb.url}`,
    `  Open:       ${sb.url}/   in a browser, and sign in${sb.demo ? ' with the demo login below' : ''}`,
    `  API:        ${sb.url}/api/v1   (OpenAPI: ${sb.url}/api/v1/openapi.json)`,
    `  Plivo:      ${config.plivo.mode === 'plivo' ? 'real Plivo' : sb.simulatorHandsets ? `built-in simulator (handsets at ${sb.url}/simulator/messages)` : 'built-in simulator (handset routes off: SIMULATOR_ROUTES=true serves them)'}`,
    `  Data:       ${config.dataDir}`,
  ];
  if (sb.demo) {
    lines.push(
      '',
      'Demo organisation created:',
      `  Login:      ${sb.demo.adminEmail}  password: ${sb.demo.adminPassword}${sb.demo.passwordGenerated ? '  (generated; set DEMO_PASSWORD to choose)' : ''}`,
      `  Staff:      dana@example.edu, sam@example.edu (same password)`,
      `  Group:      ${sb.demo.groupAccountCode}  numbers ${sb.demo.poolNumbers.join(' ')}`,
      ...(sb.simulatorHandsets ? [] : ['  (the text command needs the handset routes: SIMULATOR_ROUTES=true)']),
      `  Try:        npm run text -- --from ${sb.demo.studentPhones[0]} --to ${sb.demo.poolNumbers[0]} "Hi, is the deadline Friday?"`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    sb.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  if (isBusError(err, 'unavailable')) {
    // Expected when NATS is down or NATS_URL is wrong: the message says which servers; no stack.
    process.stderr.write(`Switchboard failed to start: ${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`Switchboard failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
