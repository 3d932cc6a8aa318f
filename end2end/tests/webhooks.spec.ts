import { createHmac, randomUUID } from 'node:crypto';
import type { APIRequestContext } from '@playwright/test';
import { test, expect, hydrated, otherUser, signInAs } from './fixtures';

// The secret end2end/eod-test.toml configures for /webhooks/github.
const SECRET = 'e2e-github-webhook-secret';
const APP = 'payments-api';
const PR = 12; // the demo repositories keep refs/pull/12/head

function pullRequest(action: string, updatedAt: string, state = 'open') {
  return {
    action,
    pull_request: {
      number: PR,
      state,
      draft: false,
      title: 'Retry failed captures',
      html_url: `https://github.com/acme/${APP}/pull/${PR}`,
      updated_at: updatedAt,
      head: { sha: 'f'.repeat(40), ref: 'retry-captures', repo: { full_name: `acme/${APP}` } },
      labels: [],
    },
    repository: { full_name: `acme/${APP}` },
  };
}

/** Posts a delivery as GitHub does: the raw body signed with the hook's secret. */
async function deliver(request: APIRequestContext, body: unknown, secret = SECRET, id = randomUUID()) {
  const raw = JSON.stringify(body);
  const signature = 'sha256=' + createHmac('sha256', secret).update(raw).digest('hex');
  return request.post('/webhooks/github', {
    headers: {
      'Content-Type': 'application/json',
      'X-GitHub-Event': 'pull_request',
      'X-GitHub-Delivery': id,
      'X-Hub-Signature-256': signature,
    },
    data: raw,
  });
}

test('a pull request opened on GitHub appears live on the Environments page with its PR link, and goes when it closes', async ({ page, playwright, browser }, testInfo) => {
  await signInAs(page, 'Alice Nakamura');
  const rows = page.locator(`[data-testid=environment-row]`).filter({ has: page.getByTestId('pr-link') }).filter({ hasText: APP });
  await expect(rows).toHaveCount(0);
  // GitHub has no session: a fresh request context, no cookies.
  const github = await playwright.request.newContext({ baseURL: new URL(page.url()).origin });

  // A delivery signed with another secret changes nothing.
  const forged = await deliver(github, pullRequest('opened', new Date().toISOString()), 'not-the-secret');
  expect(forged.status()).toBe(401);
  expect((await forged.json()).error.message).toContain('X-Hub-Signature-256 does not match');

  const id = randomUUID();
  const opened = await deliver(github, pullRequest('opened', new Date().toISOString()), SECRET, id);
  expect(opened.status()).toBe(202);
  // A redelivery is answered and does nothing more.
  const again = await deliver(github, pullRequest('opened', new Date().toISOString()), SECRET, id);
  expect(again.status()).toBe(200);

  // Alice's page shows it without a reload, linked to the pull request.
  const row = page.locator('[data-testid=environment-row]').filter({ has: page.getByRole('link', { name: `PR #${PR}` }) }).filter({ hasText: APP });
  await expect(row).toHaveCount(1, { timeout: 30_000 });
  await expect(row.getByTestId('pr-link')).toHaveAttribute('href', `https://github.com/acme/${APP}/pull/${PR}`);
  await expect(row).toContainText('github-pull-requests');

  // Closed on GitHub: the preview goes.
  const closed = await deliver(github, pullRequest('closed', new Date(Date.now() + 1000).toISOString(), 'closed'));
  expect(closed.status()).toBe(202);
  await expect
    .poll(async () => ((await row.count()) === 0 ? 'gone' : await row.locator('[data-state]').first().getAttribute('data-state')), { timeout: 30_000 })
    .toMatch(/gone|expiring|destroyed/);
  await github.dispose();

  // The team's manager reads the deliveries of the team's apps and re-runs one.
  const bob = await otherUser(browser, testInfo, 'Bob Okafor');
  await bob.page.goto('/deliveries');
  await hydrated(bob.page);
  const logged = bob.page.getByTestId('delivery').filter({ hasText: `acme/${APP}#${PR}` });
  await expect(logged.filter({ hasText: 'opened' })).toHaveCount(1);
  // The closed delivery's outcome (a late one's says the pull request is closed).
  await expect(logged.getByTestId('delivery-outcome').filter({ hasText: 'started destroying' })).toHaveCount(1);
  // Without a GitHub token nothing is reported to the pull request, and the page says so.
  await expect(bob.page.getByTestId('pr-report').filter({ hasText: `acme/${APP}#${PR}` })).toContainText('EOD_GITHUB_TOKEN is not set');
  const first = logged.filter({ hasText: 'opened' });
  await expect(first).toHaveAttribute('data-status', '202');
  await first.getByTestId('rerun').click();
  await expect(bob.page.getByTestId('rerun-outcome')).toContainText('Re-run queued');
  // Run again on the stored body: the pull request is closed now, so nothing comes back.
  // (The job runs after the answer: the page shows it once reloaded.)
  await expect(async () => {
    await bob.page.reload();
    await expect(first.getByTestId('delivery-outcome')).toContainText('no preview (the pull request is closed)', { timeout: 1_000 });
  }).toPass({ timeout: 30_000 });
  expect(bob.errors).toEqual([]);
  await bob.close();

  // A developer has no Deliveries page.
  await page.goto('/deliveries');
  await expect(page.getByRole('alert')).toContainText('not allowed');
});
