import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, signedIn } from '../helpers/browser.js';
import { startTestSwitchboard, type TestSwitchboard } from '../helpers/switchboard.js';
import { middayTimeZone } from '../helpers/time-zones.js';

// The compose's "Send later" and the campaign form's tags filter in Chromium, on the demo
// organisation and the simulator, with pacing lifted so that a campaign completes as soon as its
// texts are handed over. The department's time zone is one where it is about midday, so quiet
// hours never interfere.

const PASSWORD = 'e2e-scheduling-password';
const WAIT = { timeout: 10_000 };

describe('scheduling and tags in a browser', () => {
  let t: TestSwitchboard;
  let browser: Browser;
  let dana: Page;
  let group: string;
  let adminToken: string;

  beforeAll(async () => {
    t = await startTestSwitchboard({ DEMO_SEED: 'true', DEMO_PASSWORD: PASSWORD, NUMBER_SEND_INTERVAL_MS: '0', DEFAULT_TIME_ZONE: middayTimeZone(Date.now()) });
    group = t.sb.demo!.groupAccountCode;
    adminToken = (await t.http.post('/api/v1/sessions', { email: 'admin@example.edu', password: PASSWORD })).body.token as string;
    browser = await launchChromium();
    dana = (await signedIn(browser, t.sb.url, 'dana@example.edu', PASSWORD)).page;
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  /** The texts the simulator handed to this phone (it writes numbers without '+'). */
  const received = (phone: string) =>
    t.sb.simulator!
      .listMessages({ direction: 'outbound', limit: 1000, offset: 0 })
      .rows.filter((m) => `+${m.to_number.replace(/^\+/, '')}` === phone)
      .map((m) => m.text);

  /** A datetime-local value an hour from now, as the browser's own clock and time zone write it. */
  const inAnHour = () => dana.evaluate<string>(`(() => { const d = new Date(Date.now() + 3600000); d.setMinutes(d.getMinutes() - d.getTimezoneOffset()); return d.toISOString().slice(0, 16); })()`);

  it('schedules a text with "Send later", lists it as a scheduled message, and cancels it before it goes', async () => {
    const phone = '+16175556001';
    await dana.getByRole('link', { name: 'New text' }).click();
    const compose = dana.getByRole('form', { name: 'New text' });
    await compose.waitFor(WAIT);
    await dana.getByLabel('From').selectOption(group);
    await dana.getByLabel(/^To \(/).fill(phone);
    await dana.getByLabel(/^Text \(merge/).fill('See you at the open day');
    await dana.getByLabel('Send later (optional)').fill(await inAnHour());
    await compose.getByRole('button', { name: 'Send' }).click();
    await compose.getByRole('status').getByText(/^Scheduled for .*listed with the account's campaigns/).waitFor(WAIT);

    // Listed with the account's campaigns, marked as a single message, scheduled.
    await dana.goto(`${t.sb.url}/#/campaigns/${group}`);
    const row = dana.getByRole('table', { name: 'Campaigns' }).locator('tr[data-kind="message"]', { hasText: 'Scheduled message: See you at the open day' });
    await row.getByText(/^Scheduled for /).waitFor(WAIT);
    await row.getByRole('link').click();
    await dana.locator('.campaign-state[data-state="scheduled"]').getByText(/^Scheduled for /).waitFor(WAIT);
    await expect.poll(async () => dana.locator('dd[data-count="total"]').textContent(), WAIT).toBe('1');

    await dana.getByRole('button', { name: 'Cancel' }).click();
    await dana.locator('.campaign-state[data-state="cancelled"]').waitFor(WAIT);
    const id = dana.url().split('/').at(-1)!;
    const stored = await t.http.get(`/api/v1/campaigns/${id}`, adminToken);
    expect(stored.body).toMatchObject({ kind: 'message', state: 'cancelled', counts: { total: 1, sent: 0, delivered: 0 } });
    expect(received(phone)).toEqual([]);
  });

  it('sends a campaign over a tag to exactly the contacts carrying it', async () => {
    const contact = async (firstName: string, phone: string, tags: string[]) => {
      const r = await t.http.post('/api/v1/contacts', { firstName, phone, tags }, adminToken);
      expect(r.status, JSON.stringify(r.body)).toBe(201);
    };
    await contact('Tess', '+16175557001', ['fair-2026']);
    await contact('Uma', '+16175557002', ['fair-2026', 'transfer']);
    await contact('Vic', '+16175557003', ['transfer']);
    await contact('Wes', '+16175557004', []);

    await dana.goto(`${t.sb.url}/#/campaigns/${group}`);
    await dana.getByRole('form', { name: 'New campaign' }).waitFor(WAIT);
    await dana.getByLabel('Name', { exact: true }).fill('Fair invitation');
    await dana.getByLabel(/^Text \(merge/).fill('Hi {FirstName}, come to the fair!');
    // Tags compare in any case.
    await dana.getByLabel(/contacts with all of these tags/).fill('Fair-2026');
    await dana.getByRole('button', { name: 'Create campaign' }).click();

    await dana.locator('.campaign-state[data-state="completed"]').waitFor(WAIT);
    expect(await dana.locator('dd[data-count="total"]').textContent()).toBe('2');
    const rows = dana.getByRole('table', { name: 'Recipients' }).locator('tbody tr');
    await expect.poll(() => rows.count(), WAIT).toBe(2);
    expect((await rows.allTextContents()).map((r) => r.match(/\+1\d{10}/)?.[0]).sort()).toEqual(['+16175557001', '+16175557002']);

    const invited = (phone: string) => received(phone).filter((text) => text.includes('come to the fair'));
    await expect.poll(() => [invited('+16175557001'), invited('+16175557002')], WAIT).toEqual([['Hi Tess, come to the fair!'], ['Hi Uma, come to the fair!']]);
    expect([...invited('+16175557003'), ...invited('+16175557004')]).toEqual([]);
    for (const phone of t.sb.demo!.studentPhones) expect(invited(phone)).toEqual([]);
  });

  it("keeps a scheduled campaign's time in the list while its progress comes in live", async () => {
    await dana.goto(`${t.sb.url}/#/campaigns/${group}`);
    await dana.getByRole('table', { name: 'Campaigns' }).waitFor(WAIT);
    // Enough recipients for several expansion batches, each announced live after the list shows the row.
    const phones = Array.from({ length: 3_000 }, (_, i) => `+1617${8_000_000 + i}`);
    const created = await t.http.post(
      '/api/v1/campaigns',
      { groupAccountCode: group, name: 'Orientation reminder', text: 'Orientation is tomorrow', recipients: { phones }, scheduledAt: Date.now() + 3600_000 },
      adminToken,
    );
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const row = dana.locator(`tr[data-campaign="${created.body.id as string}"]`);
    await row.getByText('0 of 3000 sent').waitFor(WAIT);
    expect(await row.locator('td.state').textContent()).toMatch(/^Scheduled for /);
  });
});
