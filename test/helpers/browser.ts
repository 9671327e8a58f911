import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';

// Debian's Chromium driven by playwright-core (playwright's own browser download cannot reach its
// servers here). Fails clearly when the browser is missing.

export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

/** A fresh browser context (its own cookies and storage: another person), signed in. */
export async function signedIn(browser: Browser, baseUrl: string, email: string, password: string, viewport = { width: 1280, height: 800 }): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  await page.goto(baseUrl + '/');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('nav[aria-label="Accounts"] li').first().waitFor();
  return { context, page };
}

/** Opens the group-account wizard, names the account, searches area code 617 and ticks the first `pick` numbers found. */
export async function wizardUpToNumbers(page: Page, name: string, pick: number): Promise<Locator> {
  await page.getByRole('link', { name: 'New group account' }).click();
  await page.getByLabel('Name').fill(name);
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByLabel('Area code').fill('617');
  await page.getByRole('button', { name: 'Search' }).click();
  const boxes = page.getByRole('list', { name: 'Available numbers' }).getByRole('checkbox');
  await boxes.nth(pick).waitFor({ timeout: 10_000 });
  for (let i = 0; i < pick; i++) await boxes.nth(i).check();
  return boxes;
}
