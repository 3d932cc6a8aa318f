import { createHmac, randomUUID } from 'node:crypto';
import type { APIRequestContext } from '@playwright/test';
import { test, expect, signInAs } from './fixtures';

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

test('a pull request opened on GitHub appears live on the Environments page with its PR link, and goes when it closes', async ({ page, playwright }) => {
  await signInAs(page, 'Alice Nakamura');
  const rows = page.locator(`[data-testid=environment-row]`).filter({ has: page.getByTestId('pr-link') }).filter({ hasText: APP });
  await expect(rows).toHaveCount(0);
  // GitHub has no session: a fresh request context, no cookies.
  const github = await playwright.request.newContext({ baseURL: new URL(page.url()).origin });

  // A delivery signed with another secret changes nothing.
  const forged = await deliver(github, pullRequest('opened', new Date().toISOString()), 'not-the-secret');
  expect(forged.status()).toBe(401);
  expect((await forged.json()).error.message).toContain('signature');

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
});
