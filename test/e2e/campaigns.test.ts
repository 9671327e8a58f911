import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, signedIn } from '../helpers/browser.js';
import { startTestSwitchboard, type TestSwitchboard } from '../helpers/switchboard.js';
import { middayTimeZone } from '../helpers/time-zones.js';

// The campaigns page in Chromium on the demo organisation and the simulator: Dana creates
// campaigns from the group account while Sam, another member, watches them live. Each pool number
// sends its first text at once and then one per NUMBER_SEND_INTERVAL_MS (here over half an hour),
// so a campaign of five completes at once and one of twelve stays in progress for the whole test:
// nothing depends on how fast the machine is. The department's time zone is one where it is about
// midday, so quiet hours never interfere.

const PASSWORD = 'e2e-campaigns-password';
const WAIT = { timeout: 10_000 };
const INTERVAL_MS = 2_000_000;

/** Page script recording each `data-state` the campaign page shows into window.statesSeen. */
const RECORD_STATES = `(() => {
  const seen = (window.statesSeen = []);
  const el = document.querySelector('.campaign-state');
  seen.push(el.dataset.state);
  new MutationObserver(() => { if (seen.at(-1) !== el.dataset.state) seen.push(el.dataset.state); }).observe(el, { attributes: true, attributeFilter: ['data-state'] });
})()`;

