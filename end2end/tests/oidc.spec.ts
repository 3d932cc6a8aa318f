import { test, expect, hydrated } from './fixtures';
import type { Page } from '@playwright/test';

/** From the portal's sign-in page through the IdP's login and consent. */
async function signInAtIdp(page: Page, provider: string, login: string, beforeSubmit?: () => Promise<void>) {
  // Cookies ignore ports: the IdP's single-sign-on session would skip its
  // login form, so every journey starts from a clean browser.
  await page.context().clearCookies();
  await page.goto('/login');
  await hydrated(page);
  await page.getByRole('link', { name: `Sign in with ${provider}`, exact: true }).click();
  await expect(page).toHaveURL(/127\.0\.0\.1:3190/);
  await page.locator('input[name=login]').fill(login);
  await page.locator('input[name=password]').fill('any password');
  if (beforeSubmit) await beforeSubmit();
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
}

async function expectNoSession(page: Page) {
  await page.goto('/');
  await expect(page).toHaveURL(/\/login$/);
}

test('a new user signs in through the OpenID provider and lands on their team’s environments', async ({ page }) => {
  await signInAtIdp(page, 'Test IdP', 'dana');
  await expect(page).toHaveURL(/:310\d\/$/);
  await hydrated(page);
  await expect(page.getByTestId('signed-in-user')).toHaveText('Dana Sso');
  // The IdP's group eng-payments maps to Payments developer.
  const teams = await page.getByTestId('environment-row').evaluateAll((els) => els.map((e) => e.getAttribute('data-team')));
  expect(teams.length).toBeGreaterThan(0);
  expect(new Set(teams)).toEqual(new Set(['payments']));
  // Signing in again is the same user (keyed by issuer + subject).
  await page.getByRole('button', { name: 'Sign out' }).click();
  await signInAtIdp(page, 'Test IdP', 'dana');
  await expect(page.getByTestId('signed-in-user')).toHaveText('Dana Sso');
});

/**
 * Runs the IdP side of a sign-in but stops before the browser reaches the
 * portal's callback, returning the callback URL (code and state) instead.
 * Playwright routes only the first request of a redirect chain, so the chain
 * after the consent form is followed by hand with the context's cookies.
 */
async function captureCallback(page: Page, provider = 'Test IdP', login = 'dana'): Promise<URL> {
  let captured: URL | undefined;
  await page.route('http://127.0.0.1:3190/interaction/**', async (route) => {
    if (route.request().method() !== 'POST' || !(route.request().postData() ?? '').includes('prompt=consent')) {
      return route.continue();
    }
    let res = await route.fetch({ maxRedirects: 0 });
    for (let hop = 0; hop < 5 && !captured; hop++) {
      const location = new URL(res.headers()['location'], route.request().url());
      if (location.pathname.endsWith('/callback')) captured = location;
      else res = await page.request.get(location.toString(), { maxRedirects: 0 });
    }
    await route.fulfill({ status: 200, contentType: 'text/plain', body: 'callback captured by the test' });
  });
  await signInAtIdp(page, provider, login);
  await expect.poll(() => captured !== undefined).toBe(true);
  await page.unrouteAll();
  return captured!;
}

test('a tampered state is refused with no session', async ({ page }) => {
  const callback = await captureCallback(page);
  callback.searchParams.set('state', 'tampered' + callback.searchParams.get('state'));
  await page.goto(callback.toString());
  await expect(page.getByRole('heading', { name: 'Sign-in failed' })).toBeVisible();
  await expect(page.locator('body')).toContainText('state mismatch');
  await expectNoSession(page);
});

test('a replayed authorization code is refused', async ({ page }) => {
  const first = await captureCallback(page);
  await page.goto(first.toString());
  await expect(page.getByTestId('signed-in-user')).toHaveText('Dana Sso');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  // Replaying the whole callback: the attempt was single-use.
  await page.goto(first.toString());
  await expect(page.locator('body')).toContainText('No sign-in is in progress');
  await expectNoSession(page);
  // Replaying the old code inside a fresh attempt: the provider refuses it.
  const second = await captureCallback(page);
  second.searchParams.set('code', first.searchParams.get('code')!);
  await page.goto(second.toString());
  await expect(page.locator('body')).toContainText('code exchange was refused');
  await expectNoSession(page);
});

test('a code delivered to another browser, without its PKCE verifier, is refused', async ({ page, browser, baseURL }) => {
  const callback = await captureCallback(page);
  const other = await browser.newContext({ baseURL });
  const thief = await other.newPage();
  await thief.goto(callback.toString());
  await expect(thief.getByRole('heading', { name: 'Sign-in failed' })).toBeVisible();
  await expectNoSession(thief);
  await other.close();
});

test('a provider whose issuer does not match is refused', async ({ page }) => {
  await page.goto('/login');
  await hydrated(page);
  await page.getByRole('link', { name: 'Sign in with Wrong issuer' }).click();
  await expect(page.getByRole('heading', { name: 'Sign-in failed' })).toBeVisible();
  await expect(page.locator('body')).toContainText('misconfigured');
  await expectNoSession(page);
});

test('an expired sign-in attempt is refused', async ({ page }) => {
  await signInAtIdp(page, 'Test IdP (short)', 'dana', () => page.waitForTimeout(2500));
  await expect(page.locator('body')).toContainText('expired');
  await expectNoSession(page);
});

test('every sign-in attempt is in the audit trail', async ({ page }) => {
  const forged = await captureCallback(page);
  forged.searchParams.set('state', 'forged');
  await page.goto(forged.toString());
  await expect(page.locator('body')).toContainText('state mismatch');
  await signInAtIdp(page, 'Test IdP', 'root');
  await expect(page.getByTestId('signed-in-user')).toHaveText('Root Admin');
  // root's group maps to platform admin, who reads the whole trail.
  await page.goto('/audit?action=auth.sign_in&outcome=failure');
  const rows = page.getByTestId('audit-row');
  await expect(rows.first()).toBeVisible();
  await expect(page.locator('body')).toContainText('state mismatch');
  await page.goto('/audit?action=auth.sign_in&outcome=success');
  await expect(page.locator('body')).toContainText('test-idp');
});

test('the provider rotates its signing key and the next sign-in works without a restart', async ({ page, request }) => {
  await signInAtIdp(page, 'Test IdP', 'dana');
  await expect(page.getByTestId('signed-in-user')).toHaveText('Dana Sso');
  const rotated = await request.post('http://127.0.0.1:3190/__rotate');
  expect(rotated.status()).toBe(204);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await signInAtIdp(page, 'Test IdP', 'dana');
  await expect(page).toHaveURL(/:310\d\/$/);
  await expect(page.getByTestId('signed-in-user')).toHaveText('Dana Sso');
});
