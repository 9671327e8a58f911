import './style.css';
import { api, ApiError, describe, ok, session, type Account, type Conversation, type Lock, type Me, type Message } from './api.js';
import { h, time } from './dom.js';
import { FrameError, Live, type ConnectionState, type Event } from './live.js';
import { renderWizard } from './wizard.js';
import { renderBoard, type BoardScreen } from './board.js';
import { renderMembers } from './members.js';
import { renderImport } from './contacts-import.js';
import { measureAsTyped } from './measure.js';
import { renderCampaign, renderCampaigns, type CampaignFrame, type CampaignScreen } from './campaigns.js';

// The thin client: it renders what the REST API and the WebSocket say and sends commands. Every
// rule (access, locks, opt-out, lengths) is decided by the server; refusals are shown as they come.

type Folder = 'inbox' | 'archived';
type View = { kind: 'folder'; account: Account; folder: Folder } | { kind: 'conversation'; conversation: Conversation; account: Account } | { kind: 'compose' } | { kind: 'screen' };

interface OpenConversation {
  conversation: Conversation;
  account: Account;
  messages: Map<string, Message>;
  lock: Lock | null;
  lockToken: number | null;
  /** A group-account conversation this tab has clicked into (holds or waits for the lock). */
  locked: boolean;
}

const ACTIVITY_EVERY_MS = 10_000;

const state = {
  me: null as Me | null,
  live: null as Live | null,
  view: null as View | null,
  /** Inbox unread counts per account id, per conversation id. */
  unread: new Map<string, Map<string, number>>(),
  open: null as OpenConversation | null,
  simulator: false,
  lastActivityAt: 0,
  /** The lock board, while it is on screen. */
  board: null as BoardScreen | null,
  /** A campaigns list or one campaign, while it is on screen. */
  campaigns: null as CampaignScreen | null,
  /**
   * Campaign frames that came while a campaigns screen was loading: its first read may be older
   * than they are (a campaign still being expanded), so they are applied once it is on screen.
   */
  campaignFramesWhileLoading: null as CampaignFrame[] | null,
};

const root = document.getElementById('app')!;
const notice = h('div', { class: 'notice', role: 'status', 'aria-live': 'polite' });
const alertBox = h('div', { class: 'alert', role: 'alert', hidden: true });

function showError(e: unknown): void {
  alertBox.hidden = false;
  alertBox.textContent = describe(e);
}
function clearError(): void {
  alertBox.hidden = true;
  alertBox.textContent = '';
}

// ---- sign in --------------------------------------------------------------------------------

