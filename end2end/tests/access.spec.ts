import { test, expect, hydrated, signInAs } from './fixtures';

test('the session cookie is HttpOnly, SameSite=Lax, and replaced at every sign-in', async ({ page, context }) => {
  await signInAs(page, 'Alice Nakamura');
  const first = (await context.cookies()).find((c) => c.name === 'eod_session');
  expect(first).toBeDefined();
  expect(first!.httpOnly).toBe(true);
  expect(first!.sameSite).toBe('Lax');
  await signInAs(page, 'Bob Okafor');
  const second = (await context.cookies()).find((c) => c.name === 'eod_session');
  expect(second!.value).not.toBe(first!.value);
});

test('sign-out deletes the session on the server, so its cookie is worthless', async ({ page, context, browser }) => {
  await signInAs(page, 'Alice Nakamura');
  const cookie = (await context.cookies()).find((c) => c.name === 'eod_session')!;
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  // Replaying the old cookie from a fresh browser gets no session.
  const replay = await browser.newContext();
  await replay.addCookies([cookie]);
  const other = await replay.newPage();
  await other.goto(page.url().replace(/\/login$/, '/'));
  await expect(other).toHaveURL(/\/login$/);
  await replay.close();
});

test('API tokens: shown once, scoped, revocable', async ({ page, request, baseURL }) => {
  await signInAs(page, 'Alice Nakamura');
  await page.getByRole('link', { name: 'API tokens' }).click();
  await expect(page).toHaveURL(/\/settings\/tokens$/);
  await hydrated(page);
  const name = `ci-pipeline-${Date.now() % 1000000}`;
  await page.getByLabel('Name').fill(name);
  await page.getByRole('button', { name: 'Create token' }).click();
  const token = (await page.getByTestId('new-token').textContent())!.trim();
  expect(token).toMatch(/^eod_[a-z0-9]{12}_[a-z0-9]{40}$/);

  const ok = await request.get(`${baseURL}/api/v1/environments`, { headers: { Authorization: `Bearer ${token}` } });
  expect(ok.status()).toBe(200);
  const envs = (await ok.json()).items;
  expect(envs.length).toBeGreaterThan(0);
  expect(new Set(envs.map((e: { team: string }) => e.team))).toEqual(new Set(['payments']));

  // The list shows the token by its public id only.
  const row = page.getByTestId('token-row').filter({ hasText: name });
  await expect(row).toHaveAttribute('data-status', 'active');
  await expect(page.locator('table')).not.toContainText(token.split('_')[2]);

  // A token without the scope is refused with 403.
  await page.getByLabel('Name').fill('audit-only');
  await page.getByRole('checkbox', { name: /environments:read/ }).uncheck();
  await page.getByRole('checkbox', { name: /audit:read/ }).check();
  await page.getByRole('button', { name: 'Create token' }).click();
  await expect(page.getByTestId('new-token')).not.toHaveText(token);
  const auditOnly = (await page.getByTestId('new-token').textContent())!.trim();
  const wrongScope = await request.get(`${baseURL}/api/v1/environments`, { headers: { Authorization: `Bearer ${auditOnly}` } });
  expect(wrongScope.status()).toBe(403);

  // Revoked, unknown and malformed tokens are 401.
  await row.getByRole('button', { name: `Revoke ${name}` }).click();
  await expect(row).toHaveAttribute('data-status', 'revoked');
  const revoked = await request.get(`${baseURL}/api/v1/environments`, { headers: { Authorization: `Bearer ${token}` } });
  expect(revoked.status()).toBe(401);
  const unknown = token.replace(/^eod_[a-z0-9]{12}/, 'eod_zzzzzzzzzzzz');
  expect((await request.get(`${baseURL}/api/v1/environments`, { headers: { Authorization: `Bearer ${unknown}` } })).status()).toBe(401);
  expect((await request.get(`${baseURL}/api/v1/me`, { headers: { Authorization: 'Bearer nope' } })).status()).toBe(401);
  expect((await request.get(`${baseURL}/api/v1/me`)).status()).toBe(401);
});

test('cross-origin state changes are refused and change nothing', async ({ page, baseURL }) => {
  await signInAs(page, 'Alice Nakamura');
  const before = await page.request.post(`${baseURL}/api/fn/list_my_tokens`, { headers: { Origin: baseURL! } });
  expect(before.status()).toBe(200);
  const count = (await before.json()).tokens.length;
  const forged = await page.request.post(`${baseURL}/api/fn/create_token`, {
    headers: { Origin: 'https://evil.example', 'Content-Type': 'application/json' },
    data: { name: 'forged', scopes: ['environments:read'], expires_in_days: 30 },
  });
  expect(forged.status()).toBe(403);
  const after = await page.request.post(`${baseURL}/api/fn/list_my_tokens`, { headers: { Origin: baseURL! } });
  expect((await after.json()).tokens.length).toBe(count);
  // Sign-in forms are protected too.
  const forgedSignIn = await page.request.post(`${baseURL}/auth/demo`, {
    headers: { Origin: 'https://evil.example' },
    form: { login: 'erin' },
  });
  expect(forgedSignIn.status()).toBe(403);
});

