import { describe, expect, it } from 'vitest';
import { checkHistory, type InboundRecord, type LockObservation, type StoreFacts } from '../chaos/checker.js';

// The chaos checker on hand-made histories: it must flag every way two people can hold one lock
// or a stale token can get a reply through, and stay quiet on histories a correct lock produces,
// including the ones that only look suspicious because clients hear of decisions late.

const E = 2 ** 24;
const C = 'conv-1';
const token = (epoch: number, n: number) => epoch * E + n;

const grant = (holder: string, t: number, invokedAt: number, observedAt: number, node = 'a'): LockObservation => ({ kind: 'grant', conversationId: C, holder, token: t, invokedAt, observedAt, node });
const holding = (holder: string, t: number, invokedAt: number, observedAt: number, node = 'a'): LockObservation => ({ kind: 'holding', conversationId: C, holder, token: t, invokedAt, observedAt, node });
const release = (holder: string, t: number, invokedAt: number, observedAt: number, how = 'leave'): LockObservation => ({ kind: 'release', conversationId: C, holder, token: t, invokedAt, observedAt, how });
const reply = (holder: string, t: number, ref: string, invokedAt: number, observedAt: number | null, outcome: 'accepted' | 'refused' | 'unknown', node = 'a'): LockObservation => ({
  kind: 'reply',
  conversationId: C,
  holder,
  token: t,
  ref,
  invokedAt,
  observedAt,
  outcome,
  ...(outcome === 'refused' ? { code: 'stale_lock_token' } : {}),
  node,
});

const storeWith = (refs: string[], inbound: Array<[string, number]> = []): StoreFacts => ({ storedReplyRefs: new Set(refs), storedInbound: new Map(inbound) });
const rules = (history: LockObservation[], store = storeWith([]), inbound: InboundRecord[] = []) => checkHistory(history, inbound, store).violations.map((v) => v.rule);

