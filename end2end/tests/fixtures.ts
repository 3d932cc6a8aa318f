import { test as base, expect, Browser, Page, TestInfo } from '@playwright/test';

// Every test fails on any uncaught error in the page (hydration bugs show up
// as `pageerror` events in the release build).
export const test = base.extend<{ pageErrors: Error[] }>({
  pageErrors: [
    async ({ page }, use) => {
      const errors: Error[] = [];
      page.on('pageerror', (err) => errors.push(err));
      await use(errors);
      expect(errors, 'uncaught errors in the page').toEqual([]);
    },
    { auto: true },
  ],
});
export { expect };

/** Waits until the page is hydrated, so clicks reach the app. */
export async function hydrated(page: Page) {
  await page.locator('html[data-hydrated="true"]').waitFor({ state: 'attached' });
}

/** Signs in through the demo sign-in as the given display name. */
export async function signInAs(page: Page, displayName: string) {
  await page.goto('/login');
  await hydrated(page);
  await page.getByRole('button', { name: `Sign in as ${displayName}` }).click();
  await expect(page).toHaveURL(/\/$/);
  await hydrated(page);
  await expect(page.getByTestId('signed-in-user')).toHaveText(displayName);
}

/** A second signed-in browser (its own cookies) that also fails on page errors. */
export async function otherUser(browser: Browser, testInfo: TestInfo, displayName: string) {
  const context = await browser.newContext({ baseURL: testInfo.project.use.baseURL });
  const page = await context.newPage();
  const errors: Error[] = [];
  page.on('pageerror', (err) => errors.push(err));
  await signInAs(page, displayName);
  await expect(page.getByTestId('live')).toHaveAttribute('data-live', 'on');
  return { page, errors, close: () => context.close() };
}

/** A full-page screenshot kept with the test's results. */
export async function shot(page: Page, testInfo: TestInfo, name: string) {
  await page.screenshot({ path: testInfo.outputPath(`${name}.png`), fullPage: true });
}

/** Makes a compliance preview (the signed-in user's) and waits on its page until it runs. */
export async function compliancePreview(page: Page): Promise<string> {
  await page.goto('/');
  await hydrated(page);
  await page.getByRole('button', { name: 'Options…' }).click();
  const panel = page.getByRole('form', { name: 'New preview options' });
  await panel.getByRole('radio', { name: /Compliance preview/ }).check();
  await expect(panel).toContainText('held for platform approval');
  await panel.getByRole('button', { name: 'Create preview' }).click();
  const outcome = page.getByTestId('create-outcome');
  await expect(outcome).toContainText('is being created');
  const name = (await outcome.getByRole('link').textContent())!.trim();
  await outcome.getByRole('link').click();
  await expect(page.getByTestId('env-title')).toHaveText(name);
  await expect(page.locator('h1 [data-state]')).toHaveAttribute('data-state', 'active', { timeout: 30_000 });
  await hydrated(page);
  return name;
}

/** Makes a lightweight preview of `branch` (the signed-in user's) and waits on its page until it runs; its name. */
export async function branchPreview(page: Page, branch: string): Promise<string> {
  await page.getByRole('button', { name: 'Options…' }).click();
  const panel = page.getByRole('form', { name: 'New preview options' });
  await panel.getByLabel('Branch').fill(branch);
  await panel.getByRole('button', { name: 'Create preview' }).click();
  const outcome = page.getByTestId('create-outcome');
  await expect(outcome).toContainText(/is being created|is ready/);
  const name = (await outcome.getByRole('link').textContent())!.trim();
  await outcome.getByRole('link').click();
  await expect(page.getByTestId('env-title')).toHaveText(name);
  await expect(page.locator('h1 [data-state]')).toHaveAttribute('data-state', 'active', { timeout: 30_000 });
  await hydrated(page);
  return name;
}
