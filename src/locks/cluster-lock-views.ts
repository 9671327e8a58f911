import { z } from 'zod';
import { AppError } from '../errors.js';
import { subjectToken, type Bus, type Unsubscribe } from '../bus/bus.js';
import { Id } from '../schemas/common.js';
import { LockView } from '../schemas/views.js';
import type { Placement } from '../actors-runtime/placement.js';
import type { Logger } from '../logger.js';
import type { AccountLockView } from './lock-view.js';

// What the other nodes of a cluster last told the watchers of their locks, for a first picture
// (lock-service.ts, picture()). A lock is saved behind its announcement, so the store can be about
// a tick behind its owner: a watcher who subscribes in that tick would miss the change for good.
// Each node answers for its own activations on `<prefix>.locks.views.<nodeId>`; a node that does
// not answer in time (dead, paused) is left out, and the store speaks for its locks.

/**
 * How long a first picture waits for another node: a live node answers in milliseconds, and one
 * that does not (paused, dying) must not hold a watcher's subscription for a whole lease.
 */
export const LOCK_VIEWS_TIMEOUT_MS = 500;

/** Accounts one question may name: a department's group accounts, with room to spare. */
export const MAX_ACCOUNTS_PER_QUESTION = 1_000;
const Question = z.object({ accountIds: z.array(Id).max(MAX_ACCOUNTS_PER_QUESTION) });

const subjectOf = (prefix: string, nodeId: string): string => `${subjectToken(prefix)}.locks.views.${subjectToken(nodeId)}`;

/** Answers other nodes' questions with this node's live views of the accounts they name. */
export function serveLockViews(o: { bus: Bus; prefix: string; nodeId: string; views: (accountIds: ReadonlySet<string>) => AccountLockView[] }): Unsubscribe {
  return o.bus.respond(subjectOf(o.prefix, o.nodeId), (payload) => {
    const question = Question.safeParse(payload);
    if (!question.success) throw new AppError('bad_request', `malformed lock views question: at most ${MAX_ACCOUNTS_PER_QUESTION} account ids`);
    return { views: o.views(new Set(question.data.accountIds)) };
  });
}

export interface OtherNodesOptions {
  bus: Bus;
  prefix: string;
  placement: Placement;
  /** How long one node may take to answer before it is left out. */
  timeoutMs: number;
  log: Logger;
}

/** Every other live node's live views of these accounts (their own activations), asked at once. */
export async function otherNodesLockViews(o: OtherNodesOptions, accountIds: readonly string[]): Promise<AccountLockView[]> {
  if (accountIds.length === 0) return [];
  let nodes: Set<string>;
  try {
    nodes = await o.placement.liveNodes();
  } catch (err) {
    o.log.warn({ err }, 'could not read which nodes are live; the first picture is read from the store alone');
    return [];
  }
  nodes.delete(o.placement.nodeId);
  const asked = new Set(accountIds);
  const answers = await Promise.all(
    [...nodes].map(async (node) => {
      try {
        return viewsIn(await o.bus.request(subjectOf(o.prefix, node), { accountIds }, { timeoutMs: o.timeoutMs }), asked);
      } catch (err) {
        o.log.warn({ err, node }, 'a node did not tell its lock views; its locks are read from the store');
        return [];
      }
    }),
  );
  return answers.flat();
}

/** The well-formed views of the accounts asked about, from an answer. */
function viewsIn(answer: unknown, asked: ReadonlySet<string>): AccountLockView[] {
  const views = (answer as { views?: unknown } | null)?.views;
  if (!Array.isArray(views)) return [];
  const good: AccountLockView[] = [];
  for (const v of views) {
    const view = LockView.safeParse(v);
    if (view.success && asked.has(view.data.accountId)) good.push(view.data);
  }
  return good;
}
