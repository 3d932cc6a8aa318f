import { test, expect, hydrated, signInAs } from './fixtures';

test('signed-out visitors are sent to sign-in', async ({ page }) => {
  await page.goto('/');
  await expect(page).toHaveURL(/\/login$/);
  await hydrated(page);
  await expect(page.getByRole('heading', { name: 'Sign in to EoD Portal' })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Demo sign-in' })).toBeVisible();
});

test('a developer signs in and sees only their team’s environments', async ({ page }) => {
  await signInAs(page, 'Alice Nakamura');
  await expect(page.getByRole('heading', { name: 'Environments' })).toBeVisible();
  const rows = page.getByTestId('environment-row');
  await expect(rows.first()).toBeVisible();
  expect(await rows.count()).toBeGreaterThan(5);
  const teams = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-team')));
  expect(new Set(teams)).toEqual(new Set(['payments']));
  // Every column a developer needs is there.
  for (const column of ['Name', 'App', 'Tier', 'State', 'Owner', 'Age', 'TTL left', 'URL']) {
    await expect(page.getByRole('columnheader', { name: column, exact: true })).toBeVisible();
  }
  // Reachable environments link to their preview URL.
  await expect(page.locator('[data-testid=environment-row] a[href*=".localhost:3"]').first()).toBeVisible();
});

test('another team sees its own environments, not Payments’', async ({ page }) => {
  await signInAs(page, 'Carol Díaz');
  const teams = await page.getByTestId('environment-row').evaluateAll((els) => els.map((e) => e.getAttribute('data-team')));
  expect(teams.length).toBeGreaterThan(0);
  expect(new Set(teams)).toEqual(new Set(['search']));
});

test('the environments page is rendered on the server', async ({ page }) => {
  await signInAs(page, 'Bob Okafor');
  // Same cookies as the page: the raw HTML must already hold the rows.
  const res = await page.request.get('/');
  expect(res.status()).toBe(200);
  expect(res.headers()['cache-control']).toBe('no-cache');
  const html = await res.text();
  expect(html).toContain('data-testid="environment-row"');
  const asset = html.match(/\/pkg\/eod\.[A-Za-z0-9_-]+\.js/);
  expect(asset, 'hashed JS bundle referenced').not.toBeNull();
  const js = await page.request.get(asset![0]);
  expect(js.status()).toBe(200);
  expect(js.headers()['cache-control']).toBe('public, max-age=31536000, immutable');
});

test('signing out ends the session', async ({ page }) => {
  await signInAs(page, 'Alice Nakamura');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto('/');
  await expect(page).toHaveURL(/\/login$/);
});

test('health and readiness endpoints answer', async ({ request }) => {
  expect((await request.get('/healthz')).status()).toBe(200);
  const ready = await request.get('/readyz');
  expect(ready.status()).toBe(200);
  expect(await ready.text()).toBe('ready');
});
