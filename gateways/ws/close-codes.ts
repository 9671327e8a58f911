// WebSocket close codes of protocol v1 (documented in docs/protocol.md). 4000–4999 are ours.
export const CloseCode = {
  /** Normal end (server shutting down, client asked). */
  normal: 1000,
  /** The server is going away (restart, deploy). */
  goingAway: 1001,
  /** The server could not re-check the connection's access (e.g. the store failed): reconnect. */
  serverError: 1011,
  /** The session was revoked or expired, or the account was disabled: sign in again. */
  sessionEnded: 4001,
  /** The client kept sending after being told it was over its rate. */
  rateLimited: 4008,
  /** The client could not keep up with what it subscribed to (send buffer over the limit). */
  tooSlow: 4009,
  /** The person already has WS_MAX_SOCKETS_PER_USER sockets open: this, the newest, is refused. */
  tooManyConnections: 4010,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
