import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { tempDir } from './temp-dir.js';

// Real `nats-server` processes for tests: one server or a cluster on one machine, client ports
// picked by the server (`-p -1`), JetStream on in a temp dir, disposed by whoever started them.
// Readiness is read from the server's own log ("Server is ready"), never waited for by sleeping.

const BINARY = process.env.NATS_SERVER_BIN ?? 'nats-server';
const READY_WITHIN_MS = 10_000;

let checked: string | null = null;

/** Fails with the way to get the binary when it is missing. */
export function requireNatsServer(): void {
  if (checked !== null) return;
  const r = spawnSync(BINARY, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(
      `nats-server is needed by the NATS tests and was not found (${BINARY}): install it with ` +
        '`apt-get update && apt-get install -y nats-server` (or set NATS_SERVER_BIN to its path)',
    );
  }
  checked = r.stdout.trim();
}

export interface NatsServer {
  readonly name: string;
  /** nats://127.0.0.1:<port>, for clients. */
  readonly url: string;
  readonly port: number;
  /** http://127.0.0.1:<port> of its monitoring endpoints (/connz, /subsz). */
  readonly monitorUrl: string;
  /** SIGKILL, resolved once the process is gone. */
  kill(): Promise<void>;
  /** Starts it again with the same name, ports and store (after kill). */
  restart(): Promise<void>;
  /** SIGSTOP: the process stops answering (its peers and clients wait on it) until `resume`. */
  pause(): void;
  /** SIGCONT after `pause`. */
  resume(): void;
}

export interface NatsCluster extends AsyncDisposable {
  readonly servers: NatsServer[];
  /** Every server's URL, comma-separated (as NATS_URL takes them). */
  readonly urls: string;
  close(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (for route ports, which must be known before the servers start). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

interface Spec {
  name: string;
  args: string[];
  /** Client port: -1 on the first start, kept for restarts so clients find it again. */
  port: number;
  monitorPort: number;
}

/**
 * Starts one server; resolves once it says it is ready. What it logs from then on goes to
 * `onLog` (a cluster re-reads its JetStream state as its servers report changes).
 */
function launch(spec: Spec, onLog: () => void): Promise<{ child: ChildProcess; port: number; monitorPort: number; exited: Promise<void> }> {
  const child = spawn(BINARY, ['-a', '127.0.0.1', '-p', String(spec.port), '-m', String(spec.monitorPort), ...spec.args], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    let log = '';
    let port = 0;
    let monitorPort = 0;
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`nats-server ${spec.name} ${why}:\n${log.slice(-4000)}`));
    };
    const timer = setTimeout(() => fail(`was not ready within ${READY_WITHIN_MS} ms`), READY_WITHIN_MS);
    child.once('error', (err) => fail(`could not start (${err.message})`));
    const early = (code: number | null, signal: string | null) => fail(`exited before it was ready (code ${code}, signal ${signal})`);
    child.once('exit', early);
    child.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString('utf8');
      const listening = /Listening for client connections on [\d.]+:(\d+)/.exec(log);
      if (listening) port = Number(listening[1]);
      const monitor = /Starting http monitor on [\d.]+:(\d+)/.exec(log);
      if (monitor) monitorPort = Number(monitor[1]);
      if (port > 0 && monitorPort > 0 && log.includes('Server is ready')) {
        clearTimeout(timer);
        child.off('exit', early);
        child.stderr!.removeAllListeners('data');
        child.stderr!.on('data', onLog);
        resolve({ child, port, monitorPort, exited });
      }
    });
  });
}

interface MetaCluster {
  leader?: string;
  replicas?: Array<{ name: string; current: boolean }>;
}

/** Whether JetStream's meta group works: every server names the same leader, and the leader sees every other server current. */
async function jetStreamClusterFormed(monitorUrls: string[]): Promise<{ ok: boolean; state: string }> {
  const metas = await Promise.all(
    monitorUrls.map(async (u) => ((await (await fetch(`${u}/jsz`)).json()) as { meta_cluster?: MetaCluster }).meta_cluster ?? {}),
  );
  const leader = metas[0]?.leader;
  const seen = metas.find((m) => m.replicas !== undefined)?.replicas ?? [];
  const ok = !!leader && metas.every((m) => m.leader === leader) && seen.length === monitorUrls.length - 1 && seen.every((r) => r.current);
  return { ok, state: JSON.stringify(metas) };
}

