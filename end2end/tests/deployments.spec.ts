import { readFileSync } from 'node:fs';
import { test, expect, branchPreview, compliancePreview, shot, signInAs } from './fixtures';

test('a developer redeploys a preview at another branch, bad refs are refused, and a killed workload is restarted', async ({ page }, testInfo) => {
  test.setTimeout(120_000);
  await signInAs(page, 'Alice Nakamura');
  await branchPreview(page, 'fix/cart-rounding');
  const badge = page.locator('h1 [data-state]');
  const id = new URL(page.url()).pathname.split('/').pop()!;

  // The tier's strategy is said before the click.
  await expect(page.getByTestId('strategy')).toContainText('recreate');
  const before = (await page.getByTestId('commit').getAttribute('title'))!;

  // A ref git refuses: a clear message, nothing recorded.
  await page.getByTestId('deploy-what').fill('bad..ref');
  await page.getByTestId('redeploy').click();
  await expect(page.getByTestId('deploy-outcome')).toContainText('branch git accepts');
  await expect(page.getByTestId('deployment')).toHaveCount(0);

  // Another branch's code replaces what runs; the record says how it went.
  await page.getByTestId('deploy-what').fill('feature/dark-mode');
  await page.getByTestId('redeploy').click();
  await expect(page.getByTestId('deploy-outcome')).toHaveText('Deployment queued.');
  const row = page.getByTestId('deployment').first();
  await expect(row).toHaveAttribute('data-state', 'succeeded', { timeout: 30_000 });
  await expect(row).toContainText('feature/dark-mode');
  await expect(row).toContainText('alice');
  await expect(page.getByTestId('commit')).not.toHaveAttribute('title', before);
  await shot(page, testInfo, 'redeployed');
  const href = (await page.getByTestId('env-url').getAttribute('href'))!;
  const preview = await page.context().newPage();
  await preview.goto(href);
  await expect(preview.getByTestId('branch')).toHaveText('feature/dark-mode');
  await preview.close();

  // Its process is killed: seen by the health monitor, restarted, healthy again.
  const serving = readFileSync(`../target/e2e/${testInfo.project.name}/runtime/${id}/serving`, 'utf8');
  const pid = Number(serving.split(' ')[0]);
  process.kill(-pid, 'SIGKILL');
  await expect(page.getByTestId('timeline')).toContainText('unhealthy by system', { timeout: 30_000 });
  await expect(page.getByTestId('timeline')).toContainText('recovered by system', { timeout: 30_000 });
  await expect(badge).toHaveAttribute('data-health', 'healthy');
  await expect(badge).toHaveText('active');
  await shot(page, testInfo, 'restarted');
});

test('a compliance preview deploys blue-green and rolls back at a click', async ({ page }, testInfo) => {
  test.setTimeout(120_000);
  await signInAs(page, 'Alice Nakamura');
  await compliancePreview(page);
  await expect(page.getByTestId('strategy')).toContainText('blue-green');
  const first = (await page.getByTestId('commit').getAttribute('title'))!;
  await page.getByTestId('deploy-what').fill('feature/invoice-pdf');
  await page.getByTestId('redeploy').click();
  const row = page.getByTestId('deployment').first();
  await expect(row).toHaveAttribute('data-state', 'succeeded', { timeout: 30_000 });
  await expect(page.getByTestId('commit')).not.toHaveAttribute('title', first);
  await row.getByTestId('rollback').click();
  await expect(page.getByTestId('rollback-outcome')).toContainText('Rolling back');
  await expect(row).toHaveAttribute('data-state', 'rolled-back', { timeout: 30_000 });
  await expect(page.getByTestId('commit')).toHaveAttribute('title', first);
  await expect(row.getByTestId('rollback')).toHaveCount(0);
  await shot(page, testInfo, 'rolled-back');
});
