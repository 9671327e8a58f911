import { randomBytes } from 'node:crypto';
import type { CampaignCounts, CampaignKind, CampaignStateName, Conversation, Message } from './domain/types.js';
import type { AccountLockView, LockHolderIdentity, ReleaseReason } from './locks/lock-view.js';
import { subjectToken, type Bus, type Unsubscribe } from './bus/bus.js';

// What the core announces after a write commits, carried by the Bus (src/bus/) to every node that
// watches the event's scope, and only to those: an account's events go to the nodes with a socket
// subscribed to the account, a department's lock board to the nodes with an operator watching it,
// a connection's own frames (its lock token, its idle warning) to the node that holds the
// connection. Events are plain JSON.

export type CoreEvent =
  | { type: 'message'; accountId: string; message: Message }
  | { type: 'conversation'; accountId: string; conversation: Conversation }
  /** A campaign's state or counts changed (coalesced per campaign, see CampaignProgress). */
  | { type: 'campaign'; accountId: string; campaign: CampaignProgressView }
  /**
   * Who may use a group account changed. `removedUserIds`: people who lost access to it (removed
   * members; people who left its department or lost the role that gave access). `addedUserIds`:
   * people who were given access (new members, everyone who may use a new account, people whose
   * new role or department opens it to them); it names the account for them (`apiCode`, `name`).
   */
  | { type: 'membership'; accountId: string; apiCode: string | null; name: string; removedUserIds: string[]; addedUserIds: string[] }
  | { type: 'sessionRevoked'; userId: string; tokenHash: string | null }
  /** A person's record changed (role, departments, disabled…): whatever was judged on the old one is judged again. */
  | { type: 'userChanged'; userId: string }
  /** A conversation's lock changed. `holderConnIds`/`lockToken`: the holder's own copy carries the token. */
  | { type: 'lock'; view: AccountLockView; departmentId: string | null; holderConnIds: string[]; lockToken: number | null }
  | { type: 'lockIdleWarning'; conversationId: string; accountId: string; userId: string; connIds: string[]; releaseAt: number }
  | { type: 'lockReleased'; conversationId: string; accountId: string; userId: string; connIds: string[]; reason: ReleaseReason; by?: LockHolderIdentity };

export interface CampaignProgressView {
  id: string;
  kind: CampaignKind;
  state: CampaignStateName;
  pausedReason: 'person' | 'quietHours' | null;
  counts: CampaignCounts;
}

export type Listener = (e: CoreEvent) => void;

/** What the services need: somewhere to announce. */
export interface EventSink {
  emit(e: CoreEvent): void;
}

/**
 * What a node can watch. `people`: every person's changes (sign-outs, role and membership
 * changes) in the whole cluster; they are rare, and a node must see them even for a person whose
 * socket is still being authenticated. `connections`: the frames for this node's own connections.
 */
export type EventScope =
  | { kind: 'account'; accountId: string }
  | { kind: 'board'; departmentId: string }
  | { kind: 'people' }
  | { kind: 'connections' };

/** Connection ids name their node first, so a connection's frames find their way to it. */
export function connectionId(nodeId: string, boot: string, seq: number): string {
  return `${nodeId}:${boot}:${seq}`;
}

/** Whether the connection was opened by this very process (node id and boot). */
export function isConnectionOf(connId: string, nodeId: string, boot: string): boolean {
  return connId.startsWith(`${nodeId}:${boot}:`);
}

export function nodeOfConnection(connId: string): string {
  const end = connId.indexOf(':');
  return end > 0 ? connId.slice(0, end) : connId;
}

export interface CoreEventsOptions {
  bus: Bus;
  /** Subjects are `<prefix>.evt.…`: nodes of one cluster share it. */
  prefix: string;
  nodeId: string;
  /** Sees every event this node emits, once, where it is emitted (metrics). */
  observe?: (e: CoreEvent) => void;
  onError: (err: unknown, e: CoreEvent) => void;
}

export class CoreEvents implements EventSink {
  readonly nodeId: string;
  /** This process, among the runs of one node id: connection ids carry it (see connectionId). */
  readonly boot = randomBytes(4).toString('hex');
  private readonly base: string;