/**
 * Resolves once JetStream's meta group works. "Server is ready" comes before that; until then the
 * cluster refuses to place a replicated stream ("no suitable peers for placement"), and on a
 * loaded machine that can last as long as a node waits for it at start. The servers' own
 * monitoring (/jsz) is read now and again whenever one of them logs something (a leader elected,
 * a peer back, a stream caught up), until the deadline.
 */
function jetStreamClusterReady(monitorUrls: string[], logs: EventEmitter, deadlineMs = READY_WITHIN_MS): Promise<void> {
  return new Promise((resolve, reject) => {
    let last = 'no answer yet';
    let reading = false;
    let again = false;
    let done = false;
    const finish = (err?: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      logs.off('log', read);
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => finish(new Error(`the JetStream cluster did not form within ${deadlineMs} ms: ${last}`)), deadlineMs);
    // One read at a time; a log line during a read asks for one more after it.
    function read(): void {
      if (reading) {
        again = true;
        return;
      }
      reading = true;
      again = false;
      jetStreamClusterFormed(monitorUrls).then(
        (r) => {
          reading = false;
          last = r.state;
          if (r.ok) finish();
          else if (again && !done) read();
        },
        (e: unknown) => {
          reading = false;
          last = String(e);
          if (again && !done) read();
        },
      );
    }
    logs.on('log', read);
    read();
  });
}

/**
 * Starts `size` servers (1: a single server, 3: a cluster with routes between all of them), each
 * with JetStream in its own temp dir, and resolves once a cluster's JetStream works (a restart
 * too). Dispose with `await using` or `close()`.
 */
export async function startNats(size = 1): Promise<NatsCluster> {
  requireNatsServer();
  const dir = tempDir('switchboard-nats-');
  const clusterName = `sb-test-${randomBytes(3).toString('hex')}`;
  const routePorts = size > 1 ? await Promise.all(Array.from({ length: size }, () => freePort())) : [];
  const routes = routePorts.map((p) => `nats://127.0.0.1:${p}`).join(',');
  /** Every server's log after it is ready, as a signal: the cluster's JetStream state may have changed. */
  const logs = new EventEmitter();
  logs.setMaxListeners(0);
  const handles: Array<{ child: ChildProcess; exited: Promise<void> } | null> = [];
  const servers: NatsServer[] = [];
  const start = async (i: number, spec: Spec) => {
    const h = await launch(spec, () => logs.emit('log'));
    handles[i] = h;
    spec.port = h.port;
    spec.monitorPort = h.monitorPort;
    return h.port;
  };
  try {
    const specs = Array.from({ length: size }, (_, i): Spec => {
      const name = `n${i + 1}`;
      const args = ['--server_name', name, '-js', '-sd', `${dir.path}/${name}`];
      if (size > 1) args.push('--cluster_name', clusterName, '--cluster', `nats://127.0.0.1:${routePorts[i]}`, '--routes', routes);
      return { name, args, port: -1, monitorPort: -1 };
    });
    // Started together: a JetStream cluster member waits for its routes before it is ready.
    await Promise.all(specs.map((s, i) => start(i, s)));
    const monitors = (): string[] => servers.map((s) => s.monitorUrl);
    specs.forEach((spec, i) => {
      servers.push({
        name: spec.name,
        get url() {
          return `nats://127.0.0.1:${spec.port}`;
        },
        get port() {
          return spec.port;
        },
        get monitorUrl() {
          return `http://127.0.0.1:${spec.monitorPort}`;
        },
        kill: async () => {
          const h = handles[i];
          if (!h) return;
          handles[i] = null;
          h.child.kill('SIGKILL');
          await h.exited;
        },
        restart: async () => {
          if (handles[i]) throw new Error(`nats-server ${spec.name} is running`);
          await start(i, spec);
          // Back in the cluster only once the others see its JetStream current again.
          if (size > 1 && handles.every((h) => h !== null)) await jetStreamClusterReady(monitors(), logs);
        },
        pause: () => void handles[i]?.child.kill('SIGSTOP'),
        resume: () => void handles[i]?.child.kill('SIGCONT'),
      });
    });
    if (size > 1) await jetStreamClusterReady(monitors(), logs);
  } catch (e) {
    for (const h of handles) h?.child.kill('SIGKILL');
    await Promise.all(handles.map((h) => h?.exited));
    dir.remove();
    throw e;
  }
  const close = async () => {
    await Promise.all(servers.map((s) => s.kill()));
    dir.remove();
  };
  return {
    servers,
    get urls() {
      return servers.map((s) => s.url).join(',');
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
