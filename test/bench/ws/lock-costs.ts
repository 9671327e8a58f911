import { rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createActor } from 'xstate';
import { conversationLockMachine, persistedSnapshot } from '../../../actors/conversation/index.js';
import { testConfig } from '../../../src/config.js';
import { silentLogger } from '../../../src/logger.js';
import { startSwitchboard } from '../../../gateways/server.js';
import { createOwner } from '../../../src/services/bootstrap.js';
import { accessibleConversation, accessibleConversationAccount, ConversationAccounts } from '../../../src/services/account-access.js';
import { ClientFrame } from '../../../src/schemas/ws.js';
import { FAST_ENV } from '../../helpers/switchboard.js';
import type { Principal } from '../../../src/auth/principal.js';
import { describeHeapFlow, recordHeapFlow } from './heap-flow.js';

// Where one lock command's server CPU goes, without sockets: the parts of an open/leave cycle
// timed one by one in this process (CPU time per operation, averaged over thousands), then whole
// open/leave cycles through the core, 1,000 conversations at a time as the round-trip benchmark
// does. The difference between the last figure and the round trip's server CPU per command is
// the gateway (uWS, JSON, validation, sends). Then the heap: what the whole cycles allocate and
// what of it survives into the old generation, per command (heap-flow.ts; these bytes stay put on
// a busy machine where CPU time does not). A diagnostic, not part of the table:
//   npx tsx test/bench/ws/lock-costs.ts

const N = 1_000;
const PASSWORD = 'bench horse battery staple';

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

const usedHeap = (): number => process.memoryUsage().heapUsed;