  constructor(private readonly o: CoreEventsOptions) {
    this.nodeId = subjectToken(o.nodeId);
    this.base = `${subjectToken(o.prefix)}.evt`;
  }

  /**
   * Publishes the event to each scope it concerns. Never throws into the core: the write it
   * announces has committed, and a failed announcement is reported instead.
   */
  emit(e: CoreEvent): void {
    try {
      this.o.observe?.(e);
      for (const [subject, payload] of this.route(e)) this.o.bus.publish(subject, payload);
    } catch (err) {
      this.o.onError(err, e);
    }
  }

  /** Receives the events of one scope; the returned function stops it. */
  watch(scope: EventScope, listener: Listener): Unsubscribe {
    return this.o.bus.subscribe(this.subjectOf(scope), (payload) => listener(payload as CoreEvent));
  }

  /** Every event of the cluster (tests and benchmarks: a node never needs all of them). */
  watchAll(listener: Listener): Unsubscribe {
    return this.o.bus.subscribe(`${this.base}.>`, (payload) => listener(payload as CoreEvent));
  }

  /** Resolves once the watches made so far are known to the bus (before reading a first picture). */
  settled(): Promise<void> {
    return this.o.bus.flush();
  }

  private subjectOf(scope: EventScope): string {
    switch (scope.kind) {
      case 'account':
        return `${this.base}.account.${subjectToken(scope.accountId)}`;
      case 'board':
        return `${this.base}.board.${subjectToken(scope.departmentId)}`;
      case 'people':
        return `${this.base}.person.*`;
      case 'connections':
        return `${this.base}.node.${this.nodeId}`;
    }
  }

  private person(userId: string): string {
    return `${this.base}.person.${subjectToken(userId)}`;
  }

  private account(accountId: string): string {
    return this.subjectOf({ kind: 'account', accountId });
  }

  /** The connection ids grouped by the node that holds them, with that node's subject. */
  private byNode(connIds: readonly string[]): Map<string, string[]> {
    const nodes = new Map<string, string[]>();
    for (const id of connIds) {
      const subject = `${this.base}.node.${subjectToken(nodeOfConnection(id))}`;
      const list = nodes.get(subject);
      if (list) list.push(id);
      else nodes.set(subject, [id]);
    }
    return nodes;
  }

  private *route(e: CoreEvent): Iterable<[string, CoreEvent]> {
    switch (e.type) {
      case 'message':
      case 'conversation':
      case 'campaign':
        yield [this.account(e.accountId), e];
        return;
      case 'membership':
        // One event per person who lost or gained access: it concerns them, wherever their sockets are.
        for (const userId of e.removedUserIds) yield [this.person(userId), { ...e, removedUserIds: [userId], addedUserIds: [] }];
        for (const userId of e.addedUserIds) yield [this.person(userId), { ...e, removedUserIds: [], addedUserIds: [userId] }];
        return;
      case 'sessionRevoked':
      case 'userChanged':
        yield [this.person(e.userId), e];
        return;
      case 'lock': {
        // The token travels only to the nodes of the holder's connections, never to every watcher's.
        const shared: CoreEvent = { ...e, holderConnIds: [], lockToken: null };
        yield [this.account(e.view.accountId), shared];
        if (e.departmentId) yield [this.subjectOf({ kind: 'board', departmentId: e.departmentId }), shared];
        if (e.lockToken !== null) for (const [subject, ids] of this.byNode(e.holderConnIds)) yield [subject, { ...e, holderConnIds: ids }];
        return;
      }
      case 'lockIdleWarning':
      case 'lockReleased':
        // A holder with no live connection (a lock restored after a restart) is told nothing, but
        // the event still happens: it stays on the node that emitted it.
        if (e.connIds.length === 0) yield [this.subjectOf({ kind: 'connections' }), e];
        for (const [subject, ids] of this.byNode(e.connIds)) yield [subject, { ...e, connIds: ids }];
        return;
    }
  }
}
