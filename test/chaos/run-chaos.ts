import Database from 'better-sqlite3';
import { checkHistory, type CheckResult, type LockObservation } from './checker.js';
import { ChaosCluster, type Fault } from './harness.js';
import { History, buildChaosOrg, runNemesis, runStaff, runTexts } from './workload.js';

// One chaos run: start the cluster, build the organisation, run the staff, the student texts and
// the nemesis for `seconds` (and until every kind of fault has happened), heal, wait for every
// text the simulator still retries, stop the nodes, read the store file and check the history.
// Used by the vitest test (test/chaos/) and by `npm run chaos`.

export interface ChaosOptions {
  seconds: number;
  seed: number;
  staff?: number;
  conversations?: number;
  log?: (line: string) => void;
}

export interface ChaosReport {
  seed: number;
  seconds: number;
  result: CheckResult;
  operations: number;
  commands: Record<string, number>;
  openRefused: number;
  unanswered: number;
  reconnects: number;
  faults: string[];
  /** Everything the checker judged, with the faults' times on the same clock, for a post-mortem. */
  history: { observations: LockObservation[]; faults: Fault[]; texts: string[] };
}

/** How long, after the run, the texts the simulator still retries may take to be acknowledged. */
const TEXTS_SETTLE_MS = 45_000;

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const log = o.log ?? (() => undefined);
  log(`chaos: seed ${o.seed}, ${o.seconds} s`);
  const cluster = await ChaosCluster.start({ log });
  try {
    const org = await buildChaosOrg(cluster, { staff: o.staff ?? 6, conversations: o.conversations ?? 3 });
    log(`chaos: ${org.staff.length} staff on ${org.conversations.length} conversations; workload starts`);
    const history = new History();
    // The run ends once its time is up and every kind of fault has happened.
    let timeUp = false;
    let everyKind = false;
    const stopped = () => timeUp && everyKind;
    const runMs = o.seconds * 1000;
    // Faults spaced by the lock steps served in between (about 10–60 a second on this workload).
    const nemesis = { stepsBetween: 40, deadlineMs: Math.max(2_000, runMs / 8), everyKind: () => (everyKind = true) };
    const running = Promise.all([
      runStaff(cluster, org, history, o.seed, stopped),
      runTexts(cluster, org, history, o.seed, stopped),
      runNemesis(cluster, history, o.seed, nemesis, stopped),
    ]);
    const timer = setTimeout(() => (timeUp = true), runMs);
    try {
      await running;
    } finally {
      clearTimeout(timer);
      timeUp = everyKind = true;
    }
    log(`chaos: workload done (${cluster.faults.length} faults); waiting for the simulator's retries`);
    const sent = new Set(history.texts);
    await cluster.forwarder
      .until(() => [...sent].every((u) => cluster.forwarder.acknowledged.has(u)), 'every text acknowledged', TEXTS_SETTLE_MS)
      .catch((e: unknown) => log(`chaos: ${(e as Error).message}`));
    await cluster.stopNodes();
    const db = new Database(cluster.dbFile, { readonly: true });
    let store;
    try {
      const replyTexts = db.prepare("SELECT text FROM messages WHERE direction = 'outbound' AND text LIKE 'chaos reply %'").pluck().all() as string[];
      const inbound = db.prepare("SELECT provider_id AS uuid, count(*) AS n FROM messages WHERE direction = 'inbound' AND provider_id IS NOT NULL GROUP BY provider_id").all() as Array<{ uuid: string; n: number }>;
      store = {
        storedReplyRefs: new Set(replyTexts.map((t) => t.split(' ')[2]!)),
        storedInbound: new Map(inbound.map((r) => [r.uuid, r.n])),
      };
    } finally {
      db.close();
    }
    const result = checkHistory(
      history.observations,
      history.texts.map((uuid) => ({ uuid, acknowledged: cluster.forwarder.acknowledged.has(uuid) })),
      store,
    );
    const commands = history.counts.commands;
    return {
      seed: o.seed,
      seconds: o.seconds,
      result,
      operations: Object.values(commands).reduce((a, b) => a + b, 0) + history.counts.textsSent,
      commands,
      openRefused: history.counts.openRefused,
      unanswered: history.counts.unanswered,
      reconnects: history.counts.reconnects,
      faults: cluster.faults.map((f) => f.what),
      history: { observations: history.observations, faults: cluster.faults, texts: history.texts },
    };
  } finally {
    await cluster.close();
  }
}

/** The counts, then the violations (the first 20 of each rule), as lines to print. */
export function formatReport(r: ChaosReport): string[] {
  const c = r.result.counts;
  const byRule = new Map<string, string[]>();
  for (const v of r.result.violations) byRule.set(v.rule, [...(byRule.get(v.rule) ?? []), `${v.conversationId ? `[${v.conversationId}] ` : ''}${v.detail}`]);
  const lines = [
    `chaos run: seed ${r.seed}, ${r.seconds} s (npm run chaos -- --seconds ${r.seconds} --seed ${r.seed})`,
    `  operations ${r.operations} (${Object.entries(r.commands).map(([k, v]) => `${k} ${v}`).join(', ')}, texts ${c.textsSent})`,
    `  grants ${c.grants}, opens refused ${r.openRefused}, releases seen ${c.releases}`,
    `  replies accepted ${c.repliesAccepted}, refused ${c.repliesRefused}, unanswered ${c.repliesUnknown} (of which stored ${c.repliesUnknownButStored})`,
    `  commands unanswered ${r.unanswered}, reconnects ${r.reconnects}`,
    `  faults ${r.faults.length}: ${r.faults.join('; ')}`,
    `  texts sent ${c.textsSent}, acknowledged ${c.textsAcknowledged}, stored ${c.textsStored}`,
    `  violations ${r.result.violations.length}${byRule.size ? `: ${[...byRule].map(([rule, list]) => `${rule} ${list.length}`).join(', ')}` : ''}`,
  ];
  for (const [rule, list] of byRule) {
    lines.push(`  ${rule}:`);
    for (const d of list.slice(0, 20)) lines.push(`    ${d}`);
    if (list.length > 20) lines.push(`    … and ${list.length - 20} more`);
  }
  return lines;
}