async function timeIt(label: string, count: number, fn: (i: number) => unknown): Promise<number> {
  const t0 = cpuUs();
  for (let i = 0; i < count; i++) await fn(i);
  const per = (cpuUs() - t0) / count;
  console.log(`${label.padEnd(64)} ${per.toFixed(1).padStart(7)} µs CPU`);
  return per;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-lockcosts-'));
  const sb = await startSwitchboard(testConfig({ ...FAST_ENV, DATA_DIR: dir }), silentLogger);
  try {
    const core = sb.core;
    await createOwner(core, { email: 'owner@bench.edu', name: 'Bench Owner', password: PASSWORD, departmentIds: [], areaCode: '617' });
    const api = async (method: string, path: string, body?: unknown, token?: string): Promise<any> => {
      const res = await fetch(sb.url + path, {
        method,
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const json = await res.json();
      if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
      return json;
    };
    const token = (await api('POST', '/api/v1/sessions', { email: 'owner@bench.edu', password: PASSWORD })).token as string;
    const dept = await api('POST', '/api/v1/departments', { name: 'Admissions', code: 'adm', timeZone: 'America/New_York' }, token);
    // A staff member of the account, as the round trip's clients are: their access is a membership.
    const staff = await api('POST', '/api/v1/users', { email: 'staff@bench.edu', name: 'Bench Staff', role: 'staff', departmentIds: [dept.id], password: PASSWORD, personalAreaCode: '617' }, token);
    const available = await api('GET', '/api/v1/numbers/available?areaCode=617&limit=6', undefined, token);
    const numbers = (available.items as Array<{ number: string }>).map((n) => n.number);
    const account = await api('POST', '/api/v1/group-accounts', { name: 'Admissions Outreach', departmentId: dept.id, color: '#2F6FDE', numbers, memberIds: [staff.id] }, token);
    const accountNumbers = account.numbers as string[];
    const ids: string[] = [];
    for (let i = 0; i < N; i++) {
      const o = await core.inbound.receiveSms({ from: `+1617${String(2_000_000 + i).padStart(7, '0')}`, to: accountNumbers[i % 6]!, text: 'Hello', providerId: `lc-${i}` });
      if (o.kind !== 'recorded') throw new Error(o.kind);
      ids.push(o.conversation.id);
    }
    const staffToken = (await api('POST', '/api/v1/sessions', { email: 'staff@bench.edu', password: PASSWORD })).token as string;
    const p: Principal = await core.auth.authenticate(staffToken);
    const ctx = core.context;
    console.log(`${N} conversations; CPU per operation:`);
    const frame = JSON.stringify({ type: 'open', id: 'c1a2b', conversationId: ids[0] });
    await timeIt('JSON.parse + ClientFrame.safeParse (open frame)', 20_000, () => ClientFrame.safeParse(JSON.parse(frame)));
    await timeIt('accessibleConversation (3 SQLite reads)', 5 * N, (i) => accessibleConversation(ctx, p, ids[i % N]!));
    const known = new ConversationAccounts();
    await timeIt('accessibleConversationAccount (the account known, a member)', 5 * N, (i) => accessibleConversationAccount(ctx, p, ids[i % N]!, known));
    await timeIt('store.conversations.get', 5 * N, (i) => ctx.store.conversations.get(ids[i % N]!));
    await timeIt('store.locks.get', 5 * N, (i) => ctx.store.locks.get(ids[i % N]!));
    const input = { conversationId: ids[0]!, idleWarningMs: 180_000, releaseAfterWarningMs: 60_000, disconnectGraceMs: 15_000, token: 0 };
    await timeIt('createActor + start + stop (an activation, no store)', 5 * N, () => {
      const a = createActor(conversationLockMachine, { input });
      a.start();
      a.stop();
    });
    const actor = createActor(conversationLockMachine, { input });
    actor.start();
    const sendPair = (i: number): void => {
      actor.send({ type: 'OPEN', userId: 'U', name: 'Bench', connId: 'n1:1', now: 1_000 + i });
      actor.send({ type: 'LEAVE', userId: 'U', connId: 'n1:1', now: 1_000 + i });
    };
    await timeIt('actor.send OPEN + LEAVE (two transitions)', 5 * N, sendPair);
    const sends = recordHeapFlow(usedHeap);
    for (let i = 0; i < 5 * N; i++) sendPair(i);
    console.log(`${'actor.send OPEN + LEAVE, heap (per transition)'.padEnd(64)} ${describeHeapFlow(sends.stop(), 10 * N)}`);
    await timeIt('JSON.stringify(getPersistedSnapshot()), XState generic', 5 * N, () => JSON.stringify(actor.getPersistedSnapshot()));
    await timeIt('JSON.stringify(persistedSnapshot(snapshot)), what the owner saves', 5 * N, () => JSON.stringify(persistedSnapshot(actor.getSnapshot())));
    actor.stop();

    // Whole cycles through the core (access check, actor, save behind, events), N conversations
    // at a time, so group commit batches them as under load; after two cycles that activate the
    // actors (an epoch claim each), as the round trip's warm-up does.
    const cycle = async (): Promise<void> => {
      await Promise.all(ids.map((id, i) => core.locks.open(p, `n1:${i}`, id)));
      await Promise.all(ids.map((id, i) => core.locks.leave(p, `n1:${i}`, id)));
    };
    for (let c = 0; c < 2; c++) await cycle();
    const cycles = Number(process.env.LOCK_COSTS_CYCLES ?? 10);
    const commands = cycles * N * 2;
    const t0 = cpuUs();
    const w0 = performance.now();
    for (let c = 0; c < cycles; c++) await cycle();
    const per = (cpuUs() - t0) / commands;
    console.log(`${'core.locks.open / leave, 1,000 at a time (per command)'.padEnd(64)} ${per.toFixed(1).padStart(7)} µs CPU (${(((performance.now() - w0) * 1000) / commands).toFixed(1)} µs wall)`);
    // The same cycles again, for the heap alone (the recording costs CPU of its own).
    const flow = recordHeapFlow(usedHeap);
    for (let c = 0; c < cycles; c++) await cycle();
    await core.locks.settled();
    console.log(`${'core.locks.open / leave, heap (per command)'.padEnd(64)} ${describeHeapFlow(flow.stop(), commands)}`);
  } finally {
    await sb.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