function renderSignIn(message?: string): void {
  const email = h('input', { id: 'email', type: 'email', name: 'email', autocomplete: 'username', required: true });
  const password = h('input', { id: 'password', type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const error = h('p', { class: 'field-error', role: 'alert' }, message ?? '');
  const form = h(
    'form',
    { class: 'sign-in', 'aria-label': 'Sign in' },
    h('h1', {}, 'Switchboard'),
    h('label', { for: 'email' }, 'Email'),
    email,
    h('label', { for: 'password' }, 'Password'),
    password,
    error,
    h('button', { type: 'submit' }, 'Sign in'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    error.textContent = '';
    void api
      .POST('/api/v1/sessions', { body: { email: email.value, password: password.value } })
      .then(ok)
      .then((s) => {
        session.token = s.token;
        return start();
      })
      .catch((err: unknown) => (error.textContent = describe(err)));
  });
  root.replaceChildren(form);
  email.focus();
}

async function signOut(): Promise<void> {
  await leaveConversation();
  await api.DELETE('/api/v1/sessions').catch(() => undefined);
  session.token = null;
  state.live?.stop();
  state.live = null;
  state.me = null;
  renderSignIn();
}

// ---- the shell --------------------------------------------------------------------------------

const nav = h('nav', { 'aria-label': 'Accounts' });
const main = h('main', { id: 'main' });
const side = h('aside', { class: 'side' });

async function start(): Promise<void> {
  let me: Me;
  try {
    me = ok(await api.GET('/api/v1/me'));
  } catch (e) {
    session.token = null;
    renderSignIn(e instanceof ApiError && e.code === 'unauthorized' ? undefined : describe(e));
    return;
  }
  state.me = me;
  state.unread.clear();
  state.open = null;
  const header = h(
    'header',
    {},
    h('span', { class: 'brand' }, 'Switchboard'),
    h('span', { class: 'who' }, `${me.user.name}`),
    h('button', { type: 'button', class: 'link', onclick: () => void signOut() }, 'Sign out'),
  );
  root.replaceChildren(header, notice, alertBox, h('div', { class: 'shell' }, nav, main, side));
  await Promise.all(me.accounts.map((a) => loadUnread(a)));
  renderNav();
  // The server says whether it runs on the simulator with its handset routes served.
  state.simulator = me.simulator?.handsetRoutes === true;
  if (state.simulator) renderSimulator();
  state.live = new Live({
    token: session.token!,
    onOpen: () => void resubscribe(),
    onEvent: onEvent,
    onState: showConnection,
    onSessionEnded: () => {
      session.token = null;
      renderSignIn('Your session ended: please sign in again.');
    },
  });
  await route();
}

window.addEventListener('hashchange', () => {
  if (state.me && state.live) void route();
});
// A closed or reloaded tab closes its socket at once; the server keeps the lock for its grace.
window.addEventListener('pagehide', () => state.live?.stop());

function showConnection(s: ConnectionState, detail?: string): void {
  notice.className = `notice ${s}`;
  notice.textContent = s === 'reconnecting' ? 'Connection lost: reconnecting…' : s === 'closed' ? (detail ?? 'Disconnected') : '';
  document.body.dataset['connection'] = s;
}

async function resubscribe(): Promise<void> {
  // After every (re)connect: the server forgets a socket's subscriptions with the socket.
  for (const a of state.me?.accounts ?? []) {
    await state.live?.request({ type: 'subscribe', account: a.apiCode ?? 'personal' }).catch(showError);
  }
  await state.board?.watch();
  if (state.open?.locked) await takeLock(state.open).catch(showError);
  if (state.open) await reloadMessages(state.open).catch(showError);
}

async function loadUnread(account: Account): Promise<void> {
  const page = ok(await api.GET('/api/v1/accounts/{accountRef}/conversations', { params: { path: { accountRef: account.apiCode ?? 'personal' }, query: { folder: 'inbox' } } }));
  state.unread.set(account.id, new Map(page.items.map((c) => [c.id, c.unread])));
}

function unreadOf(accountId: string): number {
  let n = 0;
  for (const u of state.unread.get(accountId)?.values() ?? []) n += u;
  return n;
}

function renderNav(): void {
  const admin = state.me?.user.role !== 'staff';
  const items = (state.me?.accounts ?? []).map((a) => {
    const ref = a.apiCode ?? 'personal';
    const dot = h('span', { class: 'dot', 'aria-hidden': 'true' });
    if (a.color) dot.style.setProperty('background', a.color);
    const n = unreadOf(a.id);
    return h(
      'li',
      { 'data-account': ref },
      h('div', { class: 'account' }, dot, h('span', { class: 'name' }, a.kind === 'personal' ? `${a.name} (personal)` : a.name), n > 0 ? h('span', { class: 'badge', 'aria-label': `${n} unread` }, String(n)) : null),
      h('a', { href: `#/a/${ref}/inbox` }, 'Inbox'),
      h('a', { href: `#/a/${ref}/archived` }, 'Archived'),
      h('a', { href: `#/campaigns/${ref}` }, 'Campaigns'),
      admin && a.kind === 'group' ? h('a', { href: `#/members/${ref}` }, 'Members') : null,
    );
  });
  nav.replaceChildren(
    h('a', { href: '#/compose', class: 'compose-link' }, 'New text'),
    ...(admin ? [h('a', { href: '#/new-group-account', class: 'compose-link' }, 'New group account'), h('a', { href: '#/board', class: 'compose-link' }, 'Lock board'), h('a', { href: '#/import', class: 'compose-link' }, 'Import contacts')] : []),
    h('ul', {}, ...items),
  );
}

// ---- routing ------------------------------------------------------------------------------------

async function route(): Promise<void> {
  clearError();
  const [, kind, a, b] = location.hash.split('/');
  const me = state.me!;
  if (state.open && !(kind === 'c' && a === state.open.conversation.id)) await leaveConversation();
  state.board?.stop();
  state.board = null;
  state.campaigns = null;
  document.body.classList.toggle('kiosk', kind === 'kiosk');
  try {
    if (kind === 'board' || kind === 'kiosk') return await showBoard(kind === 'kiosk');
    if (kind === 'import') {
      state.view = { kind: 'screen' };
      return renderImport(main);
    }
    if (kind === 'members' && a) {
      state.view = { kind: 'screen' };
      return await renderMembers(main, a);
    }
    if (kind === 'campaigns' && a) {
      state.view = { kind: 'screen' };
      const account = me.accounts.find((x) => (x.apiCode ?? 'personal') === a);
      if (!account) throw new ApiError('not_found', 'This is not one of your accounts');
      return await showCampaigns(() => renderCampaigns(main, account));
    }
    if (kind === 'campaign' && a) {
      state.view = { kind: 'screen' };
      return await showCampaigns(() => renderCampaign(main, a, me.accounts));
    }
    if (kind === 'c' && a) return await showConversation(a);
    if (kind === 'compose') return renderCompose();
    if (kind === 'new-group-account') {
      state.view = { kind: 'compose' };
      return renderWizard(main, (account) => {
        // The new account is one of mine if I am among its members: show it in the navigation.
        void addAccount(account.id)
          .then((mine) => (location.hash = mine ? `#/a/${mine.apiCode}/inbox` : '#/a/personal/inbox'))
          .catch(showError);
      });
    }
    const account = me.accounts.find((x) => (x.apiCode ?? 'personal') === a) ?? me.accounts[0]!;
    await showFolder(account, b === 'archived' ? 'archived' : 'inbox');
  } catch (e) {
    showError(e);
  }
}

async function showBoard(kiosk: boolean): Promise<void> {
  state.view = { kind: 'screen' };
  const board = await renderBoard(main, { live: () => state.live, accounts: () => state.me?.accounts ?? [], kiosk });
  // Routed elsewhere while it loaded: it is not on screen.
  if (/^#\/(board|kiosk)/.test(location.hash) && !state.board) state.board = board;
  else board.stop();
}

async function showCampaigns(render: () => Promise<CampaignScreen>): Promise<void> {
  const hash = location.hash;
  const missed: CampaignFrame[] = [];
  state.campaignFramesWhileLoading = missed;
  try {
    const screen = await render();
    // Routed elsewhere while it loaded: it is not on screen.
    if (location.hash !== hash) return;
    state.campaigns = screen;
    for (const frame of missed) screen.apply(frame);
  } finally {
    if (state.campaignFramesWhileLoading === missed) state.campaignFramesWhileLoading = null;
  }
}

async function showFolder(account: Account, folder: Folder): Promise<void> {
  state.view = { kind: 'folder', account, folder };
  const page = ok(await api.GET('/api/v1/accounts/{accountRef}/conversations', { params: { path: { accountRef: account.apiCode ?? 'personal' }, query: { folder } } }));
  const rows = page.items.map((c) =>
    h(
      'li',
      { class: c.unread > 0 ? 'unread' : '' },
      h('a', { href: `#/c/${c.id}` }, h('strong', {}, contactName(c)), h('span', { class: 'preview' }, c.lastMessagePreview ?? ''), c.lastMessageAt ? h('time', {}, time(c.lastMessageAt)) : null),
    ),
  );
  main.replaceChildren(
    h('h2', {}, `${account.name}: ${folder === 'inbox' ? 'Inbox' : 'Archived'}`),
    rows.length ? h('ul', { class: 'conversations', 'aria-label': 'Conversations' }, ...rows) : h('p', { class: 'empty' }, folder === 'inbox' ? 'Nothing waiting.' : 'Nothing archived.'),
  );
}

function contactName(c: Conversation): string {
  return c.contact ? `${c.contact.firstName} ${c.contact.lastName}`.trim() || c.contact.phone : 'Unknown contact';
}

// ---- a conversation, and its lock -----------------------------------------------------------------

const messageList = h('ol', { class: 'history', 'aria-label': 'Messages', 'aria-live': 'polite' });
const lockLine = h('p', { class: 'lock-line', role: 'status' });
/** Why this tab's lock went (idle, taken over…): kept until the person holds a lock again. */
const releaseNote = h('p', { class: 'release-note', role: 'status' });
const replyBox = h('textarea', { id: 'reply', name: 'reply', rows: '3', 'aria-label': 'Reply', maxlength: '1600' });
const replyButton = h('button', { type: 'submit' }, 'Send');
const takeOverButton = h('button', { type: 'button', class: 'take-over', hidden: true }, 'Take over');
const idleDialog = h('dialog', { class: 'idle', 'aria-labelledby': 'idle-title' });

async function showConversation(id: string): Promise<void> {
  const conversation = ok(await api.GET('/api/v1/conversations/{id}', { params: { path: { id } } }));
  const account = state.me!.accounts.find((a) => a.id === conversation.accountId);
  if (!account) throw new ApiError('not_found', 'This conversation is not in one of your accounts');
  const open: OpenConversation = { conversation, account, messages: new Map(), lock: null, lockToken: null, locked: account.kind === 'group' };
  state.open = open;
  state.view = { kind: 'conversation', conversation, account };
  const folderButton = h(
    'button',
    {
      type: 'button',
      onclick: () =>
        void (conversation.folder === 'inbox' ? api.POST('/api/v1/conversations/{id}/archive', { params: { path: { id } } }) : api.POST('/api/v1/conversations/{id}/unarchive', { params: { path: { id } } }))
          .then(ok)
          .then(() => (location.hash = `#/a/${account.apiCode ?? 'personal'}/${conversation.folder}`))
          .catch(showError),
    },
    conversation.folder === 'inbox' ? 'Archive' : 'Move to Inbox',
  );
  const form = h('form', { class: 'reply', 'aria-label': 'Reply' }, replyBox, h('div', { class: 'actions' }, replyButton, takeOverButton));
  form.onsubmit = (e) => {
    e.preventDefault();
    void sendReply(open);
  };
  main.replaceChildren(
    h('div', { class: 'conversation-head' }, h('h2', {}, contactName(conversation)), h('span', { class: 'muted' }, conversation.contact?.phone ?? ''), folderButton),
    messageList,
    lockLine,
    releaseNote,
    form,
  );
  replyBox.value = '';
  lockLine.textContent = '';
  releaseNote.textContent = '';
  takeOverButton.hidden = true;
  setReplyEnabled(account.kind === 'personal');
  await reloadMessages(open);
  await api.POST('/api/v1/conversations/{id}/read', { params: { path: { id } } }).catch(() => undefined);
  state.unread.get(account.id)?.set(id, 0);
  renderNav();
  if (open.locked) await takeLock(open).catch(showError);
}

async function reloadMessages(open: OpenConversation): Promise<void> {
  const list = ok(await api.GET('/api/v1/conversations/{id}/messages', { params: { path: { id: open.conversation.id } } }));
  open.messages = new Map(list.items.map((m) => [m.id, m]));
  renderHistory(open);
}

function renderHistory(open: OpenConversation): void {
  const items = [...open.messages.values()].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  messageList.replaceChildren(
    ...items.map((m) =>
      h(
        'li',
        { class: m.direction, 'data-status': m.status },
        h('p', { class: 'text' }, m.text),
        h('p', { class: 'meta' }, m.direction === 'outbound' ? `${m.sentBy?.name ?? 'Automatic reply'} · ` : '', h('time', {}, time(m.createdAt)), m.direction === 'outbound' ? ` · ${m.status}${m.errorCode ? ` (${m.errorCode})` : ''}` : ''),
      ),
    ),
  );
  messageList.lastElementChild?.scrollIntoView({ block: 'nearest' });
}

async function takeLock(open: OpenConversation): Promise<void> {
  const ack = await state.live!.request({ type: 'open', conversationId: open.conversation.id });
  if (state.open !== open || !('granted' in ack)) return;
  applyLock(open, ack.lock, ack.granted ? ack.lockToken : null);
}

function applyLock(open: OpenConversation, lock: Lock, token: number | null): void {
  const me = state.me!.user;
  open.lock = lock;
  const mine = lock.holder?.userId === me.id;
  if (mine && token !== null) {
    open.lockToken = token;
    releaseNote.textContent = '';
  }
  if (!mine) open.lockToken = null;
  const held = lock.state !== 'idle' && !mine;
  document.body.dataset['lock'] = lock.state === 'idle' ? 'free' : mine ? 'mine' : 'theirs';
  lockLine.textContent = held ? `${lock.holder?.name ?? 'Someone'} is responding` : mine ? 'You are responding' : 'Nobody is responding';
  lockLine.className = `lock-line ${held ? 'held' : mine ? 'mine' : 'free'}`;
  setReplyEnabled(!held);
  takeOverButton.hidden = !(held && (me.role === 'owner' || me.role === 'deptAdmin'));
  if (!held && !mine) open.locked = false;
}

function setReplyEnabled(enabled: boolean): void {
  replyBox.disabled = !enabled;
  replyButton.disabled = !enabled;
  replyBox.placeholder = enabled ? 'Write a reply' : 'Locked while someone else is responding';
}

async function leaveConversation(): Promise<void> {
  const open = state.open;
  state.open = null;
  delete document.body.dataset['lock'];
  if (idleDialog.open) idleDialog.close();
  if (open?.account.kind === 'group' && open.lockToken !== null) {
    await state.live?.request({ type: 'leave', conversationId: open.conversation.id }).catch(() => undefined);
  }
}

function onActivity(): void {
  const open = state.open;
  if (!open || open.account.kind !== 'group') return;
  if (open.lockToken === null) {
    // Clicking or typing into a free conversation takes its lock.
    if (open.lock?.state === 'idle' || open.lock === null) {
      open.locked = true;
      void takeLock(open).catch(showError);
    }
    return;
  }
  const now = Date.now();
  if (now - state.lastActivityAt < ACTIVITY_EVERY_MS) return;
  state.lastActivityAt = now;
  state.live?.notify({ type: 'activity', conversationId: open.conversation.id });
}
replyBox.addEventListener('input', onActivity);
replyBox.addEventListener('focus', onActivity);

takeOverButton.addEventListener('click', () => {
  const open = state.open;
  if (!open) return;
  void state
    .live!.request({ type: 'takeOver', conversationId: open.conversation.id })
    .then((ack) => {
      if ('lockToken' in ack && 'lock' in ack) {
        open.locked = true;
        applyLock(open, ack.lock, ack.lockToken);
      }
    })
    .catch(showError);
});

async function sendReply(open: OpenConversation): Promise<void> {
  clearError();
  const text = replyBox.value;
  if (!text.trim()) return;
  try {
    const ack = await state.live!.request({
      type: 'reply',
      conversationId: open.conversation.id,
      text,
      ...(open.lockToken !== null ? { lockToken: open.lockToken } : {}),
    });
    if ('message' in ack) {
      open.messages.set(ack.message.id, ack.message);
      renderHistory(open);
      replyBox.value = '';
    }
  } catch (e) {
    showError(e);
  }
}

function renderIdleWarning(open: OpenConversation, releaseAt: number): void {
  const seconds = Math.max(0, Math.round((releaseAt - Date.now()) / 1000));
  const yes = h('button', { type: 'button', autofocus: true }, "Yes, I'm still working");
  yes.onclick = () => {
    idleDialog.close();
    void state.live?.request({ type: 'stillWorking', conversationId: open.conversation.id }).catch(showError);
  };
  idleDialog.replaceChildren(
    h('h3', { id: 'idle-title' }, 'Are you still working?'),
    h('p', {}, `Without an answer the conversation is released for others in about ${seconds} seconds.`),
    yes,
  );
  if (!idleDialog.isConnected) document.body.append(idleDialog);
  if (!idleDialog.open) idleDialog.showModal();
}

// ---- live events ------------------------------------------------------------------------------------

function onEvent(frame: Event): void {
  const open = state.open;
  switch (frame.type) {
    case 'lock':
      if (open && frame.conversationId === open.conversation.id) applyLock(open, frame, frame.lockToken ?? null);
      return;
    case 'idleWarning':
      if (open && frame.conversationId === open.conversation.id) renderIdleWarning(open, frame.releaseAt);
      return;
    case 'released':
      if (open && frame.conversationId === open.conversation.id) {
        if (idleDialog.open) idleDialog.close();
        open.lockToken = null;
        const why: Record<typeof frame.reason, string> = {
          left: 'You left the conversation.',
          idle: 'The conversation was released because you were away.',
          disconnected: 'The conversation was released while you were disconnected.',
          takenOver: `${frame.by?.name ?? 'An admin'} took over this conversation.`,
          revoked: 'Your access to this account was removed.',
        };
        releaseNote.textContent = why[frame.reason];
      }
      return;
    case 'message':
      if (open && frame.conversationId === open.conversation.id) {
        open.messages.set(frame.message.id, frame.message);
        renderHistory(open);
      }
      if (state.simulator && frame.message.direction === 'outbound') void refreshPhone();
      return;
    case 'conversation': {
      const counts = state.unread.get(frame.accountId);
      if (counts) {
        const seen = open?.conversation.id === frame.conversationId;
        if (frame.folder === 'inbox' && !seen) counts.set(frame.conversationId, frame.unread);
        else counts.delete(frame.conversationId);
        renderNav();
      }
      const view = state.view;
      if (view?.kind === 'folder' && view.account.id === frame.accountId) void showFolder(view.account, view.folder).catch(showError);
      return;
    }
    case 'board':
      state.board?.apply(frame);
      return;
    case 'campaign':
      state.campaigns?.apply(frame);
      state.campaignFramesWhileLoading?.push(frame);
      return;
    case 'accessGranted':
      void addAccount(frame.account.id).catch(showError);
      return;
    case 'error':
      // Access to an account was removed: it leaves the navigation (and the screen, if open).
      if ('accountId' in frame) void reloadAccounts(frame.accountId, new FrameError(frame.code, frame.message)).catch(showError);
      else if ('departmentId' in frame) state.board?.revoked(frame.departmentId, frame.message);
      else showError(new FrameError(frame.code, frame.message));
      return;
  }
}

/**
 * An account given to me (accessGranted, or one I created): the navigation shows it, with its
 * unread count, and its events start. Already known (told twice): nothing to do.
 */
async function addAccount(accountId: string): Promise<Account | undefined> {
  if (state.me?.accounts.some((a) => a.id === accountId)) return state.me.accounts.find((a) => a.id === accountId);
  const me = ok(await api.GET('/api/v1/me'));
  state.me = me;
  const mine = me.accounts.find((a) => a.id === accountId);
  if (mine) {
    await loadUnread(mine);
    await state.live?.request({ type: 'subscribe', account: mine.apiCode ?? 'personal' });
  }
  renderNav();
  return mine;
}

async function reloadAccounts(lostAccountId: string, why: FrameError): Promise<void> {
  const me = ok(await api.GET('/api/v1/me'));
  state.me = me;
  state.unread.delete(lostAccountId);
  renderNav();
  const view = state.view;
  const onLost = (view?.kind === 'folder' || view?.kind === 'conversation') && view.account.id === lostAccountId;
  if (onLost) {
    if (state.open) state.open.lockToken = null; // the server released it (revoked)
    history.replaceState(null, '', '#/a/personal/inbox'); // no hashchange: routed here
    await route();
  }
  showError(why);
}

// ---- compose ------------------------------------------------------------------------------------

function renderCompose(): void {
  state.view = { kind: 'compose' };
  const me = state.me!;
  const from = h('select', { id: 'from', name: 'from' }, ...me.accounts.map((a) => h('option', { value: a.apiCode ?? '' }, a.kind === 'personal' ? `${a.name} (personal)` : a.name)));
  const to = h('input', { id: 'to', name: 'to', placeholder: '+16175550101, +16175550102', required: true });
  const text = h('textarea', { id: 'text', name: 'text', rows: '4', required: true, maxlength: '1600' });
  const measure = h('p', { class: 'measure', id: 'measure', 'aria-live': 'polite' });
  const mine = h('input', { id: 'my-students', type: 'checkbox' });
  // Empty: send now. A time: the server schedules it (a campaign of kind message, on the Campaigns page).
  const later = h('input', { id: 'send-later', type: 'datetime-local' });
  const asStaff = h('input', { id: 'as-staff', type: 'checkbox' });
  const personalOptions = h(
    'fieldset',
    { class: 'personal-options' },
    h('legend', {}, 'Personal account options'),
    h('label', {}, mine, ' Send to my students only'),
    me.user.role === 'staff' ? null : h('label', {}, asStaff, ' Send as staff member'),
  );
  const result = h('p', { role: 'status' });
  const syncOptions = () => (personalOptions.hidden = from.value !== '');
  from.onchange = syncOptions;
  syncOptions();
  measureAsTyped(text, measure, showError);
  const form = h(
    'form',
    { class: 'compose', 'aria-label': 'New text' },
    h('h2', {}, 'New text'),
    h('label', { for: 'from' }, 'From'),
    from,
    h('label', { for: 'to' }, 'To (phone numbers or contact ids, comma separated)'),
    to,
    h('label', { for: 'text' }, 'Text (merge fields: {FirstName}, {LastName}, custom fields)'),
    text,
    measure,
    personalOptions,
    h('label', { for: 'send-later' }, 'Send later (optional)'),
    later,
    h('button', { type: 'submit' }, 'Send'),
    result,
  );
  form.onsubmit = (e) => {
    e.preventDefault();
    clearError();
    const personal = from.value === '';
    void api
      .POST('/api/v1/messages', {
        body: {
          ...(personal ? {} : { groupAccountCode: from.value }),
          to: to.value.split(/[,\s]+/).filter(Boolean),
          text: text.value,
          ...(personal && mine.checked ? { sendToMyStudentsOnly: true } : {}),
          ...(personal && asStaff.checked ? { sendAsStaff: true } : {}),
          ...(later.value ? { scheduledAt: new Date(later.value).getTime() } : {}),
        },
      })
      .then(ok)
      .then((r) => {
        if ('kind' in r) {
          result.textContent = `Scheduled for ${new Date(r.scheduledAt ?? 0).toLocaleString()}; it is listed with the account's campaigns until it goes.`;
          return;
        }
        const skipped = r.skipped.optedOut + r.skipped.notYourStudent + r.skipped.unassigned;
        result.textContent = `Queued ${r.queued} text${r.queued === 1 ? '' : 's'}${skipped ? `; skipped ${r.skipped.optedOut} opted out, ${r.skipped.notYourStudent} not your students, ${r.skipped.unassigned} unassigned` : ''}.`;
      })
      .catch(showError);
  };
  main.replaceChildren(form);
}

// ---- simulator: a student's phone ------------------------------------------------------------------

const phoneNumber = h('input', { id: 'phone-from', value: '+16175550101', 'aria-label': "Student's phone number" });
const phoneInbox = h('ol', { class: 'phone-inbox', 'aria-label': "The student's phone" });

function renderSimulator(): void {
  const me = state.me!;
  const to = h('select', { id: 'phone-to', 'aria-label': 'Texts to' }, ...me.accounts.flatMap((a) => a.numbers.map((n) => h('option', { value: n }, `${a.name} ${n}`))));
  const body = h('input', { id: 'phone-text', 'aria-label': 'Student text', placeholder: 'Text as the student' });
  const form = h('form', { class: 'phone' }, h('h3', {}, 'Student phone (simulator)'), phoneNumber, to, body, h('button', { type: 'submit' }, 'Text in'), phoneInbox);
  form.onsubmit = (e) => {
    e.preventDefault();
    void fetch('/simulator/messages', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ from: phoneNumber.value, to: to.value, text: body.value }) })
      .then(async (res) => {
        if (!res.ok) {
          const err = (await res.json()) as { error: { code: string; message: string } };
          throw new ApiError(err.error.code, err.error.message);
        }
        body.value = '';
      })
      .catch(showError);
  };
  phoneNumber.onchange = () => void refreshPhone();
  side.replaceChildren(form);
  void refreshPhone();
}

async function refreshPhone(): Promise<void> {
  const res = await fetch(`/simulator/messages?number=${encodeURIComponent(phoneNumber.value)}`);
  if (!res.ok) return;
  const { messages } = (await res.json()) as { messages: Array<{ from: string; text: string; receivedAt: string }> };
  phoneInbox.replaceChildren(...messages.slice(-20).map((m) => h('li', {}, h('span', { class: 'muted' }, `${m.from}: `), m.text)));
}

if (session.token) void start();
else renderSignIn();
