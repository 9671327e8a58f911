import { api, describe, ok, type Account, type Conversation, type Lock } from './api.js';
import { h } from './dom.js';
import { FrameError, type Event, type Live } from './live.js';

// The operators' lock board: every held lock of each department the person may watch, live from
// the coalesced `board` frames (docs/protocol.md, "The lock board"). The server decides who may
// watch (`watchLocks` refuses the others) and what is held; the screen only draws it. In kiosk
// mode (#/kiosk) it fills a wall screen and needs no interaction: the socket reconnects by itself
// and the app calls `watch` again after every (re)connect.

type BoardFrame = Extract<Event, { type: 'board' }>;

export interface BoardScreen {
  /** Watch every department again (after each (re)connect: the server forgets a closed socket's boards). */
  watch(): Promise<void>;
  apply(frame: BoardFrame): void;
  /** The person may no longer watch this department's board (access_revoked). */
  revoked(departmentId: string, message: string): void;
  stop(): void;
}

interface Department {
  id: string;
  name: string;
  locks: Map<string, Lock>;
  watched: boolean;
  body: HTMLTableSectionElement;
  summary: HTMLElement;
  error: HTMLElement;
}

const TICK_MS = 1_000;

export async function renderBoard(target: HTMLElement, o: { live: () => Live | null; accounts: () => Account[]; kiosk: boolean }): Promise<BoardScreen> {
  const list = ok(await api.GET('/api/v1/departments')).items;
  const students = new Map<string, string>();
  const departments = new Map<string, Department>();
  const sections = list.map((d) => {
    const dept: Department = {
      id: d.id,
      name: d.name,
      locks: new Map(),
      watched: false,
      body: h('tbody'),
      summary: h('p', { class: 'board-summary', 'aria-live': 'polite' }, 'Connecting…'),
      error: h('p', { class: 'field-error', role: 'alert' }),
    };
    departments.set(d.id, dept);
    const head = h('thead', {}, h('tr', {}, ...['Account', 'Student', 'Responding', 'Since', 'State'].map((c) => h('th', { scope: 'col' }, c))));
    return h(
      'section',
      { class: 'board', 'data-department': d.id, 'aria-labelledby': `board-${d.id}` },
      h('h2', { id: `board-${d.id}` }, `${d.name}: lock board`),
      dept.summary,
      dept.error,
      h('table', { 'aria-label': `${d.name} locks` }, head, dept.body),
    );
  });
  target.replaceChildren(
    ...(o.kiosk ? [] : [h('p', { class: 'muted' }, 'For a wall screen: ', h('a', { href: '#/kiosk' }, 'kiosk view'), ' (no navigation, large type, stays connected).')]),
    ...(sections.length ? sections : [h('p', { class: 'empty' }, 'You belong to no department.')]),
  );

  const accountOf = (id: string) => o.accounts().find((a) => a.id === id);
  const studentOf = (conversationId: string, dept: Department): string => {
    const known = students.get(conversationId);
    if (known !== undefined) return known;
    students.set(conversationId, '…');
    void api
      .GET('/api/v1/conversations/{id}', { params: { path: { id: conversationId } } })
      .then(ok)
      .then((c: Conversation) => {
        students.set(conversationId, c.contact ? `${c.contact.firstName} ${c.contact.lastName}`.trim() || c.contact.phone : 'Unknown contact');
        draw(dept);
      })
      .catch(() => students.set(conversationId, '—'));
    return '…';
  };

  const draw = (dept: Department) => {
    const locks = [...dept.locks.values()].sort((a, b) => (a.since ?? 0) - (b.since ?? 0));
    const warned = locks.filter((l) => l.state === 'idleWarning').length;
    dept.summary.textContent = dept.watched ? `${locks.length} conversation${locks.length === 1 ? '' : 's'} held${warned ? `, ${warned} in idle warning` : ''}` : dept.summary.textContent;
    dept.body.replaceChildren(
      ...locks.map((l) => {
        const account = accountOf(l.accountId);
        const dot = h('span', { class: 'dot', 'aria-hidden': 'true' });
        if (account?.color) dot.style.setProperty('background', account.color);
        return h(
          'tr',
          { 'data-conversation': l.conversationId, 'data-state': l.state },
          h('td', {}, dot, ' ', account?.name ?? '—'),
          h('td', {}, studentOf(l.conversationId, dept)),
          h('td', { class: 'holder' }, l.holder?.name ?? '—'),
          h('td', {}, l.since ? `${clock(l.since)} (${elapsed(l.since)})` : ''),
          h('td', { class: 'state' }, l.state === 'idleWarning' ? `Idle warning: released at ${clock(l.releaseAt ?? 0)}` : 'Responding'),
        );
      }),
    );
  };

  // "Since" reads as a duration too (for 3 min); redrawn every second, as a wall clock would be.
  const ticker = setInterval(() => departments.forEach((d) => d.locks.size > 0 && draw(d)), TICK_MS);

  const screen: BoardScreen = {
    async watch() {
      const live = o.live();
      if (!live) return;
      for (const dept of departments.values()) {
        try {
          const ack = await live.request({ type: 'watchLocks', departmentId: dept.id });
          if (!('locks' in ack)) continue;
          dept.locks = new Map(ack.locks.map((l) => [l.conversationId, l]));
          dept.watched = true;
          dept.error.textContent = '';
          draw(dept);
        } catch (e) {
          dept.watched = false;
          // Offline: the app watches again once the socket is back.
          dept.summary.textContent = e instanceof FrameError && e.code === 'offline' ? 'Connecting…' : 'Not shown';
          if (!(e instanceof FrameError && e.code === 'offline')) dept.error.textContent = describe(e);
        }
      }
    },
    apply(frame) {
      const dept = departments.get(frame.departmentId);
      if (!dept?.watched) return;
      for (const l of frame.locks) {
        if (l.state === 'idle') dept.locks.delete(l.conversationId);
        else dept.locks.set(l.conversationId, l);
      }
      draw(dept);
    },
    revoked(departmentId, message) {
      const dept = departments.get(departmentId);
      if (!dept) return;
      dept.watched = false;
      dept.locks.clear();
      draw(dept);
      dept.summary.textContent = 'Not shown';
      dept.error.textContent = `${message} (access_revoked)`;
    },
    stop() {
      clearInterval(ticker);
      for (const dept of departments.values()) {
        if (dept.watched) o.live()?.notify({ type: 'unwatchLocks', departmentId: dept.id });
      }
    },
  };
  await screen.watch();
  return screen;
}

function clock(ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

function elapsed(since: number): string {
  const s = Math.max(0, Math.floor((Date.now() - since) / 1000));
  return s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min` : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
