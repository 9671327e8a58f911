import type { ClientFrame, ServerFrame } from '../../../src/schemas/ws.js';

// The one WebSocket of a tab, typed by the frames the server validates and builds (src/schemas/ws.ts).
// Requests get an id and resolve with their ack (or reject with the error frame); everything else
// goes to the listener. A lost connection is retried with a growing delay; `onOpen` runs after
// every (re)connect so the app can subscribe again and re-open its conversation.

type Ack = Extract<ServerFrame, { type: 'ack' }>;
type ErrorFrame = Extract<ServerFrame, { type: 'error' }>;
export type Event = Exclude<ServerFrame, Ack>;
type Request = ClientFrame extends infer F ? (F extends { id?: string } ? Omit<F, 'id'> : never) : never;

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export class FrameError extends Error {
  override name = 'FrameError';
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

export interface LiveOptions {
  token: string;
  onOpen: () => void;
  onEvent: (frame: Event) => void;
  onState: (state: ConnectionState, detail?: string) => void;
  /** The session ended (4001): sign in again. */
  onSessionEnded: () => void;
}

const SESSION_ENDED = 4001;

export class Live {
  private socket: WebSocket | null = null;
  private nextId = 1;
  private pending = new Map<string, { resolve: (ack: Ack) => void; reject: (e: Error) => void }>();
  private retries = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;

  constructor(private readonly options: LiveOptions) {
    this.connect();
  }

  request<F extends Request>(frame: F): Promise<Ack> {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return Promise.reject(new FrameError('offline', 'Not connected; reconnecting…'));
    const id = String(this.nextId++);
    return new Promise<Ack>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      socket.send(JSON.stringify({ ...frame, id }));
    });
  }

  /** A fire-and-forget frame (activity): dropped when offline, the next one will do. */
  notify<F extends Request>(frame: F): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.socket?.close(1000);
  }

  private connect(): void {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
    this.options.onState(this.retries === 0 ? 'connecting' : 'reconnecting');
    const socket = new WebSocket(url, ['switchboard.v1', `bearer.${this.options.token}`]);
    this.socket = socket;
    socket.onmessage = (e) => this.receive(JSON.parse(String(e.data)) as ServerFrame);
    socket.onclose = (e) => {
      for (const p of this.pending.values()) p.reject(new FrameError('offline', 'The connection was lost'));
      this.pending.clear();
      if (this.stopped) return;
      if (e.code === SESSION_ENDED) {
        this.options.onState('closed', 'Your session ended: please sign in again.');
        this.options.onSessionEnded();
        return;
      }
      const delay = Math.min(10_000, 250 * 2 ** this.retries++);
      this.options.onState('reconnecting');
      this.retryTimer = setTimeout(() => this.connect(), delay);
    };
  }

  private receive(frame: ServerFrame): void {
    if (frame.type === 'ack' && frame.re === 'hello') {
      this.retries = 0;
      this.options.onState('open');
      this.options.onOpen();
      return;
    }
    const re = 're' in frame ? frame.re : undefined;
    if ((frame.type === 'ack' || frame.type === 'error') && re !== undefined) {
      const waiting = this.pending.get(re);
      if (waiting) {
        this.pending.delete(re);
        if (frame.type === 'ack') waiting.resolve(frame);
        else waiting.reject(new FrameError((frame as ErrorFrame).code, (frame as ErrorFrame).message));
        return;
      }
    }
    if (frame.type !== 'ack') this.options.onEvent(frame);
  }
}
