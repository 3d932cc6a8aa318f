import { Page } from '@playwright/test';
import { test, expect, compliancePreview, hydrated, otherUser, shot, signInAs } from './fixtures';

/** The pending card of `name` in a queue page, once it has arrived. */
function card(page: Page, name: string, kind: string) {
  return page.locator(`[data-testid=pending-request][data-env="${name}"][data-kind="${kind}"]`);
}

test('the platform journey: extension asked, approved live, denied with a reason, never self-approved; a destroy waits for approval', async ({ page, browser }, testInfo) => {
  test.setTimeout(120_000);
  await signInAs(page, 'Alice Nakamura');
  const name = await compliancePreview(page);
  const erin = await otherUser(browser, testInfo, 'Erin Walsh');
  await erin.page.getByRole('link', { name: 'Approvals', exact: true }).click();
  await expect(erin.page).toHaveURL(/\/approvals$/);
  await hydrated(erin.page);
  await expect(erin.page.getByRole('heading', { name: 'Approval queue' })).toBeVisible();

  // Alice asks; the request arrives in Erin's open queue without a reload.
  await expect(page.getByTestId('extend')).toHaveText('Request extension');
  const before = (await page.getByTestId('expires-at').textContent())!;
  await page.getByTestId('extend').click();
  await expect(page.getByTestId('extend-outcome')).toContainText('Request sent');
  await expect(page.locator('[data-testid=approval][data-state=pending][data-kind=extend]')).toBeVisible();
  const extension = card(erin.page, name, 'extend');
  await expect(extension).toBeVisible();
  await expect(extension.getByTestId('requester')).toHaveText('alice');
  await expect(extension.getByTestId('sla-left')).toContainText('left');
  await expect(extension.getByTestId('cost-waiting')).toContainText('/h');
  await shot(erin.page, testInfo, '1-queue-live');

  // Erin approves; Alice's page shows the new expiry, live.
  await extension.getByTestId('approve').click();
  await expect(erin.page.getByTestId('decision-outcome')).toContainText('approved');
  await expect(extension).toHaveCount(0);
  await expect(page.getByTestId('expires-at')).not.toHaveText(before);
  await expect(page.locator('[data-testid=approval][data-state=approved]')).toBeVisible();
  await shot(page, testInfo, '2-extended-after-approval');

  // Asked again: a deny needs a reason, and Alice reads it.
  const approvedExpiry = (await page.getByTestId('expires-at').textContent())!;
  await page.getByTestId('extend').click();
  await expect(page.locator('[data-testid=approval][data-state=pending]')).toBeVisible();
  await expect(extension).toBeVisible();
  await extension.getByTestId('deny').click();
  await expect(erin.page.getByTestId('decision-outcome')).toContainText('say why');
  await extension.getByTestId('deny-reason').fill('the audit window closed');
  await extension.getByTestId('deny').click();
  await expect(erin.page.getByTestId('decision-outcome')).toContainText('denied');
  await expect(page.getByTestId('decision-reason').first()).toContainText('the audit window closed');
  await expect(page.getByTestId('expires-at')).toHaveText(approvedExpiry);

  // Erin asks herself: her queue offers her no Approve, the API refuses her, Grace decides.
  await erin.page.goto(`/environments/${page.url().split('/').pop()}`);
  await hydrated(erin.page);
  await erin.page.getByTestId('extend').click();
  await expect(erin.page.getByTestId('extend-outcome')).toContainText('Request sent');
  await erin.page.goto('/approvals');
  await hydrated(erin.page);
  const own = card(erin.page, name, 'extend');
  await expect(own.getByTestId('own-request')).toBeVisible();
  await expect(own.getByTestId('approve')).toHaveCount(0);
  const id = (await own.getAttribute('data-id'))!;
  const refused = await erin.page.request.post(`/api/v1/approvals/${id}/approve`, {
    headers: { Origin: new URL(erin.page.url()).origin },
  });
  expect(refused.status()).toBe(403);
  expect((await refused.json()).error.message).toContain('another approver');
  const grace = await otherUser(browser, testInfo, 'Grace Lin');
  await grace.page.goto('/approvals');
  await hydrated(grace.page);
  await card(grace.page, name, 'extend').getByTestId('approve').click();
  await expect(grace.page.getByTestId('decision-outcome')).toContainText('approved');
  await expect(own).toHaveCount(0);

  // The owner's destroy waits in the queue (said before the click), and is gone once approved.
  await expect(page.getByTestId('destroy-rule')).toContainText('approved request');
  await page.getByTestId('destroy').click();
  await page.getByTestId('confirm-destroy').click();
  await expect(page.getByTestId('destroy-outcome')).toContainText('waits for a platform admin');
  await expect(page.locator('h1 [data-state]')).toHaveAttribute('data-state', 'active');
  const destroy = card(erin.page, name, 'destroy');
  await expect(destroy).toBeVisible();
  await destroy.getByTestId('approve').click();
  await expect(page.locator('h1 [data-state]')).toHaveAttribute('data-state', 'destroyed', { timeout: 30_000 });
  await expect(page.getByText(`${name}.db`)).toBeVisible(); // snapshot first
  await shot(page, testInfo, '3-destroyed-after-approval');

  // The history keeps every decision, filtered.
  await erin.page.goto('/approvals?state=denied');
  await hydrated(erin.page);
  await expect(erin.page.locator('[data-testid=history-row][data-state=denied]').filter({ hasText: name })).toBeVisible();
  await expect(erin.page.locator('[data-testid=history-row][data-state=approved]')).toHaveCount(0);

  expect(erin.errors).toEqual([]);
  expect(grace.errors).toEqual([]);
  await erin.close();
  await grace.close();
});

