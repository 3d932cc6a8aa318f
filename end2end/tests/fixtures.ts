import { test as base, expect, Page } from '@playwright/test';

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
