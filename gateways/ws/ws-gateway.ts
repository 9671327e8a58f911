import uWS from 'uWebSockets.js';
import type { TemplatedApp, WebSocket } from 'uWebSockets.js';
import type { Core } from '../../src/core.js';
import { connectionId, type CoreEvent, type EventScope } from '../../src/events.js';
import type { Logger } from '../../src/logger.js';
import type { Principal } from '../../src/auth/principal.js';
import type { User } from '../../src/domain/types.js';
import { AppError, isAppError } from '../../src/errors.js';
import { ClientFrame, PROTOCOL_VERSION, RequestId, type AckBody, type ServerFrame } from '../../src/schemas/ws.js';
import { canManageDepartment } from '../../src/auth/access.js';
import { issuesOf } from '../rest/parse.js';
import { lockView, messageView } from '../rest/views.js';
import { text } from '../http/types.js';
import { writeResult } from '../http/uws-adapter.js';
import { errorResult } from '../http/router.js';
import { notReady } from '../http/readiness.js';
import { CloseCode } from './close-codes.js';
import { takeToken, type Connection, type RateLimit } from './connection.js';
import { accountTopic, boardTopic } from './topics.js';
import { SessionTimers } from './session-timers.js';
import { BoardBatcher } from './board-batcher.js';

// The WebSocket edge (protocol v1, docs/protocol.md): authenticate during the upgrade, validate
// every frame, hand commands to the core, answer each with `ack` or `error`, and fan the core's
// events out through uWS topics. No business rule lives here: access is checked by the core's
// functions it calls.

export const WS_PATH = '/ws';
/** Offered by clients in Sec-WebSocket-Protocol, with the token as `bearer.<token>`. */
export const SUBPROTOCOL = 'switchboard.v1';

export interface WsOptions {
  log: Logger;
  maxPayloadBytes: number;
  /** Bytes queued for one slow socket before it is closed (tooSlow). */
  maxBackpressureBytes: number;
  idleTimeoutSeconds: number;
  rateLimit: RateLimit;
  /** Open sockets per person (over all their sessions); the newest past it is closed. */
  maxSocketsPerUser: number;
  /** Lock-board changes go to operators once per tick (board-batcher.ts). */
  boardTickMs: number;
}

export interface WsGateway {
  connectionCount(): number;
  /** Closes every socket (1001); the gateway goes on accepting new ones. */
  closeAll(): void;
  /** Shutdown: closes every socket and stops listening to the core's events. */
  stop(): void;
}

type Ws = WebSocket<Connection>;

