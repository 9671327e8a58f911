import WebSocket from 'ws';
import { checkFrame } from './conformance.js';

// A real WebSocket client (the `ws` package) speaking protocol v1, for integration tests: every
// frame received is kept and checked against its message in docs/asyncapi.json (an ack against the
// ack of the command it answers), `request` sends a command and resolves with its ack or error,
// and `next` waits for a matching frame with a deadline.

// Frames are asserted structurally by tests; `any` keeps those assertions short.
export type Frame = Record<string, any>;

export class WsClient {
  readonly frames: Frame[] = [];
  closed: { code: number; reason: string } | null = null;
  private seq = 0;
  private waiters: Array<{ match: (f: Frame) => boolean; resolve: (f: Frame) => void }> = [];
  private closeWaiters: Array<(c: { code: number; reason: string }) => void> = [];
  /** The type of each command sent with an id, to check its answer against that command's ack. */
  private readonly sentTypes = new Map<string, string>();

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      checkFrame(frame, typeof frame.re === 'string' ? this.sentTypes.get(frame.re) : undefined);
      this.frames.push(frame);
      for (const w of [...this.waiters]) {
        if (w.match(frame)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(frame);
        }
      }
    });
    socket.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.closeWaiters.splice(0).forEach((w) => w(this.closed!));
    });
  }

  /** Connects with the token in the query string (or in Sec-WebSocket-Protocol) and waits for the hello. */
  /** `handshakeTimeoutMs`: give up on an upgrade not answered by then (a paused server never answers). */
  static async connect(url: string, token: string | null, via: 'query' | 'protocol' = 'query', o: { handshakeTimeoutMs?: number } = {}): Promise<WsClient> {
    const target = via === 'query' && token ? `${url}?token=${encodeURIComponent(token)}` : url;
    const protocols = via === 'protocol' && token ? ['switchboard.v1', `bearer.${token}`] : undefined;
    const socket = new WebSocket(target, protocols, o.handshakeTimeoutMs === undefined ? {} : { handshakeTimeout: o.handshakeTimeoutMs });
    const client = new WsClient(socket);
    const hello = client.next((f) => f.type === 'ack' && f.re === 'hello', 'the hello');
    // Awaited below; until then its deadline may pass while the upgrade hangs (a paused server).
    hello.catch(() => undefined);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      socket.once('error', reject);
    });
    await hello;
    return client;
  }

  send(frame: Frame | string): void {
    const text = typeof frame === 'string' ? frame : JSON.stringify(frame);
    let sent: unknown;
    try {
      sent = JSON.parse(text);
    } catch {
      sent = null;
    }
    const { id, type } = (sent ?? {}) as { id?: unknown; type?: unknown };
    if (typeof id === 'string' && typeof type === 'string') this.sentTypes.set(id, type);
    this.socket.send(text);
  }

  /** Sends a command with a fresh id; resolves with the ack or error frame answering it. */
  request(frame: Frame, timeoutMs = 5_000): Promise<Frame> {
    const id = `r${++this.seq}`;
    const answer = this.next((f) => (f.type === 'ack' || f.type === 'error') && f.re === id, `the answer to ${frame.type}`, timeoutMs);
    this.send({ ...frame, id });
    return answer;
  }

  /** The first frame (already received or still to come) matching `match`, or a failure at the deadline. */
  next(match: (f: Frame) => boolean, what: string, timeoutMs = 5_000, since = 0): Promise<Frame> {
    const seen = this.frames.slice(since).find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (f: Frame) => {
          clearTimeout(timer);
          resolve(f);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${JSON.stringify(this.frames.slice(-5))}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Frames received from now on only (a mark to pass to `next` as `since`). */
  mark(): number {
    return this.frames.length;
  }

  waitClosed(timeoutMs = 5_000): Promise<{ code: number; reason: string }> {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for the socket to close')), timeoutMs);
      this.closeWaiters.push((c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
  }

  close(): void {
    this.socket.close();
  }
}

/** Opens a WebSocket that the server must refuse; resolves with the refusal's status and headers. */
export function refusedUpgrade(url: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
      res.resume();
      ws.terminate();
    });
    ws.on('open', () => reject(new Error('the upgrade was accepted')));
    ws.on('error', () => undefined);
  });
}
