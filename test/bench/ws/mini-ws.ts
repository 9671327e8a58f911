import { randomBytes } from 'node:crypto';
import net from 'node:net';

// A minimal RFC 6455 client on a plain TCP socket, for the benchmarks that need many sockets or
// many frames per second in one load process: the `ws` package costs a few microseconds and a
// few objects per frame, which is too much for 1,000 operators receiving 1,000 events per second
// each (a million frames per second) and heavier than needed for 19,000 idle sockets. It does the
// opening handshake, sends masked text frames, answers pings and closes, and hands every text
// frame to `onText` as a slice of the received buffer (no copy, no string, no JSON) together with
// the time the chunk holding it was read. Servers do not fragment or mask frames here (uWS
// never does), which is all this client relies on.

export interface MiniWsOptions {
  host: string;
  port: number;
  /** Path and query, e.g. `/ws?token=…`. */
  path: string;
  /** Resolve `connect` only once the first text frame (the server's hello) has arrived. */
  waitFirstFrame: boolean;
  timeoutMs?: number;
}

export type TextHandler = (buf: Buffer, start: number, end: number, at: number) => void;

const SHARED_READ_BUFFER = Buffer.allocUnsafe(256 * 1024);
const MASK_POOL_SIZE = 4096;
let maskPool = randomBytes(MASK_POOL_SIZE);
let maskOffset = 0;
function nextMask(): Buffer {
  if (maskOffset + 4 > MASK_POOL_SIZE) {
    maskPool = randomBytes(MASK_POOL_SIZE);
    maskOffset = 0;
  }
  const m = maskPool.subarray(maskOffset, maskOffset + 4);
  maskOffset += 4;
  return m;
}

/** A masked client frame (opcode 1 text, 9 ping, 10 pong, 8 close). */
export function clientFrame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const hdr = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(hdr + 4 + len);
  out[0] = 0x80 | opcode;
  if (hdr === 2) out[1] = 0x80 | len;
  else if (hdr === 4) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(len, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeUInt32BE(0, 2);
    out.writeUInt32BE(len, 6);
  }
  const mask = nextMask();
  mask.copy(out, hdr);
  for (let i = 0; i < len; i++) out[hdr + 4 + i] = payload[i]! ^ mask[i & 3]!;
  return out;
}

export class MiniWs {
  onText: TextHandler | null = null;
  onClose: ((code: number | null) => void) | null = null;
  closed = false;
  /** Text frames received (all of them, whether or not someone listens). */
  frames = 0;
  private rest: Buffer | null = null;
  private closeReported = false;

  private constructor(readonly socket: net.Socket) {}

  static connect(o: MiniWsOptions): Promise<MiniWs> {
    return new Promise((resolve, reject) => {
      // `onread` with one buffer shared by every socket of the process: no Buffer and no stream
      // machinery per chunk (frames are handled synchronously; leftovers are copied).
      let onChunk: (chunk: Buffer) => void = () => undefined;
      const socket = net.connect({
        host: o.host,
        port: o.port,
        noDelay: true,
        onread: {
          buffer: SHARED_READ_BUFFER,
          callback: (n: number, buf: Uint8Array) => {
            onChunk(Buffer.from(buf.buffer, buf.byteOffset, n));
            return true;
          },
        },
      });
      const ws = new MiniWs(socket);
      let head: Buffer | null = null;
      let upgraded = false;
      let settled = false;
      const timer = setTimeout(() => fail(new Error(`no WebSocket upgrade within ${o.timeoutMs ?? 10_000} ms`)), o.timeoutMs ?? 10_000);
      const fail = (e: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        reject(e);
      };
      const done = (): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(ws);
      };
      socket.once('connect', () => {
        const key = randomBytes(16).toString('base64');
        socket.write(
          `GET ${o.path} HTTP/1.1\r\nHost: ${o.host}:${o.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      });
      socket.on('error', (e) => {
        if (!settled) fail(e);
      });
      socket.on('close', () => {
        ws.closed = true;
        if (!settled) fail(new Error('closed before the upgrade'));
        ws.reportClose(null);
      });
      onChunk = (chunk: Buffer) => {
        if (upgraded) {
          ws.receive(chunk, performance.now());
          return;
        }
        head = head ? Buffer.concat([head, chunk]) : Buffer.from(chunk);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        const statusLine = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
        if (!/^HTTP\/1\.1 101 /.test(statusLine)) {
          fail(new Error(`upgrade refused: ${statusLine}`));
          return;
        }
        upgraded = true;
        const rest = head.subarray(end + 4);
        head = null;
        if (!o.waitFirstFrame) done();
        else {
          const user = ws.onText;
          ws.onText = (buf, s, e, at) => {
            ws.onText = user;
            done();
            user?.(buf, s, e, at);
          };
        }
        if (rest.length > 0) ws.receive(rest, performance.now());
      };
    });
  }

  sendText(text: string): void {
    if (this.closed) return;
    this.socket.write(clientFrame(1, Buffer.from(text, 'utf8')));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
  }

  private reportClose(code: number | null): void {
    if (this.closeReported) return;
    this.closeReported = true;
    this.onClose?.(code);
  }

  private receive(chunk: Buffer, at: number): void {
    let data = chunk;
    if (this.rest) {
      data = Buffer.concat([this.rest, chunk]);
      this.rest = null;
    }
    let off = 0;
    const n = data.length;
    while (n - off >= 2) {
      const b0 = data[off]!;
      const b1 = data[off + 1]!;
      let len = b1 & 0x7f;
      let hdr = 2;
      if (len === 126) {
        if (n - off < 4) break;
        len = data.readUInt16BE(off + 2);
        hdr = 4;
      } else if (len === 127) {
        if (n - off < 10) break;
        len = data.readUInt32BE(off + 2) * 2 ** 32 + data.readUInt32BE(off + 6);
        hdr = 10;
      }
      if (b1 & 0x80) hdr += 4; // servers never mask; tolerate it by skipping the key (payload unused then)
      if (n - off < hdr + len) break;
      const start = off + hdr;
      const end = start + len;
      const opcode = b0 & 0x0f;
      if (opcode === 1 || opcode === 2 || opcode === 0) {
        this.frames++;
        this.onText?.(data, start, end, at);
      } else if (opcode === 9) {
        this.socket.write(clientFrame(10, data.subarray(start, end)));
      } else if (opcode === 8) {
        const code = len >= 2 ? data.readUInt16BE(start) : null;
        if (!this.closed) this.socket.end(clientFrame(8, data.subarray(start, Math.min(end, start + 2))));
        this.closed = true;
        this.reportClose(code);
        return;
      }
      off = end;
    }
    if (off < n) this.rest = Buffer.from(data.subarray(off));
  }
}
