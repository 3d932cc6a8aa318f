import { test, expect, hydrated, otherUser, shot, signInAs } from './fixtures';

test('New preview → ready without reload → open → extend → destroy → rate, seen live by a teammate only', async ({ page, browser }, testInfo) => {
  test.setTimeout(90_000);
  await signInAs(page, 'Alice Nakamura');
  await expect(page.getByTestId('live')).toHaveAttribute('data-live', 'on');
  const bob = await otherUser(browser, testInfo, 'Bob Okafor');
  const carol = await otherUser(browser, testInfo, 'Carol Díaz');

  // The panel: a full preview (no warm pool) of a branch, with its TTL, fate and estimate shown.
  const branch = 'fix/timeout-retry'; // a branch of the demo app's repository
  await page.getByRole('button', { name: 'Options…' }).click();
  const panel = page.getByRole('form', { name: 'New preview options' });
  await expect(panel).toBeVisible();
  await panel.getByLabel('Branch').fill(branch);
  const full = panel.getByRole('radio', { name: /Full preview/ });
  await full.check();
  await expect(panel).toContainText('TTL 1d 0h');
  await expect(panel).toContainText('snapshot, then destroyed');
  await expect(panel).toContainText('≈ $');
  await shot(page, testInfo, '1-new-preview-panel');
  await panel.getByRole('button', { name: 'Create preview' }).click();

  const outcome = page.getByTestId('create-outcome');
  await expect(outcome).toContainText('is being created');
  const name = (await outcome.getByRole('link').textContent())!.trim();
  expect(name).toContain('fix-timeout-retry');

  // The row appears and turns active with no reload, here and for a teammate.
  const row = page.locator(`[data-testid=environment-row][data-env-name="${name}"]`);
  await expect(row.locator('[data-state]')).toHaveAttribute('data-state', 'active', { timeout: 20_000 });
  await expect(page.getByTestId('toast').filter({ hasText: `${name} is ready` })).toBeVisible();
  await shot(page, testInfo, '2-ready-without-reload');
  const bobRow = bob.page.locator(`[data-testid=environment-row][data-env-name="${name}"]`);
  await expect(bobRow.locator('[data-state]')).toHaveAttribute('data-state', 'active');
  await shot(bob.page, testInfo, '3-teammate-sees-it-live');
  // Another team's member does not see it, live or after a reload.
  await carol.page.reload();
  await hydrated(carol.page);
  await expect(carol.page.getByTestId('environment-row').first()).toBeVisible();
  await expect(carol.page.locator(`[data-env-name="${name}"]`)).toHaveCount(0);

  // Its URL serves the sample workload from the environment's own database.
  const href = (await row.locator('a[href*=".localhost:"]').getAttribute('href'))!;
  const preview = await page.context().newPage();
  await preview.goto(href);
  await expect(preview.getByTestId('env-name')).toHaveText(name);
  await expect(preview.getByTestId('row-count')).toHaveText('42');
  // The branch's own code: its page names the branch it was built from.
  await expect(preview.getByTestId('branch')).toHaveText(branch);
  await shot(preview, testInfo, '4-preview-url');
  await preview.close();

  // Detail: countdown, fate, cost, resources, timeline and process output.
  await row.getByRole('link', { name, exact: true }).click();
  await expect(page).toHaveURL(/\/environments\//);
  await expect(page.getByTestId('env-title')).toHaveText(name);
  await expect(page.getByTestId('expires-at')).toContainText('then snapshot, then destroyed');
  await expect(page.getByTestId('timeline')).toContainText('create by alice');
  await expect(page.getByTestId('log-tail')).toContainText('listening');
  await expect(page.getByRole('table', { name: 'Resources and their hourly rates' })).toContainText('database');

  // Extend moves the expiry by the chosen hours.
  const before = await page.getByTestId('expires-at').textContent();
  await page.getByTestId('extend').click();
  await expect(page.getByTestId('extend-outcome')).toContainText('New expiry');
  await expect(page.getByTestId('expires-at')).not.toHaveText(before!);
  await shot(page, testInfo, '5-extended');

  // Destroy asks first, then the page follows it to destroyed (snapshot kept).
  await page.getByTestId('destroy').click();
  await expect(page.getByRole('group', { name: 'Confirm destroy' })).toBeVisible();
  await page.getByTestId('confirm-destroy').click();
  await expect(page.locator('h1 [data-state]')).toHaveAttribute('data-state', 'destroyed', { timeout: 20_000 });
  await expect(page.getByText(`${name}.db`)).toBeVisible();
  // The teammate's list drops it, still without a reload.
  await expect(bobRow).toHaveCount(0);

  // One-click rating with an optional comment.
  await page.getByTestId('rate-4').click();
  await page.getByLabel('Comment (optional)').fill('fast and easy');
  await page.getByTestId('send-rating').click();
  await expect(page.getByTestId('rated')).toHaveText('Thanks — you rated it 4/5.');
  await shot(page, testInfo, '6-rated');

  expect(bob.errors).toEqual([]);
  expect(carol.errors).toEqual([]);
  await bob.close();
  await carol.close();
});

test('one click (even a double click) creates one preview, running at once from the warm pool', async ({ page }, testInfo) => {
  await signInAs(page, 'Alice Nakamura');
  await expect(page.getByTestId('live')).toHaveAttribute('data-live', 'on');
  const button = page.getByTestId('new-preview');
  const defaults = (await button.locator('xpath=../following-sibling::p').textContent())!;
  const app = defaults.split(' · ')[1];
  const mine = page.locator(`[data-testid=environment-row][data-env-name^="${app}-main-"]`);
  const before = await mine.count();
  await button.dblclick();
  await expect(page.getByTestId('create-outcome')).toContainText(/is ready \(from the warm pool\)|is being created/);
  await expect(mine).toHaveCount(before + 1);
  await page.waitForTimeout(1_500); // a second creation would have shown up by now
  await expect(mine).toHaveCount(before + 1);
  await shot(page, testInfo, 'one-click');
});

test('refusals are clear: another team’s app cannot be previewed', async ({ page }) => {
  await signInAs(page, 'Alice Nakamura');
  const res = await page.request.post('/api/fn/new_preview', {
    form: { app: 'search-ui' },
    headers: { origin: new URL(page.url()).origin },
  });
  expect(res.status()).toBe(422);
  expect(await res.text()).toContain('no app');
});

test('filters, search, sort and pages narrow the list and are shareable links', async ({ page }) => {
  await signInAs(page, 'Erin Walsh');
  await page.goto('/?state=destroyed');
  await hydrated(page);
  const summary = page.getByTestId('list-summary');
  await expect(summary).toContainText(/^1–50 of \d+/);
  const states = await page.locator('[data-testid=environment-row] [data-state]').evaluateAll((els) => els.map((e) => e.getAttribute('data-state')));
  expect(new Set(states)).toEqual(new Set(['destroyed']));
  const firstPage = await page.locator('[data-testid=environment-row]').evaluateAll((els) => els.map((e) => e.getAttribute('data-env-name')));
  await page.getByRole('link', { name: 'Next →' }).click();
  // Keyset pages: the link names the last row seen, not an offset.
  await expect(page).toHaveURL(/after=/);
  await expect(summary).toContainText(/^50 shown of \d+/);
  const secondPage = await page.locator('[data-testid=environment-row]').evaluateAll((els) => els.map((e) => e.getAttribute('data-env-name')));
  expect(secondPage.filter((n) => firstPage.includes(n))).toEqual([]);
  await page.getByRole('link', { name: '← Previous' }).click();
  await expect(summary).toContainText(/^1–50 of \d+/);

  const filters = page.getByRole('search', { name: 'Filter environments' });
  await filters.getByLabel('Team').selectOption('search');
  await filters.getByLabel('State').selectOption('');
  await filters.getByRole('searchbox', { name: 'Search' }).fill('pr-');
  await filters.getByRole('button', { name: 'Apply' }).click();
  await expect(page).toHaveURL(/team=search/);
  await expect(page).toHaveURL(/q=pr-/);
  const rows = page.getByTestId('environment-row');
  await expect(rows.first()).toBeVisible();
  const teams = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-team')));
  expect(new Set(teams)).toEqual(new Set(['search']));
  const names = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-env-name')));
  for (const n of names) expect(n).toContain('pr-');

  await page.goto('/?q=no-such-environment-anywhere');
  await expect(page.getByRole('heading', { name: 'Nothing matches these filters' })).toBeVisible();
});

test('a pull request has one preview: asking again opens the one it has', async ({ page }) => {
  await signInAs(page, 'Alice Nakamura');
  const panel = page.getByRole('form', { name: 'New preview options' });
  const outcome = page.getByTestId('create-outcome');
  const askForPr12 = async () => {
    await page.getByRole('button', { name: 'Options…' }).click();
    await panel.getByLabel('or pull request #').fill('12'); // a pull request of the demo apps' repositories
    await panel.getByRole('button', { name: 'Create preview' }).click();
  };
  await askForPr12();
  await expect(outcome.getByRole('link')).toContainText('-pr-12-');
  const first = (await outcome.getByRole('link').textContent())!.trim();
  await expect(panel).toBeHidden();
  // A click right after a create is taken for a double click: wait it out.
  await expect(page.getByTestId('new-preview')).toBeEnabled();
  await askForPr12();
  // The second answer replaces the first's words: wait for them.
  await expect(outcome).toContainText("is this pull request's preview already");
  await expect(outcome.getByRole('link')).toHaveText(first);
});
