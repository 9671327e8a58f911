// The chaos test's checker: a pure function over what the clients observed (every grant, release,
// "you still hold it" answer and reply, with the harness process's monotonic times) and what the
// store file holds after the run. It judges only what the observations prove, since a client sees
// the server's decisions late: an operation's effect happened somewhere between its invocation
// (`invokedAt`) and its answer (`observedAt`).
//
// The lock's contract, per conversation: tokens of successive grants strictly increase, and every
// grant or release makes every smaller token stale for good. So, soundly:
// - two different holders granted the same token is two holders at once;
// - a grant observed before another was invoked happened first, so its token must be smaller (or
//   equal, for the same holder opening again);
// - once a grant with token T' has been observed, the server may never again say that a smaller
//   token T is current: not by accepting a reply under T (a stale reply), nor by answering an
//   invocation made after that observation with "you hold it" under T (two holders at once);
// - once the holder of T was told its lock ended (an answer showing someone else or nobody), no
//   reply under T may be accepted afterwards;
// - a reply is durable before it is acknowledged, and a refused reply is never stored.
// Inbound texts: each one the simulator delivered (a 2xx went back to it) is stored exactly once.

/** Lock token layout (docs/decisions.md "Lock actors"): epoch × 2^24 + counter. */
const EPOCH_UNIT = 2 ** 24;

export interface Timed {
  /** When the client sent the command (ms, the harness process's monotonic clock). */
  invokedAt: number;
  /** When the client received its answer. */
  observedAt: number;
}

export type LockObservation =
  /** `open` (or `takeOver`) answered `granted: true` with `token`. */
  | (Timed & { kind: 'grant'; conversationId: string; holder: string; token: number; node: string })
  /** An answer to a command of `holder`'s showed them as the holder while they knew `token` as theirs. */
  | (Timed & { kind: 'holding'; conversationId: string; holder: string; token: number; node: string })
  /**
   * An answer to a command of the holder of `token` showed someone else or nobody holding the lock.
   * (Only answers: a `released` event may arrive after the answer to the next `open`, so it cannot
   * say which grant it ended.)
   */
  | (Timed & { kind: 'release'; conversationId: string; holder: string; token: number; how: string })
  /** `open` or `takeOver` without an answer: it may have granted `holder` a token nobody saw, at any time after `invokedAt`. */
  | { kind: 'openUnanswered'; conversationId: string; holder: string; invokedAt: number }
  /**
   * A reply under `token`: `accepted` (acked), `refused` (an error answer, `code`), or `unknown`
   * (no answer: the socket died or the deadline passed). `ref` is unique and appears in the text.
   */
  | {
      kind: 'reply';
      conversationId: string;
      holder: string;
      token: number;
      ref: string;
      invokedAt: number;
      observedAt: number | null;
      outcome: 'accepted' | 'refused' | 'unknown';
      code?: string;
      node: string;
    };

export interface InboundRecord {
  /** The simulator's MessageUUID. */
  uuid: string;
  /** A 2xx answer reached the simulator for it (Plivo stops retrying then). */
  acknowledged: boolean;
}

export interface StoreFacts {
  /** The `ref` of every reply found in the store. */
  storedReplyRefs: ReadonlySet<string>;
  /** Inbound messages stored per provider id (MessageUUID). */
  storedInbound: ReadonlyMap<string, number>;
}

export interface Violation {
  rule:
    | 'same-token-two-holders'
    | 'token-went-backwards'
    | 'stale-token-reply-accepted'
    | 'reply-accepted-after-release'
    | 'two-holders-at-once'
    | 'refused-reply-stored'
    | 'accepted-reply-not-stored'
    | 'inbound-lost'
    | 'inbound-stored-twice'
    | 'inbound-undelivered';
  conversationId?: string;
  detail: string;
}

export interface CheckResult {
  violations: Violation[];
  counts: {
    grants: number;
    releases: number;
    repliesAccepted: number;
    repliesRefused: number;
    repliesUnknown: number;
    /** Replies with no answer that the store holds: the server accepted them. */
    repliesUnknownButStored: number;
    textsSent: number;
    textsAcknowledged: number;
    textsStored: number;
  };
}

type Grant = Extract<LockObservation, { kind: 'grant' }>;

const epochOf = (token: number): number => Math.floor(token / EPOCH_UNIT);
const tokenText = (token: number): string => `${token} (epoch ${epochOf(token)}, #${token % EPOCH_UNIT})`;

