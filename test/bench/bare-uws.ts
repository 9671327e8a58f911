import uWS from 'uWebSockets.js';
import { listen, type Listening } from '../../gateways/http/listen.js';

// Baselines: bare uWS apps in the server process, on their own port, hit by the same generator
// as the real server. They do the least any handler must do (read the whole body, answer), so
// the ratio real/bare says what our routing, validation and storage cost on this machine now.

export type BareKind =
  /** Reads the body, answers 200 with an empty body (as a webhook answer). */
  | { kind: 'drain' }
  /** Reads the body, answers 202 with a small JSON (as an API that accepted work). */
  | { kind: 'json202' }
  /** Answers every request with this fixed JSON (as a page of a list). */
  | { kind: 'fixed'; body: string };

export interface BareServer {
  port: number;
  close(): void;
}

const ACCEPTED = JSON.stringify({ api_id: 'bench', message: 'message(s) queued', message_uuid: ['00000000-0000-4000-8000-000000000000'] });

export async function startBareUws(what: BareKind): Promise<BareServer> {
  const app = uWS.App();
  app.any('/*', (res) => {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    const answer = (): void => {
      if (aborted) return;
      res.cork(() => {
        if (what.kind === 'drain') {
          res.end('');
        } else if (what.kind === 'json202') {
          res.writeStatus('202 Accepted').writeHeader('content-type', 'application/json').end(ACCEPTED);
        } else {
          res.writeHeader('content-type', 'application/json; charset=utf-8').end(what.body);
        }
      });
    };
    // A list page is a GET without a body: answer at once, as our router does for bodiless requests.
    if (what.kind === 'fixed') {
      answer();
      return;
    }
    res.onData((_chunk, isLast) => {
      if (isLast) answer();
    });
  });
  const listening: Listening = await listen(app, '127.0.0.1', 0);
  return { port: listening.port, close: () => listening.close() };
}