test('a developer cannot destroy staging, and the page says who can', async ({ page }) => {
  // The API as the developer: the refusal names the rule.
  await signInAs(page, 'Alice Nakamura');
  const origin = new URL(page.url()).origin;
  const list = await page.request.get('/api/v1/environments?tier=staging&limit=500');
  const staging = (await list.json()).items.find((e: { tier: string; team: string }) => e.tier === 'staging' && e.team === 'payments');
  expect(staging, 'the demo runs a payments staging environment').toBeTruthy();
  const refused = await page.request.delete(`/api/v1/environments/${staging.id}`, { headers: { Origin: origin } });
  expect(refused.status()).toBe(403);
  expect((await refused.json()).error.message).toContain("team's manager or a platform admin");
  await page.goto(`/environments/${staging.id}`);
  await hydrated(page);
  await expect(page.getByTestId('destroy-rule')).toContainText("team's manager");
  await expect(page.getByTestId('destroy')).toBeDisabled();
  const after = await page.request.get(`/api/v1/environments/${staging.id}`);
  expect((await after.json()).state).not.toBe('expiring');
});

test('a platform admin sets an admission limit on the Policies page; a create past it is refused by name; Compliance shows its checks', async ({ page, browser }, testInfo) => {
  await signInAs(page, 'Erin Walsh');
  await page.getByRole('link', { name: 'Policies', exact: true }).click();
  await expect(page).toHaveURL(/\/admin\/policies$/);
  await hydrated(page);
  await expect(page.getByTestId('tier-policies')).toContainText('preview-compliance');
  // Bad input is refused with the reason, and saves nothing.
  const editor = page.getByTestId('admission-toml');
  await editor.fill('[tier.preview-full]\nmax_live = 1');
  await page.getByTestId('save-policy').click();
  await expect(page.getByTestId('policy-outcome')).toContainText('unknown field');
  // No more live lightweight previews per user than Alice has now.
  await editor.fill('[tier.preview-lightweight]\nmax_live_per_user = 0');
  await page.getByTestId('save-policy').click();
  await expect(page.getByTestId('policy-outcome')).toContainText('Saved');
  await expect(page.getByTestId('policy-source')).toContainText('Saved by erin');

  const alice = await otherUser(browser, testInfo, 'Alice Nakamura');
  await alice.page.getByTestId('new-preview').click();
  await expect(alice.page.getByTestId('create-outcome')).toContainText('limit per user is 0');
  await shot(alice.page, testInfo, 'admission-refused');
  // Lift it again, so the journeys after this one are not limited.
  await editor.fill('');
  await page.getByTestId('save-policy').click();
  await expect(page.getByTestId('policy-outcome')).toContainText('Saved');
  await alice.page.getByTestId('new-preview').click();
  await expect(alice.page.getByTestId('create-outcome')).toContainText(/is ready|is being created/);

  await page.getByRole('link', { name: 'Compliance', exact: true }).click();
  await hydrated(page);
  await page.getByTestId('run-checks').click();
  await expect(page.locator('[data-testid=check][data-id=preview-ttl]')).toHaveAttribute('data-passed', 'true');
  await expect(page.locator('[data-testid=check][data-id=no-dead-ends]')).toBeVisible();
  await expect(page.locator('[data-testid=check][data-id=change-control]')).toContainText('production: destroy by approval');
  expect(alice.errors).toEqual([]);
  await alice.close();
});

test("an expiry warning's Extend link asks before it extends; the inbox reads one by one", async ({ page }) => {
  await signInAs(page, 'Alice Nakamura');
  await page.getByRole('button', { name: 'Options…' }).click();
  const panel = page.getByRole('form', { name: 'New preview options' });
  await panel.getByRole('radio', { name: /Full preview/ }).check();
  await panel.getByRole('button', { name: 'Create preview' }).click();
  const outcome = page.getByTestId('create-outcome');
  await expect(outcome).toContainText('is being created');
  const envPath = (await outcome.getByRole('link').getAttribute('href'))!;
  await page.goto(envPath);
  // The inbox button opens only once the page is hydrated (its route chunk loads first).
  await hydrated(page);
  await expect(page.locator('h1 [data-state]')).toHaveAttribute('data-state', 'active', { timeout: 30_000 });
  // The owner's inbox heard it is ready; reading that one leaves the rest unread.
  await page.getByTestId('inbox').click();
  const ready = page.getByTestId('notification').filter({ hasText: 'is ready' }).first();
  await expect(ready).toBeVisible();
  const unread = Number(await page.getByTestId('inbox').getAttribute('data-unread'));
  await ready.getByTestId('mark-read').click();
  await expect(page.getByTestId('inbox')).toHaveAttribute('data-unread', String(unread - 1));

  // Settings: a kind switched off stays off.
  await page.goto('/settings/notifications');
  await hydrated(page);
  const budget = page.getByTestId('pref-budget_alert');
  await expect(budget).toBeChecked();
  await Promise.all([page.waitForResponse((r) => r.url().includes('set_notification_pref') && r.ok()), budget.uncheck()]);
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId('pref-budget_alert')).not.toBeChecked();
  await Promise.all([
    page.waitForResponse((r) => r.url().includes('set_notification_pref') && r.ok()),
    page.getByTestId('pref-budget_alert').check(),
  ]);

  // The link lands on a page that asks first: nothing moves until the click.
  await page.goto(`${envPath}/extend`);
  await hydrated(page);
  const before = (await page.getByTestId('current-expiry').textContent())!;
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId('current-expiry')).toHaveText(before);
  await page.getByTestId('confirm-extend').click();
  await expect(page.getByTestId('extend-outcome')).toContainText('Extended: it now expires at');
  await expect(page.getByTestId('current-expiry')).not.toHaveText(before);
});