export function checkHistory(history: readonly LockObservation[], inbound: readonly InboundRecord[], store: StoreFacts): CheckResult {
  const violations: Violation[] = [];
  const byConversation = new Map<string, LockObservation[]>();
  for (const o of history) {
    const list = byConversation.get(o.conversationId) ?? [];
    list.push(o);
    byConversation.set(o.conversationId, list);
  }
  for (const [conversationId, observations] of byConversation) checkConversation(conversationId, observations, store, violations);

  const replies = history.filter((o) => o.kind === 'reply');
  let textsStored = 0;
  for (const text of inbound) {
    const stored = store.storedInbound.get(text.uuid) ?? 0;
    if (stored > 0) textsStored++;
    if (stored > 1) violations.push({ rule: 'inbound-stored-twice', detail: `text ${text.uuid} is stored ${stored} times` });
    else if (stored === 0 && text.acknowledged) violations.push({ rule: 'inbound-lost', detail: `text ${text.uuid} was acknowledged to the simulator but is not stored` });
    else if (stored === 0) violations.push({ rule: 'inbound-undelivered', detail: `text ${text.uuid} never reached a node that stored it` });
  }
  return {
    violations,
    counts: {
      grants: history.filter((o) => o.kind === 'grant').length,
      releases: history.filter((o) => o.kind === 'release').length,
      repliesAccepted: replies.filter((r) => r.outcome === 'accepted').length,
      repliesRefused: replies.filter((r) => r.outcome === 'refused').length,
      repliesUnknown: replies.filter((r) => r.outcome === 'unknown').length,
      repliesUnknownButStored: replies.filter((r) => r.outcome === 'unknown' && store.storedReplyRefs.has(r.ref)).length,
      textsSent: inbound.length,
      textsAcknowledged: inbound.filter((t) => t.acknowledged).length,
      textsStored,
    },
  };
}

function checkConversation(conversationId: string, observations: readonly LockObservation[], store: StoreFacts, out: Violation[]): void {
  const grants = observations.filter((o): o is Grant => o.kind === 'grant');
  const add = (rule: Violation['rule'], detail: string) => out.push({ rule, conversationId, detail });

  const byToken = new Map<number, Grant>();
  for (const g of grants) {
    const first = byToken.get(g.token);
    if (first && first.holder !== g.holder) {
      add('same-token-two-holders', `token ${tokenText(g.token)} granted to ${first.holder} (on ${first.node}) and to ${g.holder} (on ${g.node})`);
    } else if (!first) byToken.set(g.token, g);
  }

  // Grants in the order of their answers: the earliest answered grant with a larger token than a
  // later invocation's is what makes that invocation's token stale.
  const answered = [...grants].sort((a, b) => a.observedAt - b.observedAt);
  for (const later of grants) {
    for (const earlier of answered) {
      if (earlier.observedAt >= later.invokedAt) break;
      if (later.token < earlier.token) {
        add(
          'token-went-backwards',
          `${later.holder} was granted ${tokenText(later.token)} (on ${later.node}) after ${earlier.holder} had been granted ${tokenText(earlier.token)} (on ${earlier.node})`,
        );
        break;
      }
    }
  }

  /** The first grant with a token larger than `token` that was answered before `at`. */
  const supersededBefore = (token: number, at: number, holderOtherThan?: string): Grant | undefined =>
    answered.find((g) => g.observedAt < at && g.token > token && (holderOtherThan === undefined || g.holder !== holderOtherThan));

  const releases = observations.filter((o) => o.kind === 'release');
  const unanswered = observations.filter((o) => o.kind === 'openUnanswered');
  for (const o of observations) {
    if (o.kind === 'holding') {
      const newer = supersededBefore(o.token, o.invokedAt, o.holder);
      // An open of theirs that went unanswered may have granted them the lock anew, under a token
      // they never saw: "you hold it" then says nothing about the token they knew.
      const unseenGrant = unanswered.some((u) => u.holder === o.holder && u.invokedAt < o.observedAt);
      if (newer && !unseenGrant) {
        add(
          'two-holders-at-once',
          `${o.holder} was told it holds the lock (token ${tokenText(o.token)}, on ${o.node}) after ${newer.holder} had been granted ${tokenText(newer.token)} (on ${newer.node})`,
        );
      }
    }
    if (o.kind !== 'reply') continue;
    const stored = store.storedReplyRefs.has(o.ref);
    if (o.outcome === 'refused' && stored) add('refused-reply-stored', `reply ${o.ref} was refused (${o.code ?? 'error'}) yet is stored`);
    if (o.outcome === 'accepted' && !stored) add('accepted-reply-not-stored', `reply ${o.ref} was acknowledged but is not in the store`);
    if (o.outcome === 'refused' || (o.outcome === 'unknown' && !stored)) continue;
    const how = o.outcome === 'accepted' ? 'accepted' : 'stored without an answer';
    const newer = supersededBefore(o.token, o.invokedAt);
    if (newer) {
      add(
        'stale-token-reply-accepted',
        `reply ${o.ref} of ${o.holder} under ${tokenText(o.token)} (on ${o.node}) was ${how}, sent after ${newer.holder} had been granted ${tokenText(newer.token)} (on ${newer.node})`,
      );
      continue;
    }
    const ended = releases.find((r) => r.token === o.token && r.holder === o.holder && r.observedAt < o.invokedAt);
    if (ended) add('reply-accepted-after-release', `reply ${o.ref} of ${o.holder} under ${tokenText(o.token)} (on ${o.node}) was ${how} after its lock ended (${ended.how})`);
  }
}
