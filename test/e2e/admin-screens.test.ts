import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, signedIn } from '../helpers/browser.js';
import { startTestSwitchboard, type TestSwitchboard } from '../helpers/switchboard.js';

// The admins' screens of the web client in Chromium, on the demo organisation: the operators' lock
// board (Alex, the owner, watches while Dana, staff, takes, keeps and leaves a lock; Sam, staff,
// is refused the board), managing an existing account's members, and the CSV contact import.
// The browser runs in real time: every step waits for the page to show a state, never for a time.

const PASSWORD = 'e2e-admin-password';
const WAIT = { timeout: 10_000 };

describe("the admins' screens in a browser", () => {
  let t: TestSwitchboard;
  let browser: Browser;
  let alex: Page;
  let dana: Page;
  let sam: Page;

  beforeAll(async () => {
    t = await startTestSwitchboard({
      DEMO_SEED: 'true',
      DEMO_PASSWORD: PASSWORD,
      // The idle warning comes within the test; answering it keeps the lock for another period.
      LOCK_IDLE_WARNING_MS: '3000',
      LOCK_RELEASE_AFTER_WARNING_MS: '20000',
    });
    browser = await launchChromium();
    alex = (await signedIn(browser, t.sb.url, 'admin@example.edu', PASSWORD)).page;
    dana = (await signedIn(browser, t.sb.url, 'dana@example.edu', PASSWORD)).page;
    sam = (await signedIn(browser, t.sb.url, 'sam@example.edu', PASSWORD)).page;
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  describe('the lock board', () => {
    it('shows who holds what live on the kiosk view: responding, idle warning with its release time, gone when left', async () => {
      await alex.goto(`${t.sb.url}/#/kiosk`);
      const board = alex.getByRole('table', { name: 'Admissions locks' });
      await alex.getByText('0 conversations held').waitFor(WAIT);
      // Kiosk: no navigation, nothing to click.
      expect(await alex.locator('nav').isHidden()).toBe(true);
      // Every state the board's rows go through, recorded in the page (it never reloads).
      await alex.evaluate(`(() => {
        const seen = (window.boardSeen = []);
        const body = document.querySelector('table[aria-label="Admissions locks"] tbody');
        new MutationObserver(() => {
          const rows = [...body.querySelectorAll('tr')].map((r) => r.dataset.state + ':' + r.querySelector('.holder').textContent).join(',');
          if (seen.at(-1) !== rows) seen.push(rows);
        }).observe(body, { childList: true, subtree: true });
      })()`);

      await dana.goto(`${t.sb.url}/#/a/${t.sb.demo!.groupAccountCode}/inbox`);
      await dana.getByLabel('Texts to').selectOption(t.sb.demo!.poolNumbers[0]!);
      await dana.getByLabel('Student text').fill('When do classes start?');
      await dana.getByRole('button', { name: 'Text in' }).click();
      await dana.getByRole('link', { name: /When do classes start\?/ }).click();
      await dana.locator('.lock-line').getByText('You are responding').waitFor(WAIT);

      // Dana's row: her name and the student; then her idle warning with the time it lets go.
      const row = board.locator('tr', { hasText: 'Dana Reyes' });
      await row.waitFor(WAIT);
      await row.getByText('Ana Lopez').waitFor(WAIT);
      await row.getByText(/Idle warning: released at \d/).waitFor(WAIT);
      await alex.getByText('1 conversation held, 1 in idle warning').waitFor(WAIT);
      await dana.getByRole('button', { name: "Yes, I'm still working" }).click();
      await row.getByText('Responding').waitFor(WAIT);

      await dana.getByRole('link', { name: 'Inbox' }).nth(1).click();
      await row.waitFor({ state: 'detached', ...WAIT });
      await alex.getByText('0 conversations held').waitFor(WAIT);
      const seen = await alex.evaluate<string[]>('window.boardSeen');
      expect(seen).toEqual(['locked:Dana Reyes', 'idleWarning:Dana Reyes', 'locked:Dana Reyes', '']);
    });

    it('keeps itself connected: after a lost connection it watches the board again', async () => {
      await alex.evaluate(`(() => {
        const seen = (window.connectionStates = []);
        new MutationObserver(() => seen.push(document.body.dataset.connection)).observe(document.body, { attributes: true, attributeFilter: ['data-connection'] });
      })()`);
      t.sb.ws.closeAll();
      await expect.poll(() => alex.evaluate<string>("window.connectionStates.join(',')"), WAIT).toMatch(/reconnecting.*open$/);
      // A lock taken after the reconnect reaches the board: the new socket watches it.
      await dana.getByRole('link', { name: /When do classes start\?/ }).click();
      await dana.locator('.lock-line').getByText('You are responding').waitFor(WAIT);
      await alex.getByRole('table', { name: 'Admissions locks' }).locator('tr', { hasText: 'Dana Reyes' }).waitFor(WAIT);
      await dana.getByRole('link', { name: 'Inbox' }).nth(1).click();
      await alex.getByText('0 conversations held').waitFor(WAIT);
    });

    it('is refused to staff, with the reason', async () => {
      expect(await sam.getByRole('link', { name: 'Lock board' }).count()).toBe(0);
      await sam.goto(`${t.sb.url}/#/board`);
      await sam.getByRole('alert').filter({ hasText: '(forbidden)' }).waitFor(WAIT);
      expect(await sam.getByRole('table', { name: 'Admissions locks' }).locator('tbody tr').count()).toBe(0);
    });
  });

  describe("managing an account's members", () => {
    /** A person of the demo department, created through the API by the owner. */
    async function staffMember(name: string, email: string, disabled = false): Promise<void> {
      const session = await t.http.post('/api/v1/sessions', { email: 'admin@example.edu', password: PASSWORD });
      const owner = session.body.token as string;
      const [department] = (await t.http.get('/api/v1/departments', owner)).body.items as Array<{ id: string }>;
      const created = await t.http.post('/api/v1/users', { email, name, role: 'staff', departmentIds: [department!.id], password: PASSWORD, personalAreaCode: '617' }, owner);
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      if (disabled) expect((await t.http.patch(`/api/v1/users/${created.body.id}`, { disabled: true }, owner)).status).toBe(200);
    }

    let robin: Page;
    const robinsAccounts = () => robin.locator('nav[aria-label="Accounts"] li');
    const current = () => alex.getByRole('list', { name: 'Current members' });

    it('adds a member, who sees the account appear in their open page without a reload', async () => {
      await staffMember('Robin Diaz', 'robin@example.edu');
      await staffMember('Casey Ward', 'casey@example.edu', true);
      robin = (await signedIn(browser, t.sb.url, 'robin@example.edu', PASSWORD)).page;
      expect(await robinsAccounts().count()).toBe(1);

      await alex.goto(`${t.sb.url}/#/a/personal/inbox`);
      await alex.locator('[data-account="admissions-outreach"]').getByRole('link', { name: 'Members' }).click();
      await alex.getByRole('heading', { name: 'Members of Admissions Outreach' }).waitFor(WAIT);
      for (const name of ['Alex Admin', 'Dana Reyes', 'Sam Kim']) await current().getByText(name).waitFor(WAIT);

      await alex.getByLabel('Add a member').selectOption({ label: 'Robin Diaz (robin@example.edu)' });
      await alex.getByRole('button', { name: 'Add', exact: true }).click();
      await current().getByText('Robin Diaz').waitFor(WAIT);
      await alex.getByText('Robin Diaz was added.').waitFor(WAIT);
      // Robin's open page gets the account without a reload.
      await expect.poll(() => robinsAccounts().count(), WAIT).toBe(2);
      await robin.locator('[data-account="admissions-outreach"]').getByRole('link', { name: 'Inbox' }).click();
      await robin.getByRole('heading', { name: 'Admissions Outreach: Inbox' }).waitFor(WAIT);
    });

    it("shows the server's refusal next to the field: a disabled person cannot be a member", async () => {
      await alex.getByLabel('Add a member').selectOption({ label: 'Casey Ward (casey@example.edu), disabled' });
      await alex.getByRole('button', { name: 'Add', exact: true }).click();
      await alex.locator('#add-member-error', { hasText: 'Casey Ward is disabled' }).waitFor(WAIT);
      expect(await current().getByText('Casey Ward').count()).toBe(0);
    });

    it('removes a member, whose open page loses the account at once', async () => {
      await alex.getByRole('button', { name: 'Remove Robin Diaz' }).click();
      await alex.getByText('Robin Diaz was removed.').waitFor(WAIT);
      await expect.poll(() => robinsAccounts().count(), WAIT).toBe(1);
      await robin.getByRole('alert').filter({ hasText: 'access_revoked' }).waitFor(WAIT);
    });
  });

  describe('importing contacts from CSV', () => {
    const upload = async (name: string, lines: string[]) => {
      await alex.getByLabel('CSV file').setInputFiles({ name, mimeType: 'text/csv', buffer: Buffer.from(lines.join('\n')) });
      await alex.getByRole('button', { name: 'Import', exact: true }).click();
    };
    const contactsNamed = async (name: string) => {
      const session = await t.http.post('/api/v1/sessions', { email: 'admin@example.edu', password: PASSWORD });
      return (await t.http.get(`/api/v1/contacts?search=${name}`, session.body.token)).body.items as unknown[];
    };

    it('lists the rejected rows of a refused file with their reasons, and imports nothing', async () => {
      await alex.goto(`${t.sb.url}/#/a/personal/inbox`);
      await alex.getByRole('link', { name: 'Import contacts' }).click();
      await upload('fall-intake.csv', [
        'FirstName,LastName,Phone,StaffId,Program',
        'Maya,Chen,(617) 555-0190,,Nursing',
        'Leo,Park,not a phone,,Biology',
        'Zoe,Hart,617-555-0191,nobody@example.edu,History',
        'Ian,Ross,617 555 0190,,Art',
      ]);
      await alex.getByText('3 row(s) need fixing; nothing was imported (validation_failed)').waitFor(WAIT);
      const rejected = alex.getByRole('table', { name: 'Rejected rows' }).locator('tbody tr');
      expect(await rejected.allTextContents()).toEqual([
        '3Phone"not a phone" is not a valid phone number',
        '4StaffIdno user "nobody@example.edu"',
        '5Phone+16175550190 is also on row 2',
      ]);
      expect(await contactsNamed('Maya')).toEqual([]);
    });

    it('imports the corrected file: new students created, one already on file (by phone) updated', async () => {
      await upload('fall-intake-fixed.csv', [
        'FirstName,LastName,Phone,StaffId,Program',
        'Maya,Chen,(617) 555-0190,,Nursing',
        'Leo,Park,617-555-0192,,Biology',
        'Ana,Lopez,+16175550101,dana@example.edu,Law',
      ]);
      await alex.getByText('Imported fall-intake-fixed.csv: 2 new, 1 updated.').waitFor(WAIT);
      expect(await alex.getByRole('table', { name: 'Rejected rows' }).count()).toBe(0);
      expect(await contactsNamed('Maya')).toMatchObject([{ firstName: 'Maya', phone: '+16175550190', customFields: { Program: 'Nursing' } }]);
    });
  });
});
