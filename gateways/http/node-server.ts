import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../src/logger.js';
import type { Router } from './router.js';
import { answerHeaders, BodyTooLarge, type PendingRequest } from './uws-adapter.js';

// A Router served by node:http instead of uWS, for a worker thread: uWS cannot close the
// connections it holds, and a worker that ends with uWS sockets open aborts the whole process
// (`uv_loop_close() while having open handles`). node:http closes them all (`closeAllConnections`).
// The same routes, limits and answers as `Router.mount`.

export interface NodeServing {
  port: number;
  /** Stops listening and closes every connection, idle or not. */
  close(): Promise<void>;
}

export async function serveOnNodeHttp(router: Router, o: { host: string; port: number; maxBodyBytes: number; log: Logger }): Promise<NodeServing> {
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const rawQuery = q < 0 ? '' : url.slice(q + 1);
    const method = (req.method ?? 'GET').toUpperCase();
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    let aborted = false;
    res.once('close', () => {
      if (!res.writableFinished) aborted = true;
    });
    const pending: PendingRequest = {
      request: { method, path, rawQuery, query: new URLSearchParams(rawQuery), headers, remoteAddress: () => req.socket.remoteAddress ?? '' },
      body: readBody(req, router.bodyLimit(method, path, o.maxBodyBytes)),
      isAborted: () => aborted,
      answering: () => undefined,
    };
    void router.answer(pending, o.log).then((result) => {
      if (aborted) return;
      res.writeHead(result.status, answerHeaders(result));
      res.end(method === 'HEAD' ? undefined : (result.body ?? ''));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The whole body, or BodyTooLarge as soon as it passes `limit` (the rest is not read). */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  const body = new Promise<Buffer>((resolve, reject) => {
    if (declared > limit) {
      reject(new BodyTooLarge(`body over ${limit} bytes`));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new BodyTooLarge(`body over ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.once('error', reject);
  });
  body.catch(() => undefined);
  return body;
}