describe('the chaos checker', () => {
  it('passes a correct history: grants in turn, replies under the current token, a reopen after a restart under a new epoch', () => {
    const history = [
      grant('dana', token(1, 1), 0, 2),
      holding('dana', token(1, 1), 3, 4),
      reply('dana', token(1, 1), 'r1', 5, 7, 'accepted'),
      release('dana', token(1, 1), 8, 9),
      grant('sam', token(1, 3), 10, 12, 'b'),
      // The node restarted: the holder opens again and gets a new epoch's token; the old one is refused.
      grant('sam', token(2, 1), 20, 22, 'c'),
      reply('sam', token(1, 3), 'r2', 23, 24, 'refused', 'c'),
      reply('sam', token(2, 1), 'r3', 25, 27, 'accepted', 'c'),
      // Dana reopens while Sam holds: refused (not a grant), so nothing here.
      reply('sam', token(2, 1), 'r4', 30, null, 'unknown', 'c'),
    ];
    const result = checkHistory(history, [], storeWith(['r1', 'r3', 'r4']));
    expect(result.violations).toEqual([]);
    expect(result.counts).toMatchObject({ grants: 3, releases: 1, repliesAccepted: 2, repliesRefused: 1, repliesUnknown: 1, repliesUnknownButStored: 1 });
  });

  it('does not call concurrent operations a violation: a reply sent before a newer grant was observed may have been checked before it', () => {
    // Sam's grant (token 1:2) was answered at 12; Dana's reply was sent at 11, before anyone knew of it.
    const history = [grant('dana', token(1, 1), 0, 2), grant('sam', token(1, 2), 5, 12, 'b'), reply('dana', token(1, 1), 'r1', 11, 14, 'accepted')];
    expect(rules(history, storeWith(['r1']))).toEqual([]);
    // Two grants whose calls overlap in time are unordered: either may have come first.
    expect(rules([grant('dana', token(1, 2), 0, 10), grant('sam', token(1, 1), 5, 12, 'b')])).toEqual([]);
  });

  it('flags the same token granted to two people', () => {
    expect(rules([grant('dana', token(3, 1), 0, 2, 'a'), grant('sam', token(3, 1), 1, 3, 'b')])).toEqual(['same-token-two-holders']);
  });

  it('flags a grant whose token is smaller than one observed before it was asked for (two activations on two nodes)', () => {
    // Node b's activation (epoch 4) granted Sam; later node a's older activation (epoch 3) grants Dana.
    expect(rules([grant('sam', token(4, 1), 0, 2, 'b'), grant('dana', token(3, 7), 5, 6, 'a')])).toEqual(['token-went-backwards']);
  });

  it('flags a reply accepted under a token older than a grant observed before the reply was sent', () => {
    const history = [grant('dana', token(1, 1), 0, 2), grant('sam', token(2, 1), 3, 5, 'b'), reply('dana', token(1, 1), 'r1', 6, 8, 'accepted')];
    const result = checkHistory(history, [], storeWith(['r1']));
    expect(result.violations.map((v) => v.rule)).toEqual(['stale-token-reply-accepted']);
    expect(result.violations[0]!.detail).toContain('epoch 1');
    // A reply without an answer that the store holds was accepted all the same.
    expect(rules([...history.slice(0, 2), reply('dana', token(1, 1), 'r2', 6, null, 'unknown')], storeWith(['r2']))).toEqual(['stale-token-reply-accepted']);
    // Refused, or unanswered and not stored: the fence held.
    expect(rules([...history.slice(0, 2), reply('dana', token(1, 1), 'r3', 6, 7, 'refused'), reply('dana', token(1, 1), 'r4', 8, null, 'unknown')])).toEqual([]);
  });

  it('flags a reply accepted after its holder was told the lock ended', () => {
    const history = [grant('dana', token(1, 1), 0, 2), release('dana', token(1, 1), 3, 4, 'released:idle'), reply('dana', token(1, 1), 'r1', 5, 6, 'accepted')];
    expect(rules(history, storeWith(['r1']))).toEqual(['reply-accepted-after-release']);
  });

  it('flags a holder told "you hold it" after someone else was granted a newer token', () => {
    const history = [grant('dana', token(1, 1), 0, 2, 'a'), grant('sam', token(2, 1), 3, 5, 'b'), holding('dana', token(1, 1), 6, 7, 'a')];
    expect(rules(history)).toEqual(['two-holders-at-once']);
    // Unless an open of theirs went unanswered: it may have granted them the lock again since.
    const lost: LockObservation = { kind: 'openUnanswered', conversationId: C, holder: 'dana', invokedAt: 1 };
    expect(rules([...history, lost])).toEqual([]);
    // The same person told so after their own newer grant is one holder.
    expect(rules([grant('dana', token(1, 1), 0, 2), grant('dana', token(2, 1), 3, 5, 'b'), holding('dana', token(1, 1), 6, 7)])).toEqual([]);
  });

  it('flags a refused reply that was stored and an acknowledged reply that was not', () => {
    const history = [grant('dana', token(1, 1), 0, 2), reply('dana', token(1, 1), 'r1', 3, 4, 'refused'), reply('dana', token(1, 1), 'r2', 5, 6, 'accepted')];
    expect(rules(history, storeWith(['r1']))).toEqual(['refused-reply-stored', 'accepted-reply-not-stored']);
  });

  it('keeps conversations apart: a newer token in one conversation does not make another stale', () => {
    const other: LockObservation = { kind: 'grant', conversationId: 'conv-2', holder: 'sam', token: token(9, 1), invokedAt: 0, observedAt: 1, node: 'b' };
    expect(rules([other, grant('dana', token(1, 1), 2, 3), reply('dana', token(1, 1), 'r1', 4, 5, 'accepted')], storeWith(['r1']))).toEqual([]);
  });

  it('checks that every inbound text delivered is stored exactly once', () => {
    const inbound: InboundRecord[] = [
      { uuid: 'u1', acknowledged: true },
      { uuid: 'u2', acknowledged: true },
      { uuid: 'u3', acknowledged: true },
      { uuid: 'u4', acknowledged: false },
      { uuid: 'u5', acknowledged: false },
    ];
    const result = checkHistory([], inbound, storeWith([], [['u1', 1], ['u2', 2], ['u5', 1]]));
    expect(result.violations.map((v) => v.rule)).toEqual(['inbound-stored-twice', 'inbound-lost', 'inbound-undelivered']);
    expect(result.counts).toMatchObject({ textsSent: 5, textsAcknowledged: 3, textsStored: 3 });
    expect(checkHistory([], inbound.slice(0, 1), storeWith([], [['u1', 1]])).violations).toEqual([]);
  });
});
