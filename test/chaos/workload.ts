import { performance } from 'node:perf_hooks';
import { Http } from '../helpers/http.js';
import { WsClient, type Frame } from '../helpers/ws-client.js';
import { prng } from '../helpers/prng.js';
import { middayTimeZone } from '../helpers/time-zones.js';
import { CHAOS_TIMINGS, OWNER, type ChaosCluster } from './harness.js';
import type { LockObservation } from './checker.js';

// The chaos workload: staff on real WebSocket clients, spread over the nodes, contend for a few
// conversations of one group account (open, activity, reply under the token they hold, leave,
// sometimes go idle or drop the connection), each moving to another node when theirs dies or
// stops answering; a stream of student texts comes in through the simulator meanwhile. Every
// answer is recorded with the harness process's monotonic time (performance.now()).
//
// Every step waits for an event with a deadline, never for time alone: a person's next command
// follows the answer to the last, a refused person and the texting students wait for the next step
// anyone takes, and the nemesis spaces its faults by the steps the cluster has served. A node is
// kept paused until its lease is gone from the placement's bucket: the lease lapses by the
// bucket's max_age, which emits no event, so the nemesis reads it again after each step served.

const PASSWORD = 'chaos staff password';
/** A command unanswered this long counts as lost: the client drops the socket and moves on. */
const ANSWER_DEADLINE_MS = 4_000;
/** A refused client tries the next node when one changes state, or after this backoff a real client keeps too. */
const RECONNECT_BACKOFF_MS = 250;
/** Longest wait for the next step someone takes (all clients may be waiting on a dead socket's deadline). */
const NEXT_STEP_DEADLINE_MS = 2_000;

export interface ChaosOrg {
  apiCode: string;
  numbers: string[];
  /** The last one is a department admin, who takes over locks held by others now and then. */
  staff: Array<{ id: string; name: string; email: string; token: string; admin: boolean }>;
  conversations: Array<{ id: string; phone: string }>;
}

const expectStatus = (what: string, r: { status: number; body: unknown }, status: number): void => {
  if (r.status !== status) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
};