describe('the campaigns page in a browser', () => {
  let t: TestSwitchboard;
  let browser: Browser;
  let dana: Page;
  let sam: Page;
  let group: string;

  beforeAll(async () => {
    t = await startTestSwitchboard({ DEMO_SEED: 'true', DEMO_PASSWORD: PASSWORD, NUMBER_SEND_INTERVAL_MS: String(INTERVAL_MS), DEFAULT_TIME_ZONE: middayTimeZone(Date.now()) });
    group = t.sb.demo!.groupAccountCode;
    browser = await launchChromium();
    dana = (await signedIn(browser, t.sb.url, 'dana@example.edu', PASSWORD)).page;
    sam = (await signedIn(browser, t.sb.url, 'sam@example.edu', PASSWORD)).page;
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  const form = (page: Page) => page.getByRole('form', { name: 'New campaign' });
  const phones = (n: number, from: number) => Array.from({ length: n }, (_, i) => `+1617555${String(from + i)}`).join('\n');
  const count = (page: Page, key: string) => page.locator(`dd[data-count="${key}"]`);

  it('shows each refusal next to its field, measures the text, and shows a small campaign reach completed live', async () => {
    await sam.goto(`${t.sb.url}/#/campaigns/${group}`);
    await sam.getByText('No campaigns yet.').waitFor(WAIT);
    await dana.locator('nav li', { hasText: 'Admissions Outreach' }).getByRole('link', { name: 'Campaigns' }).click();
    await form(dana).waitFor(WAIT);

    await dana.getByLabel('Name', { exact: true }).fill('Open day');
    await dana.getByLabel(/^Text \(merge/).fill('Hi {FirstNmae}, open day is Saturday!');
    await dana.getByRole('button', { name: 'Create campaign' }).click();
    await dana.locator('#campaign-recipients-error').getByText(/Give phones.*\(no_recipients\)/).waitFor(WAIT);

    await dana.getByLabel(/^Recipients \(/).fill(phones(5, 3000));
    await dana.getByRole('button', { name: 'Create campaign' }).click();
    await dana.locator('#campaign-text-error').getByText('no field {FirstNmae}').waitFor(WAIT);
    expect(await dana.locator('#campaign-recipients-error').textContent()).toBe('');

    await dana.getByLabel(/^Text \(merge/).fill('Hi {FirstName}, open day is Saturday!');
    await form(dana).locator('.measure').getByText(/GSM-7 · 1 segment/).waitFor(WAIT);
    await dana.getByRole('button', { name: 'Create campaign' }).click();

    // Dana lands on the campaign; Sam's list, never reloaded, shows it appear and finish.
    await dana.locator('.campaign-state[data-state="completed"]').waitFor(WAIT);
    await expect.poll(async () => Number(await count(dana, 'sent').textContent()) + Number(await count(dana, 'delivered').textContent()), WAIT).toBe(5);
    expect(await count(dana, 'queued').textContent()).toBe('0');
    // Each recipient's row follows its delivery report.
    await expect.poll(() => dana.getByRole('table', { name: 'Recipients' }).locator('tbody tr[data-status="delivered"]').count(), WAIT).toBe(5);

    // The text as one recipient gets it: a student on file by her phone, and a row of the list.
    await dana.getByLabel('Preview for phone').fill('(617) 555-0101');
    await dana.getByRole('button', { name: 'Preview', exact: true }).click();
    await dana.getByLabel('Preview', { exact: true }).getByText('Hi Ana, open day is Saturday!').waitFor(WAIT);
    await dana.getByText(/^For \+16175550101: 29 \/ 306 characters · GSM-7 · 1 segment/).waitFor(WAIT);
    await dana.getByRole('button', { name: 'Preview for +16175553000' }).click();
    await dana.getByText(/^For \+16175553000: /).waitFor(WAIT);
    expect(await dana.getByLabel('Preview', { exact: true }).textContent()).toBe('Hi , open day is Saturday!');
    await dana.getByLabel('Preview for phone').fill('call me');
    await dana.getByRole('button', { name: 'Preview', exact: true }).click();
    await dana.locator('#preview-error').getByText(/\(validation_failed\)/).waitFor(WAIT);

    const row = sam.getByRole('table', { name: 'Campaigns' }).locator('tr', { hasText: 'Open day' });
    await row.getByText('Completed').waitFor(WAIT);
    await row.getByText('5 of 5 sent').waitFor(WAIT);
  });

  it('pauses and resumes a paced campaign, seen live by another member, and filters its recipients by status', async () => {
    await dana.goto(`${t.sb.url}/#/campaigns/${group}`);
    await dana.getByLabel('Name', { exact: true }).fill('Deadline reminder');
    await dana.getByLabel(/^Text \(merge/).fill('The deadline is Friday.');
    await dana.getByLabel(/^Recipients \(/).fill(phones(12, 4000));
    await dana.getByRole('button', { name: 'Create campaign' }).click();
    await dana.locator('.campaign-state[data-state="sending"]').waitFor(WAIT);
    await expect.poll(async () => Number(await count(dana, 'total').textContent()), WAIT).toBe(12);

    // Sam opens it from his list, which shows it live; his page follows Dana's commands.
    await sam.getByRole('table', { name: 'Campaigns' }).getByRole('link', { name: 'Deadline reminder' }).click();
    await sam.locator('.campaign-state[data-state="sending"]').waitFor(WAIT);
    await sam.evaluate(RECORD_STATES);

    await dana.getByRole('button', { name: 'Pause' }).click();
    await dana.locator('.campaign-state[data-state="paused"]').getByText('Paused').waitFor(WAIT);
    await sam.locator('.campaign-state[data-state="paused"]').waitFor(WAIT);
    expect(await dana.getByRole('button', { name: 'Pause' }).isHidden()).toBe(true);
    const queued = Number(await count(dana, 'queued').textContent());
    expect(queued).toBeGreaterThan(0);

    await dana.getByRole('button', { name: 'Resume' }).click();
    await dana.locator('.campaign-state[data-state="sending"]').waitFor(WAIT);
    await sam.locator('.campaign-state[data-state="sending"]').waitFor(WAIT);
    expect(await sam.evaluate<string[]>('window.statesSeen')).toEqual(['sending', 'paused', 'sending']);
    await dana.getByText(/About \d+ (h \d+ )?min to go/).waitFor(WAIT);

    // Only the queued ones, then only those handed to the provider.
    const rows = dana.getByRole('table', { name: 'Recipients' }).locator('tbody tr');
    await expect.poll(() => rows.count(), WAIT).toBe(12);
    await dana.getByLabel('Show recipients').selectOption('queued');
    await expect.poll(() => rows.count(), WAIT).toBe(queued);
    expect(await dana.locator('tbody tr:not([data-status="queued"])').count()).toBe(0);

    await dana.getByRole('button', { name: 'Cancel' }).click();
    await sam.locator('.campaign-state[data-state="cancelled"]').waitFor(WAIT);
  });

  it('schedules a campaign and shows the estimate from the pacing in hours and minutes', async () => {
    await dana.goto(`${t.sb.url}/#/campaigns/${group}`);
    await dana.getByLabel('Name', { exact: true }).fill('Orientation');
    await dana.getByLabel(/^Text \(merge/).fill('Orientation starts Monday.');
    // Ten phones pasted, two more in a file: one new, one already pasted.
    await dana.getByLabel(/^Recipients \(/).fill(phones(10, 5000));
    await dana.getByLabel(/CSV file/).setInputFiles({ name: 'more.csv', mimeType: 'text/csv', buffer: Buffer.from('Name,Phone\nKim,617-555-5010\nLee,+16175555000\n') });
    await dana.getByLabel('Schedule for').check();
    // An hour from now, as the browser's own clock and time zone write it.
    const inAnHour = await dana.evaluate<string>(`(() => { const d = new Date(Date.now() + 3600000); d.setMinutes(d.getMinutes() - d.getTimezoneOffset()); return d.toISOString().slice(0, 16); })()`);
    await dana.getByLabel('Send at').fill(inAnHour);
    await dana.getByRole('button', { name: 'Create campaign' }).click();
    await dana.locator('.campaign-state[data-state="scheduled"]').getByText(/^Scheduled for/).waitFor(WAIT);
    // Eleven recipients over six numbers, one text per number every 2,000 s: 4,000 s.
    await dana.getByText('About 1 h 7 min to go').waitFor(WAIT);
    await expect.poll(async () => [await count(dana, 'total').textContent(), await count(dana, 'skippedDuplicate').textContent()], WAIT).toEqual(['11', '1']);
    await dana.getByRole('button', { name: 'Cancel' }).click();
    await dana.locator('.campaign-state[data-state="cancelled"]').waitFor(WAIT);
  });
});
