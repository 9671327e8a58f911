import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildClient } from '../../gateways/web/build.js';
import { launchChromium, signedIn, wizardUpToNumbers } from '../helpers/browser.js';
import { startTestSwitchboard } from '../helpers/switchboard.js';
import { middayTimeZone } from '../helpers/time-zones.js';

// `npm run screenshots`: the main screens of the web client, taken in Chromium on the demo
// organisation, into docs/screenshots/ (shown in the README). Re-run after changing the client.

const OUT = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));
const PASSWORD = 'screenshots-demo';

mkdirSync(OUT, { recursive: true });
await buildClient();
// Campaigns are refused in quiet hours: the department's day is wherever it is midday now.
const t = await startTestSwitchboard({ DEMO_SEED: 'true', DEMO_PASSWORD: PASSWORD, LOCK_IDLE_WARNING_MS: '4000', DEFAULT_TIME_ZONE: middayTimeZone(Date.now()) });
const browser = await launchChromium();
try {
  const base = t.sb.url;
  const group = t.sb.demo!.groupAccountCode;
  const shot = async (page: import('playwright-core').Page, name: string) => {
    await page.screenshot({ path: `${OUT}${name}.png` });
    process.stdout.write(`wrote docs/screenshots/${name}.png\n`);
  };

  const first = await (await browser.newContext({ viewport: { width: 1280, height: 760 } })).newPage();
  await first.goto(`${base}/`);
  await first.getByLabel('Email').fill('dana@example.edu');
  await shot(first, 'sign-in');

  const dana = (await signedIn(browser, base, 'dana@example.edu', PASSWORD, { width: 1280, height: 760 })).page;
  const sam = (await signedIn(browser, base, 'sam@example.edu', PASSWORD, { width: 1280, height: 760 })).page;
  await dana.goto(`${base}/#/a/${group}/inbox`);
  for (const [from, text] of [
    ['+16175550101', 'Hi, is the deadline Friday?'],
    ['+16175550102', 'Do you take transfer credits?'],
  ] as const) {
    await dana.getByLabel("Student's phone number").fill(from);
    await dana.getByLabel('Texts to').selectOption(t.sb.demo!.poolNumbers[0]!);
    await dana.getByLabel('Student text').fill(text);
    await dana.getByRole('button', { name: 'Text in' }).click();
    await dana.getByRole('link', { name: new RegExp(text.replace('?', '\\?')) }).waitFor();
  }
  await shot(dana, 'inbox');

  await dana.getByRole('link', { name: /Ana Lopez/ }).click();
  await dana.getByText('You are responding').waitFor();
  await dana.getByRole('textbox', { name: 'Reply' }).fill('Yes, Friday at 5pm.');
  await dana.getByRole('button', { name: 'Send' }).click();
  await dana.locator('.history li[data-status="delivered"]').waitFor();
  await sam.goto(`${base}/#/a/${group}/inbox`);
  await sam.getByRole('link', { name: /Ana Lopez/ }).click();
  await sam.getByText('Dana Reyes is responding').waitFor();
  await shot(sam, 'conversation-locked');

  await dana.getByRole('dialog', { name: 'Are you still working?' }).waitFor({ timeout: 15_000 });
  await shot(dana, 'still-working');
  await dana.getByRole('button', { name: "Yes, I'm still working" }).click();

  await sam.getByRole('link', { name: 'New text' }).click();
  await sam.locator('#to').fill('+16175550101, +16175550102');
  await sam.locator('#text').fill('Hi {FirstName}, the open day is Saturday at 10am. Reply STOP to opt out.');
  await sam.locator('#measure', { hasText: 'segment' }).waitFor();
  await shot(sam, 'compose');

  // The lock board on a wall screen: Dana holds Ana's conversation, Sam takes Ben's and goes idle.
  await sam.goto(`${base}/#/a/${group}/inbox`);
  await sam.getByRole('link', { name: /Ben Okafor/ }).click();
  await sam.getByText('You are responding').waitFor();
  const alex = (await signedIn(browser, base, 'admin@example.edu', PASSWORD, { width: 1280, height: 760 })).page;
  await alex.goto(`${base}/#/kiosk`);
  await alex.locator('tr[data-state="idleWarning"]', { hasText: 'Ben Okafor' }).waitFor({ timeout: 15_000 });
  // Dana is still working: her row shows as responding.
  const stillWorking = dana.getByRole('button', { name: "Yes, I'm still working" });
  if (await stillWorking.isVisible()) await stillWorking.click();
  await alex.locator('tr[data-state="locked"]', { hasText: 'Ana Lopez' }).waitFor({ timeout: 15_000 });
  await shot(alex, 'lock-board');

  // Someone of the department to add.
  const owner = (await t.http.post('/api/v1/sessions', { email: 'admin@example.edu', password: PASSWORD })).body.token as string;
  const [department] = (await t.http.get('/api/v1/departments', owner)).body.items as Array<{ id: string }>;
  await t.http.post('/api/v1/users', { email: 'robin@example.edu', name: 'Robin Diaz', role: 'staff', departmentIds: [department!.id], password: PASSWORD, personalAreaCode: '617' }, owner);
  await alex.goto(`${base}/#/members/${group}`);
  await alex.getByRole('heading', { name: 'Members of Admissions Outreach' }).waitFor();
  await shot(alex, 'members');

  await alex.goto(`${base}/#/import`);
  const csv = ['FirstName,LastName,Phone,StaffId,Program', 'Maya,Chen,(617) 555-0190,,Nursing', 'Leo,Park,617-555-01,,Biology', 'Zoe,Hart,617-555-0191,nobody@example.edu,History'];
  await alex.getByLabel('CSV file').setInputFiles({ name: 'fall-intake.csv', mimeType: 'text/csv', buffer: Buffer.from(csv.join('\n')) });
  await alex.getByRole('button', { name: 'Import', exact: true }).click();
  await alex.getByRole('table', { name: 'Rejected rows' }).waitFor();
  await shot(alex, 'contact-import');

  // A campaign sent to eight phones, then the campaigns list with the form filled in.
  await dana.goto(`${base}/#/campaigns/${group}`);
  await dana.getByLabel('Name', { exact: true }).fill('Open day');
  await dana.getByLabel(/^Text \(merge/).fill('Hi {FirstName}, the open day is Saturday at 10am. Reply STOP to opt out.');
  await dana.getByLabel(/^Recipients \(/).fill(Array.from({ length: 8 }, (_, i) => `+1617555${3000 + i}`).join('\n'));
  await dana.getByRole('button', { name: 'Create campaign' }).click();
  await dana.locator('.campaign-state[data-state="completed"]').waitFor();
  await dana.getByRole('table', { name: 'Recipients' }).locator('tbody tr[data-status="delivered"]').nth(7).waitFor();
  await shot(dana, 'campaign');
  await dana.goto(`${base}/#/campaigns/${group}`);
  await dana.getByLabel('Name', { exact: true }).fill('Deadline reminder');
  await dana.getByLabel(/^Text \(merge/).fill('Hi {FirstName}, applications close Friday at 5pm.');
  await dana.getByLabel(/^Recipients \(/).fill('+16175550101\n(617) 555-0102');
  await dana.locator('.campaign-form .measure', { hasText: 'segment' }).waitFor();
  await shot(dana, 'campaigns');

  await wizardUpToNumbers(alex, 'Financial Aid Texting', 6);
  await shot(alex, 'group-account-wizard');

  const phone = (await signedIn(browser, base, 'dana@example.edu', PASSWORD, { width: 390, height: 800 })).page;
  await phone.goto(`${base}/#/a/${group}/inbox`);
  await phone.getByRole('link', { name: /Ana Lopez/ }).click();
  await phone.getByText('You are responding').waitFor();
  await shot(phone, 'phone-width');
} finally {
  await browser.close();
  await t.close();
}