test('the audit trail: admins see all, managers their teams, developers nothing', async ({ page, baseURL }) => {
  // Leave a denial in the trail first.
  await signInAs(page, 'Alice Nakamura');
  await page.request.post(`${baseURL}/api/fn/create_token`, {
    headers: { Origin: 'https://evil.example', 'Content-Type': 'application/json' },
    data: { name: 'x', scopes: ['environments:read'], expires_in_days: 1 },
  });
  await page.goto('/audit');
  await expect(page.getByRole('alert')).toContainText('not allowed');

  await signInAs(page, 'Erin Walsh');
  await page.getByRole('link', { name: 'Audit' }).click();
  await expect(page.getByRole('heading', { name: 'Audit trail' })).toBeVisible();
  await expect(page.locator('[data-testid=audit-row][data-action="auth.sign_in"]').first()).toBeVisible();
  await page.getByLabel('Outcome').selectOption('denied');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/outcome=denied/);
  const outcomes = await page.getByTestId('audit-row').evaluateAll((els) => els.map((e) => e.getAttribute('data-outcome')));
  expect(outcomes.length).toBeGreaterThan(0);
  expect(new Set(outcomes)).toEqual(new Set(['denied']));
  await expect(page.locator('[data-testid=audit-row][data-action="csrf.reject"]').first()).toBeVisible();
  const csv = await page.request.get(`${baseURL}/audit.csv?outcome=denied`);
  expect(csv.status()).toBe(200);
  expect(csv.headers()['content-type']).toContain('text/csv');
  const text = await csv.text();
  expect(text.split('\n')[0]).toBe('id,at_utc,actor,action,target,team_id,ip,outcome,detail');
  expect(text).toContain('csrf.reject');

  await signInAs(page, 'Dan Kowalski');
  await page.goto('/audit');
  await expect(page.getByText('Showing events of search')).toBeVisible();
  const teams = await page.getByTestId('audit-row').evaluateAll((els) => els.length);
  expect(teams).toBeGreaterThan(0);
});

test('server functions enforce roles: team administration is for platform admins only', async ({ page, baseURL }) => {
  const call = () => page.request.post(`${baseURL}/api/fn/list_teams_admin`, { headers: { Origin: baseURL! } });
  expect((await call()).status()).toBe(401);
  await signInAs(page, 'Alice Nakamura');
  expect((await call()).status()).toBe(403);
  await signInAs(page, 'Bob Okafor');
  expect((await call()).status()).toBe(403);
  await page.goto('/admin/teams');
  await expect(page.getByRole('alert')).toContainText('not allowed');
  await signInAs(page, 'Erin Walsh');
  expect((await call()).status()).toBe(200);
});

test('a platform admin creates a team and manages its members', async ({ page }) => {
  await signInAs(page, 'Erin Walsh');
  await page.getByRole('link', { name: 'Teams' }).click();
  await expect(page.getByRole('heading', { name: 'Teams', exact: true })).toBeVisible();
  await hydrated(page);
  const slug = `growth-${Date.now() % 100000}`;
  await page.getByLabel('Slug').fill(slug);
  await page.getByLabel('Team name').fill('Growth');
  await page.getByRole('button', { name: 'Create team' }).click();
  const card = page.locator(`[data-testid=team-card][data-team="${slug}"]`);
  await expect(card).toBeVisible();
  await card.getByLabel(`Login to add to ${slug}`).fill('carol');
  await card.getByLabel(`Role in ${slug}`).selectOption('manager');
  await card.getByRole('button', { name: `Add to ${slug}` }).click();
  await expect(card.locator('[data-testid=member][data-login=carol]')).toHaveAttribute('data-role', 'manager');
  // Bad input changes nothing and says why.
  await card.getByLabel(`Login to add to ${slug}`).fill('nobody-here');
  await card.getByRole('button', { name: `Add to ${slug}` }).click();
  await expect(page.getByRole('alert').first()).toContainText('no user with login');
  await card.getByRole('button', { name: `Remove carol from ${slug}` }).click();
  await expect(card.locator('[data-testid=member]')).toHaveCount(0);
  // Carol's new role showed up in her session: audit of the team is now hers to read.
  await page.goto('/audit?action=team.');
  await expect(page.locator('[data-testid=audit-row][data-action="team.member"]').first()).toBeVisible();
});
