// What clients and operators see of a conversation's lock. The fencing token is not part of it:
// only the holder receives it, alongside.

export type LockState = 'idle' | 'locked' | 'idleWarning';

export type ReleaseReason = 'left' | 'idle' | 'disconnected' | 'takenOver' | 'revoked';

export interface LockHolder {
  userId: string;
  name: string;
}

export interface LockView {
  conversationId: string;
  accountId: string;
  state: LockState;
  holder?: LockHolder;
  /** When the holder got the lock. */
  since?: number;
  /** idleWarning: when the lock goes unless the holder confirms. */
  releaseAt?: number;
}

export type OpenResult = { granted: true; view: LockView; lockToken: number } | { granted: false; view: LockView };
