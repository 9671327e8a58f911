import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { newId } from '../../src/ids.js';
import { newConversation } from '../../src/domain/conversation.js';
import { startTestSwitchboard } from '../helpers/switchboard.js';
import { buildOrg } from '../helpers/org.js';
import { tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/wait.js';
import type { NewOutbound } from '../../src/store/store.js';
import type { SendMessageInput } from '../../src/sms/simulator/plivo-simulator.js';
import { createOwner } from '../../src/services/bootstrap.js';
import { spawnSwitchboard, killAll } from '../helpers/child-switchboard.js';
import { startSimulatorServer, type SimulatorServer } from '../helpers/simulator-server.js';
import { PASSWORD, login } from '../helpers/org.js';
import type { Reply } from '../helpers/http.js';
import { middayTimeZone } from '../helpers/time-zones.js';
import { WsClient } from '../helpers/ws-client.js';
import { prng } from '../helpers/prng.js';

// A crash between "handed to Plivo" and "recorded" must never send twice: after a restart, a
// message left in `sending` becomes `unknown` for a person to decide; a message still `queued`
// is sent.

describe('restarting after a crash', () => {
  it('sends what was queued, and marks what was mid-send unknown instead of sending it again', async () => {
    const dir = tempDir();
    try {
      const first = await startTestSwitchboard({}, { dataDir: dir.path });
      const org = await buildOrg(first);
      await first.close();

      // What a crash leaves behind, written straight into the store: two queued messages, one of
      // which had reached `sending` when the process died.
      const store = await createSqliteStore({ file: join(dir.path, 'switchboard.db') });
      const now = Date.now();
      const item = (to: { id: string; phone: string }, text: string): NewOutbound => {
        const conversationId = newId();
        return {
          conversation: newConversation({ id: conversationId, accountId: org.account.id, contactId: to.id, folder: 'archived', senderNumber: org.account.numbers[0]!, now }),
          message: { id: newId(), conversationId, accountId: org.account.id, contactId: to.id, direction: 'outbound', text, encoding: 'GSM-7', segments: 1, status: 'queued', fromNumber: org.account.numbers[0]!, toNumber: to.phone, sentByUserId: org.member.id, sentByName: org.member.name, providerId: null, statusSequence: 0, errorCode: null, quietHoursTimeZone: null, createdAt: now, updatedAt: now },
        };
      };
      const [interrupted, waiting] = await store.messages.enqueueOutbound([item(org.students[0]!, 'interrupted'), item(org.students[1]!, 'waiting')]);
      await store.messages.transition(interrupted!.message.id, { status: 'sending', at: now }, ['queued']);
      await store.close();

      const second = await startTestSwitchboard({}, { dataDir: dir.path });
      try {
        const sent = await until(
          second.sb.core.events,
          async () => {
            const m = await second.sb.store.messages.get(waiting!.message.id);
            return m?.status === 'delivered' ? m : null;
          },
          'the queued message delivered after the restart',
        );
        expect(sent.providerId).toBeTruthy();
        expect((await second.sb.store.messages.get(interrupted!.message.id))!.status).toBe('unknown');
        const phone = await second.http.get(`/simulator/messages?number=${encodeURIComponent(org.students[0]!.phone)}`);
        expect(phone.body.messages.map((m: { text: string }) => m.text)).not.toContain('interrupted');
      } finally {
        await second.close();
      }
    } finally {
      dir.remove();
    }
  });
});

// kill -9 in the middle of a large compose, a restart on the same data, and the client's retry.
// Switchboard runs in a child process (as `npm start`) and talks to the Plivo simulator over HTTP
// in this process, which outlives the kill and tells the test what it accepted. The kill lands at a
// point the test observes, not after a guessed delay: once the simulator has accepted the compose's
// first sends. With one send per number per hour (NUMBER_SEND_INTERVAL_MS) and one call in flight
// per number, exactly one message per pool number has reached the simulator by then and no other
// is on its way, so after the kill every message is either with the simulator or still `queued`.

const POOL = 6;
/** Delivery reports are not what these tests are about: they come after the test (only Plivo's immediate `queued` callback is sent). */
const DELIVERY_AFTER_TEST_MS = 3_600_000;

/** Counts the sends the simulator accepted, per destination, and wakes waiters as they come. */
function watchSends(server: SimulatorServer) {
  const perPhone = new Map<string, number>();
  let total = 0;
  const waiters: Array<{ done: () => boolean; resolve: () => void }> = [];
  const sim = server.sim;
  const accept = sim.sendMessageCommitted.bind(sim);
  sim.sendMessageCommitted = async (input: SendMessageInput) => {
    const accepted = await accept(input);
    const phone = `+${(input.dst ?? '').replace(/\D/g, '')}`;
    perPhone.set(phone, (perPhone.get(phone) ?? 0) + 1);
    total++;
    for (const w of waiters.splice(0)) {
      if (w.done()) w.resolve();
      else waiters.push(w);
    }
    return accepted;
  };
  const until = (done: () => boolean, what: string, timeoutMs = 60_000): Promise<void> =>
    new Promise((resolve, reject) => {
      if (done()) return resolve();
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what} (${total} sends so far)`)), timeoutMs);
      waiters.push({ done, resolve: () => (clearTimeout(timer), resolve()) });
    });
  return { perPhone, total: () => total, until };
}

/**
 * An owner, a department, a group account with six numbers rented from the simulator and
 * `students` students, set up by an in-process Switchboard on `dataDir` that is then stopped.
 */
async function setUp(dataDir: string, plivoEnv: Record<string, string>, students: number) {
  const t = await startTestSwitchboard(plivoEnv, { dataDir });
  try {
    await createOwner(t.sb.core, { email: 'owner@college.edu', name: 'Olivia Owner', password: PASSWORD, departmentIds: [], areaCode: '617' });
    const token = await login(t, 'owner@college.edu');
    const dept = await t.http.post('/api/v1/departments', { name: 'Admissions', code: 'ADM', timeZone: middayTimeZone(Date.now()) }, token);
    expect(dept.status, JSON.stringify(dept.body)).toBe(201);
    const available = await t.http.get(`/api/v1/numbers/available?areaCode=617&limit=${POOL}`, token);
    const numbers = (available.body.items as Array<{ number: string }>).map((n) => n.number);
    const account = await t.http.post('/api/v1/group-accounts', { name: 'Outreach', departmentId: dept.body.id, color: '#2F6FDE', numbers, memberIds: [] }, token);
    expect(account.status, JSON.stringify(account.body)).toBe(201);
    const rows = Array.from({ length: students }, (_, i) => `Student,${i},+1617${4_000_000 + i}`);
    const imported = await t.http.request('POST', '/api/v1/contacts/import', { token, body: ['FirstName,LastName,Phone', ...rows].join('\n'), headers: { 'content-type': 'text/csv' } });
    expect(imported.status, JSON.stringify(imported.body)).toBe(200);
    const contacts = await t.sb.store.contacts.list({ limit: students + 10 });
    expect(contacts).toHaveLength(students);
    return { token, apiCode: account.body.apiCode as string, contactIds: contacts.map((c) => c.id) };
  } finally {
    await t.close();
  }
}

/** Outbound messages with this text in the store file (opened after the process is gone). */
function queuedWith(dataDir: string, text: string): number {
  const db = new Database(join(dataDir, 'switchboard.db'));
  try {
    return db.prepare("SELECT count(*) FROM messages WHERE direction = 'outbound' AND text = ?").pluck().get(text) as number;
  } finally {
    db.close();
  }
}

interface Rig {
  org: Awaited<ReturnType<typeof setUp>>;
  sends: ReturnType<typeof watchSends>;
  dataDir: string;
  /** Switchboard in a child process on the rig's data, pointed at its simulator. */
  spawn(env: Record<string, string>): ReturnType<typeof spawnSwitchboard>;
}

/** A simulator in this process, an organisation with `students` students on fresh data, and `body`. */
async function withRig(students: number, body: (rig: Rig) => Promise<void>): Promise<void> {
  const dir = tempDir();
  const simulator = await startSimulatorServer({ retryScale: 0.001, deliveryDelayMs: DELIVERY_AFTER_TEST_MS });
  try {
    const sends = watchSends(simulator);
    const { authId, authToken } = simulator.sim.credentials;
    const plivo = { PLIVO_AUTH_ID: authId, PLIVO_AUTH_TOKEN: authToken, PLIVO_API_URL: simulator.apiUrl };
    const org = await setUp(dir.path, plivo, students);
    await body({ org, sends, dataDir: dir.path, spawn: (env) => spawnSwitchboard({ ...plivo, DATA_DIR: dir.path, ...env }) });
  } finally {
    await simulator.close();
    dir.remove();
  }
}

/** One send per number per hour, one call in flight: the first sends are all there is until the kill. */
const SLOW_SENDS = { NUMBER_SEND_INTERVAL_MS: '3600000', NUMBER_MAX_IN_FLIGHT: '1' };

describe('kill -9 in the middle of a large compose', () => {
  afterEach(killAll);

  it('with an Idempotency-Key, the retry after the restart reaches every student exactly once', async () => {
    const STUDENTS = 2_000;
    const TEXT = 'Hi {FirstName}, your financial aid form is due Friday.';
    await withRig(STUDENTS, async ({ org, sends, dataDir, spawn }) => {
      const compose = { groupAccountCode: org.apiCode, to: org.contactIds, text: TEXT, sendAnyway: true };
      const headers = { 'idempotency-key': '"aid-reminder-1"' };

      const first = await spawn(SLOW_SENDS);
      const answered: Promise<Reply | Error> = first.http.request('POST', '/api/v1/messages', { token: org.token, json: compose, headers }).catch((e: Error) => e);
      await sends.until(() => sends.total() >= POOL, 'the first send of every pool number');
      await first.kill();
      const firstAnswer = await answered;
      // All or nothing: the compose was durable as a whole before its first send.
      expect(queuedWith(dataDir, TEXT.replace('{FirstName}', 'Student'))).toBe(STUDENTS);

      const second = await spawn({ NUMBER_SEND_INTERVAL_MS: '0', NUMBER_MAX_IN_FLIGHT: '32' });
      try {
        const retry = await second.http.request('POST', '/api/v1/messages', { token: org.token, json: compose, headers });
        expect(retry.status, JSON.stringify(retry.body).slice(0, 300)).toBe(202);
        expect(retry.body.queued).toBe(STUDENTS);
        if (!(firstAnswer instanceof Error)) expect(retry.body).toEqual(firstAnswer.body);

        await sends.until(() => sends.perPhone.size >= STUDENTS, 'a text on every student’s phone');
        // Every message there is has been sent (each to its own phone), and there is one per student.
        expect(queuedWith(dataDir, TEXT.replace('{FirstName}', 'Student'))).toBe(STUDENTS);
        expect([...sends.perPhone.values()].filter((n) => n !== 1)).toEqual([]);
        expect(sends.total()).toBe(STUDENTS);
      } finally {
        await second.stop();
      }
    });
  }, 180_000);

  it('without a key, leaves every message queued or none', async () => {
    const STUDENTS = 3_000;
    const TEXT = 'Orientation starts Monday at 9.';
    await withRig(STUDENTS, async ({ org, sends, dataDir, spawn }) => {
      const child = await spawn(SLOW_SENDS);
      const answered = child.http
        .request('POST', '/api/v1/messages', { token: org.token, json: { groupAccountCode: org.apiCode, to: org.contactIds, text: TEXT, sendAnyway: true } })
        .catch((e: Error) => e);
      await sends.until(() => sends.total() >= 1, 'the compose’s first send');
      await child.kill();
      await answered;
      expect([0, STUDENTS]).toContain(queuedWith(dataDir, TEXT));
    });
  }, 180_000);
});

// kill -9 at random moments of a campaign sent at full speed, five times, each time restarted on
// the same data: the campaign resumes by itself where it was. At the end every recipient has been
// texted exactly once, except the ones whose send a kill interrupted between "sending" and the
// simulator's answer, which are `unknown` (texted at most once, never resent). The kill points
// come from a seeded generator, so a failure can be replayed. `npm test` runs 600 recipients;
// `CAMPAIGN_CRASH_RECIPIENTS=10000 npx vitest run test/integration/crash-recovery.test.ts` runs 10,000.

const CRASH_RECIPIENTS = Number(process.env.CAMPAIGN_CRASH_RECIPIENTS ?? 600);
const KILLS = 5;
const FULL_SPEED = { NUMBER_SEND_INTERVAL_MS: '0', NUMBER_MAX_IN_FLIGHT: '8' };

function recipientStatuses(dataDir: string, campaignId: string): Array<{ phone: string; status: string }> {
  const db = new Database(join(dataDir, 'switchboard.db'));
  try {
    return db.prepare('SELECT phone, status FROM campaign_recipients WHERE campaign_id = ?').all(campaignId) as Array<{ phone: string; status: string }>;
  } finally {
    db.close();
  }
}

describe('kill -9 during a campaign, five times', () => {
  afterEach(killAll);

  it('texts every recipient once, except the interrupted ones, which are unknown and never resent', async () => {
    const random = prng(20261201);
    await withRig(CRASH_RECIPIENTS, async ({ org, sends, dataDir, spawn }) => {
      let child = await spawn(FULL_SPEED);
      const created = await child.http.post('/api/v1/campaigns', { groupAccountCode: org.apiCode, name: 'Crash test', text: 'Hi {FirstName}, welcome!', recipients: { contactIds: org.contactIds } }, org.token);
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const id = created.body.id as string;
      const started = await child.http.post(`/api/v1/campaigns/${id}/start`, {}, org.token);
      expect(started.status, JSON.stringify(started.body)).toBe(200);

      const killedAt: number[] = [];
      for (let k = 0; k < KILLS; k++) {
        // Somewhere in the next twelfth of the campaign: the five kills land in its first half, so
        // that the sends they wait for come even if every kill interrupts a full set of calls.
        const target = sends.total() + 1 + Math.floor(random() * (CRASH_RECIPIENTS / 12));
        await sends.until(() => sends.total() >= target, `send ${target} before kill ${k + 1}`);
        await child.kill();
        killedAt.push(sends.total());
        child = await spawn(FULL_SPEED);
      }
      try {
        const done = await (async () => {
          const ws = await WsClient.connect(`${child.url.replace('http', 'ws')}/ws`, org.token);
          try {
            ws.send({ type: 'subscribe', id: 's', account: org.apiCode });
            await ws.next((f) => f.type === 'ack' && f.re === 's', 'subscribed');
            const now = await child.http.get(`/api/v1/campaigns/${id}`, org.token);
            if (now.body.state === 'completed') return now.body;
            return await ws.next((f) => f.type === 'campaign' && f.id === id && f.state === 'completed', 'the completed campaign', 120_000);
          } finally {
            ws.close();
          }
        })();
        expect(done.counts.queued).toBe(0);
      } finally {
        await child.stop();
      }

      const rows = recipientStatuses(dataDir, id);
      expect(rows).toHaveLength(CRASH_RECIPIENTS);
      const unknown = rows.filter((r) => r.status === 'unknown');
      // Nobody twice; everyone not unknown exactly once; an unknown one at most once.
      expect([...sends.perPhone.values()].filter((n) => n > 1)).toEqual([]);
      expect(rows.filter((r) => r.status !== 'unknown' && sends.perPhone.get(r.phone) !== 1)).toEqual([]);
      expect(rows.filter((r) => !['sent', 'delivered', 'unknown'].includes(r.status))).toEqual([]);
      // At most what can be in flight at a kill: six numbers, NUMBER_MAX_IN_FLIGHT calls each.
      expect(unknown.length).toBeLessThanOrEqual(KILLS * POOL * Number(FULL_SPEED.NUMBER_MAX_IN_FLIGHT));
      process.stdout.write(`campaign crash test: ${CRASH_RECIPIENTS} recipients, kills after sends ${killedAt.join(', ')}; unknown ${unknown.length}, texted ${sends.perPhone.size}\n`);
    });
  }, 300_000);
});
