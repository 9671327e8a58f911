import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, signedIn, wizardUpToNumbers } from '../helpers/browser.js';
import { startTestSwitchboard, type TestSwitchboard } from '../helpers/switchboard.js';

// Three people in three browser contexts on the demo organisation: Dana and Sam (staff) and Alex
// (owner), all members of the Admissions Outreach group account. The lock's durations are short so
// the idle warning comes within the test; the browser runs in real time, so every step waits for
// the page to show a state (playwright's auto-waiting, with a deadline), never for a time.

const PASSWORD = 'e2e-demo-password';
const STUDENT = '+16175550101';
const WAIT = { timeout: 10_000 };

/**
 * Page script (a string: it runs in the browser, and this file is type-checked without the DOM)
 * that records `value` into window[name] each time `attribute` of `element` changes.
 */
function recordChanges(name: string, element: string, attribute: string, value: string): string {
  return `(() => {
    const seen = (window.${name} = []);
    new MutationObserver(() => seen.push(${value})).observe(${element}, { attributes: true, attributeFilter: ['${attribute}'] });
  })()`;
}

describe('the web client in a browser', () => {
  let t: TestSwitchboard;
  let browser: Browser;
  let dana: Page;
  let sam: Page;
  let alex: Page;

  beforeAll(async () => {
    t = await startTestSwitchboard({
      DEMO_SEED: 'true',
      DEMO_PASSWORD: PASSWORD,
      // Long enough for a loaded machine to finish a step before the warning, short enough to wait for.
      LOCK_IDLE_WARNING_MS: '3000',
      LOCK_RELEASE_AFTER_WARNING_MS: '3000',
      LOCK_DISCONNECT_GRACE_MS: '1000',
    });
    browser = await launchChromium();
    dana = (await signedIn(browser, t.sb.url, 'dana@example.edu', PASSWORD)).page;
    sam = (await signedIn(browser, t.sb.url, 'sam@example.edu', PASSWORD)).page;
    alex = (await signedIn(browser, t.sb.url, 'admin@example.edu', PASSWORD)).page;
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  const textBox = (page: Page) => page.getByRole('textbox', { name: 'Reply' });
  const lockLine = (page: Page) => page.locator('.lock-line');

  it('shows the personal account and the group account in its color in the navigation', async () => {
    const items = dana.locator('nav[aria-label="Accounts"] li');
    await expect.poll(() => items.count(), WAIT).toBe(2);
    expect(await items.nth(0).textContent()).toContain('Dana Reyes (personal)');
    expect(await items.nth(1).textContent()).toContain('Admissions Outreach');
    const color = await dana.evaluate<string>(`getComputedStyle(document.querySelector('[data-account="admissions-outreach"] .dot')).backgroundColor`);
    expect(color).toBe('rgb(47, 111, 222)');
  });

  it('shows a student text from the simulator panel live in the Inbox, with an unread count', async () => {
    await dana.goto(`${t.sb.url}/#/a/${t.sb.demo!.groupAccountCode}/inbox`);
    await sam.goto(`${t.sb.url}/#/a/${t.sb.demo!.groupAccountCode}/inbox`);
    await dana.getByText('Nothing waiting.').waitFor(WAIT);
    await dana.getByLabel("Student's phone number").fill(STUDENT);
    await dana.getByLabel('Texts to').selectOption(t.sb.demo!.poolNumbers[0]!);
    await dana.getByLabel('Student text').fill('Hi, is the deadline Friday?');
    await dana.getByRole('button', { name: 'Text in' }).click();
    // Both staff see it arrive without reloading.
    for (const page of [dana, sam]) {
      await page.getByRole('link', { name: /Ana Lopez.*Hi, is the deadline Friday\?/ }).waitFor(WAIT);
      await page.locator('[data-account="admissions-outreach"] .badge', { hasText: '1' }).waitFor(WAIT);
    }
  });

  it('locks the conversation for the first to click in; the other sees who is responding and a locked text box', async () => {
    await dana.getByRole('link', { name: /Ana Lopez/ }).click();
    await lockLine(dana).getByText('You are responding').waitFor(WAIT);
    await sam.getByRole('link', { name: /Ana Lopez/ }).click();
    await lockLine(sam).getByText('Dana Reyes is responding').waitFor(WAIT);
    expect(await textBox(sam).isDisabled()).toBe(true);
    expect(await textBox(dana).isDisabled()).toBe(false);
    // Sam is staff: no take-over button.
    expect(await sam.getByRole('button', { name: 'Take over' }).isHidden()).toBe(true);
  });

  it('asks the idle holder "Are you still working?"; answering keeps the lock', async () => {
    const dialog = dana.getByRole('dialog', { name: 'Are you still working?' });
    await dialog.waitFor(WAIT);
    await dialog.getByRole('button', { name: "Yes, I'm still working" }).click();
    await dialog.waitFor({ state: 'hidden', ...WAIT });
    expect(await lockLine(dana).textContent()).toBe('You are responding');
    expect(await textBox(sam).isDisabled()).toBe(true);
  });

  it('releases the lock when the warning goes unanswered, and the other text box unlocks live', async () => {
    await dana.getByRole('dialog', { name: 'Are you still working?' }).waitFor(WAIT);
    await dana.getByText('The conversation was released because you were away.').waitFor(WAIT);
    await expect.poll(() => textBox(sam).isDisabled(), WAIT).toBe(false);
    await lockLine(sam).getByText('Nobody is responding').waitFor(WAIT);
  });

  it('lets the next person click in, take the lock and reply; the reply shows the sender and its status', async () => {
    await textBox(sam).click();
    await lockLine(sam).getByText('You are responding').waitFor(WAIT);
    await lockLine(dana).getByText('Sam Kim is responding').waitFor(WAIT);
    expect(await textBox(dana).isDisabled()).toBe(true);
    await textBox(sam).fill('Yes, Friday at 5pm.');
    await sam.getByRole('button', { name: 'Send' }).click();
    for (const page of [sam, dana]) {
      await page.locator('.history li.outbound', { hasText: 'Yes, Friday at 5pm.' }).filter({ hasText: 'Sam Kim' }).waitFor(WAIT);
    }
    // The simulator delivers at once in tests: the status moves on live.
    await sam.locator('.history li.outbound[data-status="delivered"]').waitFor(WAIT);
    // And the student's phone in the simulator panel shows it.
    await dana.locator('.phone-inbox li', { hasText: 'Yes, Friday at 5pm.' }).waitFor(WAIT);
  });

  it('lets an admin take the lock over; the previous holder is told who took it', async () => {
    await alex.goto(`${t.sb.url}/#/a/${t.sb.demo!.groupAccountCode}/inbox`);
    await alex.getByRole('link', { name: /Ana Lopez/ }).click();
    await lockLine(alex).getByText('Sam Kim is responding').waitFor(WAIT);
    await alex.getByRole('button', { name: 'Take over' }).click();
    await lockLine(alex).getByText('You are responding').waitFor(WAIT);
    await sam.getByText('Alex Admin took over this conversation.').waitFor(WAIT);
    await expect.poll(() => textBox(sam).isDisabled(), WAIT).toBe(true);
  });

  it('releases the lock when the holder leaves the conversation', async () => {
    await alex.getByRole('link', { name: 'Inbox' }).nth(1).click();
    await expect.poll(() => textBox(sam).isDisabled(), WAIT).toBe(false);
    await expect.poll(() => textBox(dana).isDisabled(), WAIT).toBe(false);
  });

  it('refuses a reply to an opted-out student and says why', async () => {
    await dana.getByLabel('Student text').fill('STOP');
    await dana.getByRole('button', { name: 'Text in' }).click();
    await dana.locator('.history li.inbound', { hasText: 'STOP' }).waitFor(WAIT);
    await textBox(dana).click();
    await lockLine(dana).getByText('You are responding').waitFor(WAIT);
    await textBox(dana).fill('Are you sure?');
    await dana.getByRole('button', { name: 'Send' }).click();
    await dana.getByRole('alert').filter({ hasText: 'opted_out' }).waitFor(WAIT);
  });

  it('archives a conversation and moves it back', async () => {
    await dana.getByRole('button', { name: 'Archive' }).click();
    await dana.getByRole('heading', { name: 'Admissions Outreach: Inbox' }).waitFor(WAIT);
    await dana.getByText('Nothing waiting.').waitFor(WAIT);
    await dana.locator('[data-account="admissions-outreach"]').getByRole('link', { name: 'Archived' }).click();
    await dana.getByRole('link', { name: /Ana Lopez/ }).click();
    await dana.getByRole('button', { name: 'Move to Inbox' }).click();
    await dana.getByRole('heading', { name: 'Admissions Outreach: Archived' }).waitFor(WAIT);
    await dana.locator('[data-account="admissions-outreach"]').getByRole('link', { name: 'Inbox' }).click();
    await dana.getByRole('link', { name: /Ana Lopez/ }).waitFor(WAIT);
  });

  it('composes from a chosen account with the live measure; personal options only for the personal account', async () => {
    await alex.getByRole('link', { name: 'New text' }).click();
    await alex.getByLabel('From').selectOption({ label: 'Alex Admin (personal)' });
    await alex.getByLabel('Send to my students only').waitFor(WAIT);
    await alex.getByLabel('Send as staff member').waitFor(WAIT);
    await alex.getByLabel('From').selectOption({ label: 'Admissions Outreach' });
    await alex.getByLabel('Send to my students only').waitFor({ state: 'hidden', ...WAIT });
    await alex.locator('#text').fill('Hi {FirstName}, the fair is on Friday 🎉');
    await alex.locator('#measure', { hasText: 'UCS-2 · 1 segment' }).waitFor(WAIT);
    await alex.locator('#to').fill('+17815550103');
    await alex.getByRole('button', { name: 'Send' }).click();
    await alex.getByText('Queued 1 text.').waitFor(WAIT);
    // Staff have no "send as staff member".
    await sam.getByRole('link', { name: 'New text' }).click();
    await sam.getByLabel('Send to my students only').waitFor(WAIT);
    expect(await sam.getByLabel('Send as staff member').count()).toBe(0);
  });

  // A figure, not an assertion: from the server deciding a lock change (its core event) to the
  // other browser's text box locking or unlocking (a MutationObserver in the page). Same machine,
  // same clock. Another person takes and leaves the lock over a plain WebSocket.
  it('measures the time from a lock change on the server to the other browser’s text box', async () => {
    await dana.goto(`${t.sb.url}/#/a/${t.sb.demo!.groupAccountCode}/inbox`);
    const href = await dana.getByRole('link', { name: /Ana Lopez/ }).getAttribute('href');
    const conversationId = href!.split('/').at(-1)!;
    const session = (await (await fetch(`${t.sb.url}/api/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'admin@example.edu', password: PASSWORD }) })).json()) as { token: string };
    const socket = new WebSocket(`${t.sb.wsUrl}?token=${session.token}`);
    const acks = new Map<string, (f: unknown) => void>();
    socket.on('message', (d) => {
      const f = JSON.parse(d.toString()) as { type: string; re?: string };
      if (f.re) acks.get(f.re)?.(f);
    });
    await new Promise((resolve) => acks.set('hello', resolve));
    let seq = 0;
    const command = (type: 'open' | 'leave') =>
      new Promise((resolve) => {
        const id = String(++seq);
        acks.set(id, resolve);
        socket.send(JSON.stringify({ type, id, conversationId }));
      });

    // Alex holds the lock; Sam looks at the conversation, locked out.
    await command('open');
    await sam.goto(`${t.sb.url}/#/c/${conversationId}`);
    await lockLine(sam).getByText('Alex Admin is responding').waitFor(WAIT);

    const serverAt: number[] = [];
    // Each change once: the account's copy (the bus also carries the board's and the holder's).
    const { accountId } = (await (await fetch(`${t.sb.url}/api/v1/conversations/${conversationId}`, { headers: { authorization: `Bearer ${session.token}` } })).json()) as { accountId: string };
    const off = t.sb.core.events.watch({ kind: 'account', accountId }, (e) => {
      if (e.type === 'lock' && e.view.conversationId === conversationId) serverAt.push(Date.now());
    });
    await sam.evaluate(recordChanges('lockSeen', "document.getElementById('reply')", 'disabled', 'performance.timeOrigin + performance.now()'));
    const cycles = 30;
    for (let i = 0; i < cycles; i++) {
      await command('leave');
      await expect.poll(() => textBox(sam).isDisabled(), WAIT).toBe(false);
      await command('open');
      await expect.poll(() => textBox(sam).isDisabled(), WAIT).toBe(true);
    }
    off();
    const browserAt = await sam.evaluate<number[]>('window.lockSeen');
    await command('leave');
    socket.close();
    expect(serverAt).toHaveLength(cycles * 2);
    expect(browserAt).toHaveLength(cycles * 2);
    const delays = serverAt.map((at, i) => browserAt[i]! - at).sort((a, b) => a - b);
    const pick = (q: number) => delays[Math.min(delays.length - 1, Math.ceil(q * delays.length) - 1)]!.toFixed(1);
    console.log(`lock change → other browser's text box (${delays.length} changes): p50 ${pick(0.5)} ms, p95 ${pick(0.95)} ms, max ${pick(1)} ms`);
  });

  it('reconnects after a lost connection, says so, and subscribes again', async () => {
    await dana.goto(`${t.sb.url}/#/a/${t.sb.demo!.groupAccountCode}/inbox`);
    await dana.getByRole('link', { name: /Ana Lopez/ }).waitFor(WAIT);
    await dana.evaluate(recordChanges('connectionStates', 'document.body', 'data-connection', 'document.body.dataset.connection'));
    t.sb.ws.closeAll();
    await expect.poll(() => dana.evaluate<string>("window.connectionStates.join(',')"), WAIT).toMatch(/reconnecting.*open$/);
    await dana.getByLabel("Student's phone number").fill('+16175550102');
    await dana.getByLabel('Student text').fill('Do you take transfer credits?');
    await dana.getByRole('button', { name: 'Text in' }).click();
    await dana.getByRole('link', { name: /Ben Okafor.*transfer credits/ }).waitFor(WAIT);
  });

  it('never leaves a stuck lock when the holder closes the tab', async () => {
    await dana.getByRole('link', { name: /Ben Okafor/ }).click();
    await lockLine(dana).getByText('You are responding').waitFor(WAIT);
    await sam.goto(`${t.sb.url}/#/a/${t.sb.demo!.groupAccountCode}/inbox`);
    await sam.getByRole('link', { name: /Ben Okafor/ }).click();
    await lockLine(sam).getByText('Dana Reyes is responding').waitFor(WAIT);
    await dana.close();
    // After the disconnect grace (1 s here) the lock goes and Sam's text box unlocks.
    await expect.poll(() => textBox(sam).isDisabled(), WAIT).toBe(false);
    await lockLine(sam).getByText('Nobody is responding').waitFor(WAIT);
  });

  it('creates a group account with the wizard, showing a refusal next to its field', async () => {
    const boxes = await wizardUpToNumbers(alex, 'Financial Aid Texting', 5);
    await alex.getByRole('button', { name: 'Next' }).click();
    await alex.getByRole('button', { name: 'Next' }).click();
    await alex.getByRole('checkbox', { name: /Alex Admin/ }).check();
    await alex.getByRole('checkbox', { name: /Dana Reyes/ }).check();
    await alex.getByRole('button', { name: 'Next' }).click();
    await alex.getByRole('button', { name: 'Create group account' }).click();
    // Five numbers: the server refuses, and the wizard goes back to the numbers with its reason.
    await alex.locator('#numbers-error').filter({ hasText: /\S/ }).waitFor(WAIT);
    await boxes.nth(5).check();
    await alex.getByText('6 of 6 chosen').waitFor(WAIT);
    for (let i = 0; i < 3; i++) await alex.getByRole('button', { name: 'Next' }).click();
    await alex.getByRole('button', { name: 'Create group account' }).click();
    await alex.getByRole('heading', { name: 'Financial Aid Texting: Inbox' }).waitFor(WAIT);
    await alex.locator('nav li', { hasText: 'Financial Aid Texting' }).waitFor(WAIT);
  });

  it('drops a group account from the navigation and the screen the moment access to it is removed', async () => {
    const signIn = await fetch(`${t.sb.url}/api/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'admin@example.edu', password: PASSWORD }) });
    const { token, user } = (await signIn.json()) as { token: string; user: { id: string } };
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const users = (await (await fetch(`${t.sb.url}/api/v1/users`, { headers: auth })).json()) as { items: Array<{ id: string; email: string }> };
    const danaId = users.items.find((u) => u.email === 'dana@example.edu')!.id;
    const put = await fetch(`${t.sb.url}/api/v1/group-accounts/${t.sb.demo!.groupAccountCode}/members`, { method: 'PUT', headers: auth, body: JSON.stringify({ memberIds: [user.id, danaId] }) });
    expect(put.status).toBe(200);
    await expect.poll(() => sam.locator('nav[aria-label="Accounts"] li').count(), WAIT).toBe(1);
    await sam.getByRole('heading', { name: 'Sam Kim: Inbox' }).waitFor(WAIT);
    await sam.getByRole('alert').filter({ hasText: 'access_revoked' }).waitFor(WAIT);
  });
});
