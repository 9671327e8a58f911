import type { LockHolderIdentity, PublicLockView } from '../../actors/conversation/index.js';

// What clients and operators see of a conversation's lock: the actor's public view (no fencing
// token: only the holder receives it, alongside) and the account it belongs to. Every lock type
// outside actors/ is derived from the actor's vocabulary.

export type { LockState, ReleaseReason, LockHolderIdentity } from '../../actors/conversation/index.js';

// One flat object type (not an intersection), so the wire schema can be checked against it.
export type AccountLockView = { [K in keyof (PublicLockView & { accountId: string })]: (PublicLockView & { accountId: string })[K] };

export type OpenResult = { granted: true; view: AccountLockView; lockToken: number } | { granted: false; view: AccountLockView };