export function registerWsGateway(app: TemplatedApp, core: Core, o: WsOptions): WsGateway {
  const sockets = new Map<string, Ws>();
  const byUser = new Map<string, Set<string>>();
  // One user record per person, shared by their sockets (19,000 sockets are a design target),
  // refreshed by each new connection and by every change of the person (userChanged); the password
  // hash is not kept in long-lived socket state.
  const users = new Map<string, User>();
  // A person whose record is being re-read: their commands wait for it, so that none is judged on
  // the record from before a committed change.
  const refreshing = new Map<string, Promise<void>>();
  // Counts userChanged events: a socket whose record was read before the latest one (its upgrade
  // was authenticating meanwhile) has its person re-read when it opens.
  let userChanges = 0;
  const shareUser = (fresh: User): User => {
    const slim: User = { ...fresh, passwordHash: '' };
    const known = users.get(fresh.id);
    if (!known) {
      users.set(fresh.id, slim);
      return slim;
    }
    Object.assign(known, slim);
    return known;
  };
  /** Topics whose first picture is being read (see firstPicture), with the events sent meanwhile. */
  const pictures = new Map<string, { events: number; readers: number }>();
  /** Topics some socket on this node watches, and the bus subscription that feeds each. */
  const interest = new Map<string, { watchers: number; stop: () => void; known: Promise<void> }>();
  // Connection ids must never repeat, also across restarts (a restored lock remembers its holder's
  // connections): node id, the process's random boot id, a counter.
  let seq = 0;
  const clock = core.clock;
  const sessionTimers = new SessionTimers(clock, (tokenHash, userId) => expireSession(userId, tokenHash));

  const send = (ws: Ws, frame: ServerFrame): void => {
    const conn = ws.getUserData();
    if (conn.closed) return;
    ws.cork(() => {
      // 2: dropped because the socket is over maxBackpressure: it cannot keep up, so it goes.
      if (ws.send(JSON.stringify(frame)) === 2) ws.end(CloseCode.tooSlow, 'too slow');
    });
  };
  const sendTo = (connIds: Iterable<string>, frame: ServerFrame): void => {
    for (const id of connIds) {
      const ws = sockets.get(id);
      if (ws) send(ws, frame);
    }
  };
  const principalOf = (c: Connection): Principal => ({ kind: 'user', user: c.user, sessionTokenHash: c.sessionTokenHash, sessionExpiresAt: c.sessionExpiresAt });

  app.ws<Connection>(WS_PATH, {
    compression: uWS.DISABLED,
    maxPayloadLength: o.maxPayloadBytes,
    maxBackpressure: o.maxBackpressureBytes,
    // A subscriber over the limit when a topic message is published is closed rather than
    // silently skipped: a client that missed events would show a wrong lock state.
    closeOnBackpressureLimit: 1,
    idleTimeout: o.idleTimeoutSeconds,
    sendPingsAutomatically: true,

    upgrade: (res, req, context) => {
      if (!core.ready) {
        writeResult(res, errorResult(notReady()), () => false, 'GET');
        return;
      }
      // Copy everything before the first await: the request dies with this callback.
      const key = req.getHeader('sec-websocket-key');
      const protocols = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      const query = new URLSearchParams(req.getQuery() ?? '');
      let aborted = false;
      res.onAborted(() => {
        aborted = true;
      });
      const offered = protocols.split(',').map((p) => p.trim()).filter(Boolean);
      const token = query.get('token') ?? offered.find((p) => p.startsWith('bearer.'))?.slice('bearer.'.length) ?? null;
      const echo = offered.find((p) => p === SUBPROTOCOL) ?? offered[0] ?? '';
      const changesBefore = userChanges;
      core.auth.authenticate(token).then(
        (p) => {
          if (aborted) return;
          if (p.kind !== 'user') {
            writeResult(res, text(403, 'API keys cannot open WebSockets'), () => aborted, 'GET');
            return;
          }
          const conn: Connection = {
            id: connectionId(core.events.nodeId, core.events.boot, ++seq),
            user: p.user,
            userStale: changesBefore !== userChanges,
            sessionTokenHash: p.sessionTokenHash,
            sessionExpiresAt: p.sessionExpiresAt,
            accounts: null,
            boards: null,
            open: null,
            tokens: o.rateLimit.burst,
            refilledAt: clock.now(),
            strikes: 0,
            closed: false,
            chain: null,
          };
          res.cork(() => res.upgrade(conn, key, echo, extensions, context));
        },
        (e: unknown) => {
          if (aborted) return;
          const status = isAppError(e) ? e.status : 500;
          writeResult(res, text(status, isAppError(e) ? e.message : 'upgrade failed'), () => aborted, 'GET');
        },
      );
    },

    open: (ws) => {
      const conn = ws.getUserData();
      let mine = byUser.get(conn.user.id);
      // Refusing the newest, not closing the oldest: a stolen token cannot push the person's own
      // tabs off, and a stale tab frees its place when the idle timeout drops it.
      if (mine && mine.size >= o.maxSocketsPerUser) {
        ws.end(CloseCode.tooManyConnections, `more than ${o.maxSocketsPerUser} connections`);
        return;
      }
      conn.user = shareUser(conn.user);
      sockets.set(conn.id, ws);
      if (!mine) byUser.set(conn.user.id, (mine = new Set()));
      mine.add(conn.id);
      sessionTimers.add(conn.sessionTokenHash, conn.user.id, conn.sessionExpiresAt);
      if (conn.userStale) refreshUser(conn.user.id);
      send(ws, { type: 'ack', re: 'hello', protocol: PROTOCOL_VERSION, connectionId: conn.id, user: { id: conn.user.id, name: conn.user.name } });
    },

    message: (ws, message) => {
      const conn = ws.getUserData();
      // The session's timer closes its sockets; a frame in the same millisecond must not slip past it.
      if (clock.now() >= conn.sessionExpiresAt) {
        expireSession(conn.user.id, conn.sessionTokenHash);
        return;
      }
      // The ArrayBuffer is neutered when this callback returns: decode it now.
      const text = Buffer.from(message).toString('utf8');
      if (!takeToken(conn, o.rateLimit, clock.now())) {
        if (conn.strikes > o.rateLimit.maxStrikes) ws.end(CloseCode.rateLimited, 'rate limit');
        else send(ws, { type: 'error', code: 'rate_limited', message: `Over ${o.rateLimit.perSecond} frames per second; slow down` });
        return;
      }
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch {
        send(ws, { type: 'error', code: 'bad_request', message: 'Frames are JSON objects with a "type"' });
        return;
      }
      const parsed = ClientFrame.safeParse(raw);
      if (!parsed.success) {
        // The answer names the request only by a valid id: one that is not is not echoed.
        const id = RequestId.safeParse((raw as { id?: unknown } | null)?.id);
        const re = id.success ? { re: id.data } : {};
        send(ws, { type: 'error', ...re, code: 'validation_failed', message: issuesOf(parsed.error).map((i) => `${i.path}: ${i.message}`).join('; ') });
        return;
      }
      const frame = parsed.data;
      // One connection's commands run in order (open before leave), each after the previous.
      // Kept on the connection, not in a node-wide map that grows and shrinks with every burst.
      const next = (conn.chain ?? Promise.resolve()).then(() => run(ws, conn, frame));
      conn.chain = next;
      void next.finally(() => {
        if (conn.chain === next) conn.chain = null;
      });
    },

    close: (ws) => {
      const conn = ws.getUserData();
      conn.closed = true;
      if (!sockets.has(conn.id)) return; // refused at open: never counted
      sockets.delete(conn.id);
      conn.chain = null;
      // uWS drops a closed socket's topics itself; the node's interest in them goes with the last.
      for (const accountId of conn.accounts ?? []) unwatch(accountTopic(accountId));
      for (const departmentId of conn.boards ?? []) unwatch(boardTopic(departmentId));
      conn.accounts = null;
      conn.boards = null;
      sessionTimers.remove(conn.sessionTokenHash);
      const mine = byUser.get(conn.user.id);
      mine?.delete(conn.id);
      if (mine?.size === 0) {
        byUser.delete(conn.user.id);
        users.delete(conn.user.id);
      }
      if (conn.open && conn.open.size > 0) {
        // A lost connection starts the lock's grace period: a reload keeps the lock.
        void core.locks.disconnect(conn.id, [...conn.open]).catch((err: unknown) => o.log.error({ err, connId: conn.id }, 'disconnect failed'));
      }
    },
  });

  async function run(ws: Ws, conn: Connection, frame: ClientFrame): Promise<void> {
    const pending = refreshing.get(conn.user.id);
    if (pending) await pending;
    if (conn.closed) return;
    const re = frame.id;
    try {
      const result = await command(ws, conn, frame);
      send(ws, { type: 'ack', ...(re !== undefined ? { re } : {}), ...result });
    } catch (e) {
      const err = isAppError(e) ? e : new AppError('internal', 'Something went wrong on our side');
      if (!isAppError(e)) o.log.error({ err: e, connId: conn.id, frame: frame.type }, 'websocket command failed');
      send(ws, { type: 'error', ...(re !== undefined ? { re } : {}), code: err.code, message: err.message });
    }
  }

  async function command(ws: Ws, conn: Connection, frame: ClientFrame): Promise<AckBody> {
    const p = principalOf(conn);
    switch (frame.type) {
      case 'ping':
        return { pong: clock.now() };
      case 'subscribe': {
        const account = await core.groupAccounts.resolve(p, frame.account);
        if (conn.closed) return {};
        ws.subscribe(accountTopic(account.id));
        if (!(conn.accounts ??= new Set()).has(account.id)) {
          conn.accounts.add(account.id);
          await watch(accountTopic(account.id), { kind: 'account', accountId: account.id });
        }
        const locks = await firstPicture(accountTopic(account.id), () => core.locks.heldIn(account));
        return { account: { id: account.id, apiCode: account.apiCode, name: account.name }, locks: locks.map(lockView) };
      }
      case 'unsubscribe': {
        const account = await core.groupAccounts.resolve(p, frame.account);
        if (!conn.closed && conn.accounts?.delete(account.id)) {
          ws.unsubscribe(accountTopic(account.id));
          unwatch(accountTopic(account.id));
        }
        return {};
      }
      case 'watchLocks': {
        await core.auth.requireDepartmentAdmin(conn.user, frame.departmentId);
        if (conn.closed) return {};
        ws.subscribe(boardTopic(frame.departmentId));
        if (!(conn.boards ??= new Set()).has(frame.departmentId)) {
          conn.boards.add(frame.departmentId);
          await watch(boardTopic(frame.departmentId), { kind: 'board', departmentId: frame.departmentId });
        }
        const locks = await firstPicture(boardTopic(frame.departmentId), () => core.locks.board(p, frame.departmentId));
        return { locks: locks.map(lockView) };
      }
      case 'unwatchLocks':
        if (conn.boards?.delete(frame.departmentId)) {
          ws.unsubscribe(boardTopic(frame.departmentId));
          unwatch(boardTopic(frame.departmentId));
        }
        return {};
      case 'open': {
        const r = await core.locks.open(p, conn.id, frame.conversationId);
        (conn.open ??= new Set()).add(frame.conversationId);
        return r.granted ? { granted: true, lock: r.view, lockToken: r.lockToken } : { granted: false, lock: r.view };
      }
      case 'activity':
        return { lock: await core.locks.activity(p, conn.id, frame.conversationId) };
      case 'stillWorking':
        return { lock: await core.locks.stillWorking(p, conn.id, frame.conversationId) };
      case 'leave': {
        conn.open?.delete(frame.conversationId);
        return { lock: await core.locks.leave(p, conn.id, frame.conversationId) };
      }
      case 'takeOver': {
        const r = await core.locks.takeOver(p, conn.id, frame.conversationId);
        (conn.open ??= new Set()).add(frame.conversationId);
        return { granted: true, lock: r.view, lockToken: r.lockToken };
      }
      case 'reply': {
        const message = await core.locks.reply(p, frame.conversationId, frame.lockToken, frame.text);
        return { message: messageView(message), ...(frame.clientRef ? { clientRef: frame.clientRef } : {}) };
      }
    }
  }

  // --- the core's events, out to sockets --------------------------------------------------------

  // Frames are built only when some socket on this node listens: most events (a campaign's
  // delivery reports) have no watcher, and serialising them for nobody would cost the senders.
  const publish = (topic: string, frame: () => ServerFrame): void => {
    const picture = pictures.get(topic);
    if (picture) picture.events += 1;
    if (app.numSubscribers(topic) > 0) app.publish(topic, JSON.stringify(frame()));
  };

  /**
   * The first picture a subscription's ack carries (held locks), read after the socket subscribed
   * to the topic, and read again when an event of the topic went out during the read: such an
   * event reaches the socket before the ack, and the ack must not show an older state after it.
   */
  async function firstPicture<T>(topic: string, read: () => Promise<T>): Promise<T> {
    let picture = pictures.get(topic);
    if (!picture) pictures.set(topic, (picture = { events: 0, readers: 0 }));
    picture.readers += 1;
    try {
      for (let attempt = 1; ; attempt++) {
        const before = picture.events;
        const value = await read();
        // Under a storm of changes the fifth read is answered as it is rather than never answering.
        if (picture.events === before || attempt === 5) return value;
      }
    } finally {
      picture.readers -= 1;
      if (picture.readers === 0) pictures.delete(topic);
    }
  }

  // Operators get one `board` frame per department per tick, not one frame per change.
  const board = new BoardBatcher<Extract<CoreEvent, { type: 'lock' }>['view']>(clock, o.boardTickMs, (departmentId, locks) => publish(boardTopic(departmentId), () => ({ type: 'board', departmentId, locks })));

  /**
   * This node's interest in a topic: the first local watcher subscribes it to the scope's events
   * (and waits until the bus knows, so that the first picture read next misses nothing), the last
   * one to leave unsubscribes. Nodes without watchers of a scope never receive its events.
   */
  async function watch(topic: string, scope: EventScope): Promise<void> {
    const watched = interest.get(topic);
    if (watched) {
      watched.watchers += 1;
      return watched.known;
    }
    const stop = core.events.watch(scope, (e) => deliver(e, topic));
    const known = core.events.settled();
    interest.set(topic, { watchers: 1, stop, known });
    return known;
  }

  function unwatch(topic: string): void {
    const watched = interest.get(topic);
    if (!watched || --watched.watchers > 0) return;
    interest.delete(topic);
    watched.stop();
  }

  const stopConnections = core.events.watch({ kind: 'connections' }, (e) => deliver(e, null));
  const stopPeople = core.events.watch({ kind: 'people' }, (e) => deliver(e, null));

  // Each event arrives once per scope watched (`topic`: the account's or board's topic it came
  // for): the account's and the board's copies of a lock change come apart, without the token;
  // the holder's own copy comes through this node's connections.
  function deliver(e: CoreEvent, topic: string | null): void {
    switch (e.type) {
      case 'message':
        publish(accountTopic(e.accountId), () => ({ type: 'message', conversationId: e.message.conversationId, accountId: e.accountId, message: messageView(e.message) }));
        return;
      case 'conversation': {
        const c = e.conversation;
        publish(accountTopic(e.accountId), () => ({ type: 'conversation', conversationId: c.id, accountId: c.accountId, folder: c.folder, unread: c.unread, lastMessageAt: c.lastMessageAt }));
        return;
      }
      case 'campaign':
        publish(accountTopic(e.accountId), () => ({ type: 'campaign', accountId: e.accountId, ...e.campaign }));
        return;
      case 'lock': {
        const frame = { type: 'lock' as const, ...e.view };
        if (e.lockToken !== null) {
          sendTo(e.holderConnIds, { ...frame, lockToken: e.lockToken });
          return;
        }
        // Operators get the board's copy once per tick; an account's members get each change.
        if (e.departmentId !== null && topic === boardTopic(e.departmentId)) board.add(e.departmentId, e.view);
        else if (topic !== null) publish(topic, () => frame);
        return;
      }
      case 'lockIdleWarning':
        sendTo(e.connIds, { type: 'idleWarning', conversationId: e.conversationId, releaseAt: e.releaseAt });
        return;
      case 'lockReleased':
        sendTo(e.connIds, { type: 'released', conversationId: e.conversationId, reason: e.reason, ...(e.by ? { by: e.by } : {}) });
        return;
      case 'membership':
        for (const userId of e.removedUserIds) revokeAccount(userId, e.accountId);
        for (const userId of e.addedUserIds) {
          for (const ws of socketsOf(userId)) send(ws, { type: 'accessGranted', account: { id: e.accountId, apiCode: e.apiCode, name: e.name } });
        }
        return;
      case 'sessionRevoked':
        endSessions(e.userId, e.tokenHash);
        return;
      case 'userChanged':
        userChanges++;
        if (byUser.has(e.userId)) refreshUser(e.userId);
        return;
    }
  }

  /** Re-reads a changed person (after any refresh already under way) and re-judges their sockets. */
  function refreshUser(userId: string): void {
    const done = (refreshing.get(userId) ?? Promise.resolve())
      .then(() => rejudge(userId))
      .catch((err: unknown) => {
        // Without the current record nothing can be judged: better reconnected than judged on the old one.
        o.log.error({ err, userId }, 'refreshing a changed user failed; closing their sockets');
        for (const ws of socketsOf(userId)) ws.end(CloseCode.serverError, 'try again');
      });
    refreshing.set(userId, done);
    void done.finally(() => {
      if (refreshing.get(userId) === done) refreshing.delete(userId);
    });
  }

  async function rejudge(userId: string): Promise<void> {
    const fresh = await core.auth.activeUser(userId);
    if (!users.has(userId)) return; // their last socket closed meanwhile
    if (!fresh) {
      for (const ws of socketsOf(userId)) ws.end(CloseCode.sessionEnded, 'account disabled');
      return;
    }
    const user = shareUser(fresh);
    for (const ws of socketsOf(userId)) {
      const conn = ws.getUserData();
      for (const departmentId of [...(conn.boards ?? [])]) {
        if (canManageDepartment(user, departmentId)) continue;
        conn.boards!.delete(departmentId);
        ws.cork(() => ws.unsubscribe(boardTopic(departmentId)));
        unwatch(boardTopic(departmentId));
        send(ws, { type: 'error', code: 'access_revoked', message: "You may no longer watch this department's lock board", departmentId });
      }
    }
    const subscribed = new Set(socketsOf(userId).flatMap((ws) => [...(ws.getUserData().accounts ?? [])]));
    const someone = socketsOf(userId)[0]?.getUserData();
    if (!someone || subscribed.size === 0) return;
    for (const accountId of await core.groupAccounts.lostBy(principalOf(someone), subscribed)) revokeAccount(userId, accountId);
  }

  function socketsOf(userId: string): Ws[] {
    return [...(byUser.get(userId) ?? [])].flatMap((id) => sockets.get(id) ?? []);
  }

  /** Access to an account lost (membership, role, department): no more events about it (the core releases their locks). */
  function revokeAccount(userId: string, accountId: string): void {
    for (const ws of socketsOf(userId)) {
      const conn = ws.getUserData();
      if (conn.accounts?.delete(accountId)) {
        ws.cork(() => ws.unsubscribe(accountTopic(accountId)));
        unwatch(accountTopic(accountId));
        send(ws, { type: 'error', code: 'access_revoked', message: 'Your access to this account was removed', accountId });
      }
    }
  }

  /** Sessions ended (sign-out, password change, disabled user): their sockets close (the core releases their locks). */
  function endSessions(userId: string, tokenHash: string | null): void {
    for (const ws of socketsOf(userId)) {
      if (tokenHash !== null && ws.getUserData().sessionTokenHash !== tokenHash) continue;
      ws.end(CloseCode.sessionEnded, 'session ended');
    }
  }

  /**
   * A session reached its end: its sockets close (sessionEnded) and the core releases the locks
   * held only through them at once. Their conversations skip the reload grace of a lost
   * connection: nobody can come back on an expired session.
   */
  function expireSession(userId: string, tokenHash: string): void {
    const ended: Array<{ connId: string; conversationIds: string[] }> = [];
    for (const ws of socketsOf(userId)) {
      const conn = ws.getUserData();
      if (conn.sessionTokenHash !== tokenHash) continue;
      ended.push({ connId: conn.id, conversationIds: [...(conn.open ?? [])] });
      conn.open = null; // handed to the core below instead of the close's disconnect
      ws.end(CloseCode.sessionEnded, 'session expired');
    }
    if (ended.length === 0) return;
    core.endExpiredSession(userId, ended).catch((err: unknown) => o.log.error({ err, userId }, 'ending an expired session failed'));
  }

  return {
    connectionCount: () => sockets.size,
    closeAll: () => {
      for (const ws of [...sockets.values()]) ws.end(CloseCode.goingAway, 'server shutting down');
    },
    stop: () => {
      board.close();
      for (const ws of [...sockets.values()]) ws.end(CloseCode.goingAway, 'server shutting down');
      stopConnections();
      stopPeople();
    },
  };
}

