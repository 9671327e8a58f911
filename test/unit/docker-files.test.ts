import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { load } from 'js-yaml';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

// No container engine runs here, so the cluster files are checked as data: the compose file parses
// (merge keys resolved as Compose resolves them), names the topology the README describes, starts
// the nodes with an environment Switchboard accepts, and agrees with haproxy.cfg and the Dockerfile.

const DOCKER = fileURLToPath(new URL('../../docker/', import.meta.url));

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string; target?: string };
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }> | string[];
  profiles?: string[];
  volumes?: string[];
}
const compose = load(readFileSync(`${DOCKER}compose.yml`, 'utf8')) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const { services } = compose;
const dockerfile = readFileSync(`${DOCKER}Dockerfile`, 'utf8');
const nodes = ['node1', 'node2', 'node3'];

describe('docker/compose.yml', () => {
  it('runs three nodes from the runtime image, each with its own id and data volume, after the replica set is initiated', () => {
    for (const name of nodes) {
      const node = services[name]!;
      expect(node.build).toEqual({ context: '..', dockerfile: 'docker/Dockerfile', target: 'runtime' });
      expect(node.environment!.NODE_ID).toBe(name);
      expect(node.volumes).toEqual([`${name}-data:/data`]);
      expect((node.depends_on as Record<string, { condition: string }>)['mongo-init']).toEqual({ condition: 'service_completed_successfully' });
      // The environment is one Switchboard accepts (src/config.ts), in cluster mode.
      const config = loadConfig(node.environment!);
      expect(config.cluster).toMatchObject({ natsUrl: 'nats://nats1:4222,nats://nats2:4222,nats://nats3:4222', mongodbUri: expect.stringContaining('replicaSet=rs0'), nodeId: name });
      expect(config.plivo.mode).toBe('plivo');
    }
    expect(Object.keys(compose.volumes)).toEqual(expect.arrayContaining(nodes.map((n) => `${n}-data`)));
  });

  it('clusters three NATS servers with JetStream, each routed to the other two', () => {
    const names = ['nats1', 'nats2', 'nats3'];
    for (const name of names) {
      const args = services[name]!.command!;
      expect(args).toEqual(expect.arrayContaining(['-js', '--server_name', name, '--cluster_name', 'sb']));
      const routes = args[args.indexOf('-routes') + 1]!.split(',');
      expect(routes.sort()).toEqual(names.filter((n) => n !== name).map((n) => `nats://${n}:6222`));
    }
  });

  it('makes the three MongoDB members one replica set, the one the nodes and the test profile name', () => {
    for (const name of ['mongo1', 'mongo2', 'mongo3']) expect(services[name]!.command).toEqual(['--replSet', 'rs0', '--bind_ip_all']);
    const init = services['mongo-init']!.command!.join(' ');
    for (const host of ['mongo1:27017', 'mongo2:27017', 'mongo3:27017']) expect(init).toContain(host);
    expect(init).toContain("_id: 'rs0'");
  });

  it('runs the standalone simulator compiled, and points the nodes at it and at the balancer', () => {
    const sim = services.simulator!;
    expect(sim.command).toEqual(['node', 'dist/gateways/simulator/main.js']);
    expect(`http://simulator:${sim.environment!.SIMULATOR_PORT}`).toBe(services.node1!.environment!.PLIVO_API_URL);
    expect(sim.environment!.SIMULATOR_AUTH_ID).toBe(services.node1!.environment!.PLIVO_AUTH_ID);
    expect(sim.environment!.SIMULATOR_AUTH_TOKEN).toBe(services.node1!.environment!.PLIVO_AUTH_TOKEN);
    expect(services.node1!.environment!.PUBLIC_URL).toBe('http://lb:8080');
  });

  it('balances WebSockets over exactly the three nodes, health-checked on /readyz', () => {
    const cfg = readFileSync(`${DOCKER}haproxy.cfg`, 'utf8');
    const servers = [...cfg.matchAll(/^\s*server (\S+) (\S+):(\d+) check$/gm)].map((m) => [m[1], m[2], m[3]]);
    expect(servers).toEqual(nodes.map((n) => [n, n, '3000']));
    expect(cfg).toMatch(/option httpchk GET \/readyz/);
    expect(cfg).toMatch(/timeout tunnel \S+/);
    expect(services.lb!.depends_on).toEqual(nodes);
  });

  it('has a test profile that runs the store contract suite against the replica set', () => {
    const suite = services['store-contract']!;
    expect(suite.profiles).toEqual(['test']);
    expect(suite.build!.target).toBe('test');
    expect(suite.environment!.MONGODB_URI).toBe('mongodb://mongo1:27017,mongo2:27017,mongo3:27017/?replicaSet=rs0');
    expect((suite.depends_on as Record<string, { condition: string }>)['mongo-init']).toEqual({ condition: 'service_completed_successfully' });
    // Only that service is in the profile: `up` without it starts the cluster alone.
    expect(Object.entries(services).filter(([, s]) => s.profiles).map(([n]) => n)).toEqual(['store-contract']);
  });
});

describe('docker/Dockerfile', () => {
  it('builds every target the compose file asks for, runs compiled as a non-root user with a /data volume', () => {
    const stages = [...dockerfile.matchAll(/^FROM \S+ AS (\S+)$/gm)].map((m) => m[1]);
    for (const s of Object.values(services)) if (s.build?.target) expect(stages).toContain(s.build.target);
    const runtime = dockerfile.slice(dockerfile.indexOf('AS runtime'));
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^VOLUME \["\/data"\]$/m);
    expect(runtime).toMatch(/DATA_DIR=\/data/);
    expect(runtime).toMatch(/^CMD \["node", "dist\/gateways\/main\.js"\]$/m);
    // Production dependencies only: the build stage prunes the dev ones before they are copied.
    expect(dockerfile).toMatch(/npm run build && npm prune --omit=dev/);
    expect(runtime).not.toMatch(/tsx/);
    const test = dockerfile.slice(dockerfile.indexOf('AS test'), dockerfile.indexOf('AS runtime'));
    expect(test).toMatch(/^CMD \["npm", "run", "test:mongo"\]$/m);
  });
});

describe('npm run build (the image\'s build stage)', () => {
  it('compiles the server with tsconfig.build.json and leaves the browser client to its own build', () => {
    // The client needs the DOM's types and is bundled by gateways/web/build.ts; compiled by the
    // server's tsc it fails the build, and with it the image.
    const file = fileURLToPath(new URL('../../tsconfig.build.json', import.meta.url));
    const parsed = ts.getParsedCommandLineOfConfigFile(file, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(String(d.messageText)); } });
    expect(parsed!.errors).toEqual([]);
    const files = parsed!.fileNames.map((f) => f.slice(f.indexOf('/gateways/') >= 0 ? f.indexOf('/gateways/') + 1 : 0));
    expect(files).toContain('gateways/main.ts');
    expect(files.filter((f) => f.startsWith('gateways/web/client/'))).toEqual([]);
    expect(parsed!.options.outDir).toMatch(/dist$/);
  });
});