/** Texts in as a student's phone through the simulator; resolves with its MessageUUID. */
export async function textIn(cluster: ChaosCluster, from: string, to: string, text: string): Promise<{ uuid: string; delivered: boolean }> {
  const res = await fetch(`${cluster.simulator.url}/simulator/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ from, to, text }),
  });
  const body = (await res.json()) as { messageUuid?: string; delivery?: { state: string } };
  if (res.status !== 200 || !body.messageUuid) throw new Error(`the simulator refused a text: ${res.status} ${JSON.stringify(body)}`);
  return { uuid: body.messageUuid, delivered: body.delivery?.state === 'delivered' };
}

/**
 * A department, `staff` people in one group account of six numbers (the last a department admin),
 * and `conversations` students who texted it.
 */
export async function buildChaosOrg(cluster: ChaosCluster, o: { staff: number; conversations: number }): Promise<ChaosOrg> {
  const http = new Http(cluster.liveUrls()[0]!);
  const session = await http.post('/api/v1/sessions', { email: OWNER.email, password: OWNER.password });
  expectStatus('owner sign-in', session, 201);
  const owner = session.body.token as string;
  const dept = await http.post('/api/v1/departments', { name: 'Admissions', code: 'ADM', timeZone: middayTimeZone(Date.now()) }, owner);
  expectStatus('department', dept, 201);
  const staff: ChaosOrg['staff'] = [];
  for (let i = 0; i < o.staff; i++) {
    const admin = i === o.staff - 1;
    const email = `staff${i + 1}@chaos.test`;
    const name = admin ? `Admin ${i + 1}` : `Staff ${i + 1}`;
    const created = await http.post('/api/v1/users', { email, name, role: admin ? 'deptAdmin' : 'staff', departmentIds: [dept.body.id], password: PASSWORD, personalAreaCode: '617' }, owner);
    expectStatus('user', created, 201);
    const signedIn = await http.post('/api/v1/sessions', { email, password: PASSWORD });
    expectStatus('staff sign-in', signedIn, 201);
    staff.push({ id: created.body.id, name, email, token: signedIn.body.token, admin });
  }
  const available = await http.get('/api/v1/numbers/available?areaCode=617&limit=6', owner);
  expectStatus('numbers', available, 200);
  const numbers = (available.body.items as Array<{ number: string }>).map((n) => n.number);
  const account = await http.post(
    '/api/v1/group-accounts',
    { name: 'Chaos Outreach', departmentId: dept.body.id, color: '#2F6FDE', numbers, memberIds: staff.map((s) => s.id) },
    owner,
  );
  expectStatus('group account', account, 201);
  const phones = Array.from({ length: o.conversations }, (_, i) => `+1617555${String(1000 + i)}`);
  for (const phone of phones) {
    const sent = await textIn(cluster, phone, numbers[0]!, `hello from ${phone}`);
    if (!sent.delivered) throw new Error(`the first text of ${phone} was not delivered`);
  }
  const listed = await http.get(`/api/v1/accounts/${account.body.apiCode}/conversations?folder=inbox&limit=100`, owner);
  expectStatus('conversations', listed, 200);
  const items = listed.body.items as Array<{ id: string; contact: { phone: string } | null }>;
  const conversations = phones.map((phone) => {
    const c = items.find((i) => i.contact?.phone === phone);
    if (!c) throw new Error(`no conversation with ${phone}: ${JSON.stringify(items).slice(0, 300)}`);
    return { id: c.id, phone };
  });
  return { apiCode: account.body.apiCode, numbers, staff, conversations };
}

export interface WorkloadCounts {
  /** Commands sent by the staff clients, by type. */
  commands: Record<string, number>;
  openRefused: number;
  unanswered: number;
  reconnects: number;
  textsSent: number;
}

export class History {
  readonly observations: LockObservation[] = [];
  readonly counts: WorkloadCounts = { commands: {}, openRefused: 0, unanswered: 0, reconnects: 0, textsSent: 0 };
  readonly texts: string[] = [];
  private readonly waiters: Array<{ at: number; done: () => void }> = [];

  record(o: LockObservation): void {
    this.observations.push(o);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.observations.length < this.waiters[i]!.at) continue;
      this.waiters[i]!.done();
      this.waiters.splice(i, 1);
    }
  }

  /** Resolves once `check` holds, asked again after each grant, release or reply recorded; false at the deadline. */
  async until(check: () => Promise<boolean>, deadlineMs: number): Promise<boolean> {
    const deadline = performance.now() + deadlineMs;
    for (;;) {
      if (await check()) return true;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await this.next(1, left);
    }
  }

  /** Resolves once `steps` more grants, releases or replies are recorded, or at the deadline. */
  next(steps: number, deadlineMs: number): Promise<void> {
    return new Promise((resolve) => {
      const waiter = {
        at: this.observations.length + steps,
        done: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve();
      }, deadlineMs);
      this.waiters.push(waiter);
    });
  }
}

const wsUrlOf = (base: string): string => `${base.replace(/^http/, 'ws')}/ws`;

/** One person at a keyboard, on one socket at a time. */
class StaffClient {
  private ws: WsClient | null = null;
  private node = '';
  /** What this socket was granted and not told it lost: conversation → token. */
  private readonly held = new Map<string, number>();
  private readonly releasedWaiters = new Map<string, () => void>();
  private replies = 0;

  constructor(
    private readonly person: ChaosOrg['staff'][number],
    private readonly index: number,
    private readonly cluster: ChaosCluster,
    private readonly history: History,
    private readonly random: () => number,
  ) {}

  async run(org: ChaosOrg, stopped: () => boolean): Promise<void> {
    while (!stopped()) {
      if (!(await this.connect(stopped))) break;
      const conversation = org.conversations[Math.floor(this.random() * org.conversations.length)]!.id;
      let granted = await this.open(conversation);
      if (granted === 'held' && this.person.admin && this.random() < 0.3) granted = await this.takeOver(conversation);
      if (granted === null || granted === 'held') {
        // Someone else has it: try again once the cluster has moved on.
        await this.history.next(1, NEXT_STEP_DEADLINE_MS);
        continue;
      }
      const rounds = 1 + Math.floor(this.random() * 3);
      for (let k = 0; k < rounds && !stopped() && this.held.get(conversation) === granted; k++) {
        if (this.random() < 0.5) await this.activity(conversation, granted);
        if (this.held.get(conversation) !== granted) break;
        await this.reply(conversation, granted);
      }
      if (this.held.get(conversation) !== granted) continue;
      const ending = this.random();
      if (ending < 0.7 || stopped()) await this.leave(conversation, granted);
      else if (ending < 0.85) await this.goIdle(conversation, granted);
      else this.drop();
    }
    this.ws?.close();
  }

  /** On a live node, trying them in turn from this client's own; false when stopped before one answered. */
  private async connect(stopped: () => boolean): Promise<boolean> {
    while (this.ws === null || this.ws.closed !== null) {
      if (this.ws !== null) {
        this.ws = null;
        this.held.clear();
      }
      if (stopped()) return false;
      const live = this.cluster.nodes.filter((n) => n.state === 'up');
      if (live.length === 0) {
        await this.cluster.nextStateChange();
        continue;
      }
      const node = live[(this.index + this.history.counts.reconnects) % live.length]!;
      try {
        // A node paused during the upgrade never answers it: the upgrade is abandoned at the deadline.
        const ws = await WsClient.connect(wsUrlOf(node.child!.url), this.person.token, 'query', { handshakeTimeoutMs: ANSWER_DEADLINE_MS });
        this.ws = ws;
        this.node = node.id;
        this.ws.socket.on('message', (data) => this.onFrame(JSON.parse(data.toString()) as Frame));
      } catch {
        // Refused or not answered (starting, paused, or gone since): the next node once a node
        // changes state, or after the reconnect backoff a real client keeps too.
        this.history.counts.reconnects++;
        await this.cluster.nextStateChange(RECONNECT_BACKOFF_MS);
      }
    }
    return true;
  }

  /** A `released` event ends an idle wait; what it ended is judged by the next command's answer. */
  private onFrame(frame: Frame): void {
    if (frame.type === 'released' && frame.reason !== 'left') this.releasedWaiters.get(frame.conversationId)?.();
  }

  /** Sends a command; its answer, or null when the socket died or the deadline passed (then the socket is dropped). */
  private async call(frame: Frame): Promise<{ answer: Frame | null; invokedAt: number; observedAt: number }> {
    const counts = this.history.counts.commands;
    counts[frame.type] = (counts[frame.type] ?? 0) + 1;
    const ws = this.ws!;
    const invokedAt = performance.now();
    const answer = await Promise.race([
      ws.request(frame, ANSWER_DEADLINE_MS),
      ws.waitClosed(ANSWER_DEADLINE_MS + 1_000).then(() => null),
    ]).catch(() => null);
    const observedAt = performance.now();
    if (answer === null) {
      this.history.counts.unanswered++;
      this.drop();
    }
    return { answer, invokedAt, observedAt };
  }

  /** The token granted, 'held' (by someone else), or null (refused or no answer). */
  private async open(conversationId: string): Promise<number | 'held' | null> {
    const { answer, invokedAt, observedAt } = await this.call({ type: 'open', conversationId });
    if (answer === null) this.history.record({ kind: 'openUnanswered', conversationId, holder: this.person.name, invokedAt });
    if (answer?.type !== 'ack') return null;
    if (!answer.granted) {
      this.history.counts.openRefused++;
      return 'held';
    }
    return this.granted(conversationId, answer.lockToken as number, { invokedAt, observedAt });
  }

  /** A department admin takes the lock from its holder. */
  private async takeOver(conversationId: string): Promise<number | null> {
    const { answer, invokedAt, observedAt } = await this.call({ type: 'takeOver', conversationId });
    if (answer === null) this.history.record({ kind: 'openUnanswered', conversationId, holder: this.person.name, invokedAt });
    if (answer?.type !== 'ack') return null;
    return this.granted(conversationId, answer.lockToken as number, { invokedAt, observedAt });
  }

  private granted(conversationId: string, token: number, { invokedAt, observedAt }: { invokedAt: number; observedAt: number }): number {
    this.held.set(conversationId, token);
    this.history.record({ kind: 'grant', conversationId, holder: this.person.name, token, invokedAt, observedAt, node: this.node });
    return token;
  }

  /** The answer's lock says whether this person still holds it. */
  private judge(conversationId: string, token: number, lock: Frame, timed: { invokedAt: number; observedAt: number }, how: string): void {
    const mine = lock.state !== 'idle' && lock.holder?.userId === this.person.id;
    if (mine) {
      this.history.record({ kind: 'holding', conversationId, holder: this.person.name, token, ...timed, node: this.node });
    } else if (this.held.get(conversationId) === token) {
      this.history.record({ kind: 'release', conversationId, holder: this.person.name, token, ...timed, how });
      this.held.delete(conversationId);
    }
  }

  private async activity(conversationId: string, token: number): Promise<void> {
    const { answer, ...timed } = await this.call({ type: 'activity', conversationId });
    if (answer?.type === 'ack') this.judge(conversationId, token, answer.lock, timed, 'activity');
  }

  private async leave(conversationId: string, token: number): Promise<void> {
    if (!this.ws) return;
    const { answer, ...timed } = await this.call({ type: 'leave', conversationId });
    if (answer?.type === 'ack') this.judge(conversationId, token, answer.lock, timed, 'leave');
  }

  private async reply(conversationId: string, token: number): Promise<void> {
    const ref = `s${this.index + 1}-${++this.replies}`;
    const text = `chaos reply ${ref} under ${token}`;
    const node = this.node;
    const { answer, invokedAt, observedAt } = await this.call({ type: 'reply', conversationId, lockToken: token, text, clientRef: ref });
    const base = { kind: 'reply' as const, conversationId, holder: this.person.name, token, ref, invokedAt, node };
    if (answer?.type === 'ack') this.history.record({ ...base, observedAt, outcome: 'accepted' });
    else if (answer?.type === 'error') this.history.record({ ...base, observedAt, outcome: 'refused', code: answer.code });
    else this.history.record({ ...base, observedAt: null, outcome: 'unknown' });
  }

  /**
   * Stops answering: the idle warning goes unanswered and the lock is released. Then asks (an
   * `activity`) whether the lock is still theirs, which the checker can place in time.
   */
  private async goIdle(conversationId: string, token: number): Promise<void> {
    const deadline = Number(CHAOS_TIMINGS.LOCK_IDLE_WARNING_MS) + Number(CHAOS_TIMINGS.LOCK_RELEASE_AFTER_WARNING_MS) + 3_000;
    const ws = this.ws;
    if (!ws) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(finish, deadline);
      void ws.waitClosed(deadline).then(finish, () => undefined);
      this.releasedWaiters.set(conversationId, finish);
      function finish(): void {
        clearTimeout(timer);
        resolve();
      }
    });
    this.releasedWaiters.delete(conversationId);
    if (this.ws !== null && this.ws.closed === null) await this.activity(conversationId, token);
  }

  /** The tab closes or the network goes: the socket ends without a leave. */
  private drop(): void {
    this.ws?.socket.terminate();
    this.ws = null;
    this.held.clear();
    this.history.counts.reconnects++;
  }
}

/** The staff clients, until `stopped()`; resolves once every one has finished its current step. */
export function runStaff(cluster: ChaosCluster, org: ChaosOrg, history: History, seed: number, stopped: () => boolean): Promise<void> {
  return Promise.all(org.staff.map((person, i) => new StaffClient(person, i, cluster, history, prng(seed * 1_000 + i)).run(org, stopped))).then(() => undefined);
}

/** Students text the group account, the conversations' students and a few new ones, one text at a time. */
export async function runTexts(cluster: ChaosCluster, org: ChaosOrg, history: History, seed: number, stopped: () => boolean): Promise<void> {
  const random = prng(seed * 1_000 + 999);
  const newcomers = Array.from({ length: 10 }, (_, i) => `+1617555${String(2000 + i)}`);
  for (let n = 1; !stopped(); n++) {
    const phone = random() < 0.8 ? org.conversations[Math.floor(random() * org.conversations.length)]!.phone : newcomers[Math.floor(random() * newcomers.length)]!;
    const to = org.numbers[Math.floor(random() * org.numbers.length)]!;
    history.counts.textsSent++;
    const { uuid } = await textIn(cluster, phone, to, `chaos text ${n}`);
    history.texts.push(uuid);
    await history.next(1, NEXT_STEP_DEADLINE_MS);
  }
}

/**
 * The faults, one after another until `stopped()`: SIGKILL a node and restart it; SIGSTOP a node
 * past its lease, then SIGCONT; SIGKILL a NATS server, then restart it once the cluster has served
 * steps without it. Each fault is healed before the next begins, so the run ends with every
 * process up. Faults are spaced by the steps the cluster serves in between (`stepsBetween`, or
 * `deadlineMs` if it serves fewer). `everyKind` is called once each kind has happened (a run
 * lasts at least that long, however slowly a loaded machine restarts).
 */
export async function runNemesis(
  cluster: ChaosCluster,
  history: History,
  seed: number,
  o: { stepsBetween: number; deadlineMs: number; everyKind: () => void },
  stopped: () => boolean,
): Promise<void> {
  const random = prng(seed * 1_000 + 998);
  const pick = (n: number) => Math.floor(random() * n);
  const served = () => history.next(o.stepsBetween, o.deadlineMs);
  await served();
  for (let k = 0; !stopped(); k++) {
    switch (k % 3) {
      case 0: {
        const i = pick(cluster.nodes.length);
        await cluster.killNode(i);
        await cluster.restartNode(i);
        break;
      }
      case 1: {
        const i = pick(cluster.nodes.length);
        cluster.pauseNode(i);
        // Stopped until its lease is gone (read again after each step the others serve: NATS tells
        // no one when a lease lapses), then until the others have served its conversations a while.
        if (!(await history.until(() => cluster.leaseLapsed(i), o.deadlineMs))) {
          throw new Error(`node ${cluster.nodes[i]!.id} kept its lease for ${o.deadlineMs} ms while paused: the fault did not happen`);
        }
        await history.next(o.stepsBetween, o.deadlineMs);
        cluster.resumeNode(i);
        break;
      }
      default: {
        const i = pick(cluster.nats.servers.length);
        await cluster.killNats(i);
        await served();
        await cluster.restartNats(i);
      }
    }
    if (k === 2) o.everyKind();
    if (!stopped()) await served();
  }
}
