import { test, expect, hydrated } from './fixtures';
import type { Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// From a portal with no demo data: a platform admin creates a team and
// registers the team's app from a git repository this test makes; a
// developer of that team previews a feature branch and sees that branch's
// code with rows from its own seeded, migrated database.

/** A repository with `main` and `feature/hello`, whose pages differ. */
function makeRepository(): string {
  const dir = mkdtempSync(join(tmpdir(), 'eod-e2e-repo-'));
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', dir, '-c', 'user.name=e2e', '-c', 'user.email=e2e@test.invalid', '-c', 'commit.gpgsign=false', ...args]);
  const page = (headline: string) =>
    `<!DOCTYPE html><html><head><meta charset="utf-8"><title>{{env_name}}</title></head><body>` +
    `<h1 data-testid="headline">${headline}</h1><p>commit <code data-testid="commit">{{commit}}</code></p>` +
    `<p><strong data-testid="row-count">{{rows}}</strong> rows</p>{{items}}</body></html>\n`;
  git('init', '--quiet', '--initial-branch=main');
  mkdirSync(join(dir, 'db'));
  mkdirSync(join(dir, 'migrations'));
  writeFileSync(join(dir, 'page.html'), page('Shop on main'));
  writeFileSync(join(dir, 'db', 'seed.sql'), "CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT NOT NULL);\nINSERT INTO items (id, name) VALUES (1, 'seeded apple'), (2, 'seeded pear');\n");
  writeFileSync(join(dir, 'migrations', '001_more.sql'), "INSERT INTO items (id, name) VALUES (3, 'migrated plum');\n");
  git('add', '-A');
  git('commit', '--quiet', '-m', 'Shop');
  git('checkout', '--quiet', '-b', 'feature/hello');
  writeFileSync(join(dir, 'page.html'), page('Hello from feature/hello'));
  git('commit', '--quiet', '-am', 'Say hello');
  git('checkout', '--quiet', 'main');
  return dir;
}

async function signInAtIdp(page: Page, login: string) {
  await page.context().clearCookies();
  await page.goto('/login');
  await hydrated(page);
  await page.getByRole('link', { name: 'Sign in with Test IdP', exact: true }).click();
  await page.locator('input[name=login]').fill(login);
  await page.locator('input[name=password]').fill('any password');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page).toHaveURL(/:310\d\/$/);
  await hydrated(page);
}

test('an admin registers a team’s app from its repository; a developer previews a feature branch of it', async ({ page }, testInfo) => {
  test.setTimeout(120_000);
  const repo = makeRepository();
  const team = `shop${testInfo.project.name.replace(/\W/g, '')}`;
  const developer = `gina${testInfo.project.name.replace(/\W/g, '')}`;

  // The developer exists once they have signed in (no team yet).
  await signInAtIdp(page, developer);
  await page.getByRole('button', { name: 'Sign out' }).click();

  // The platform admin creates the team and adds the developer.
  await signInAtIdp(page, 'root');
  await page.goto('/admin/teams');
  await hydrated(page);
  await page.getByLabel('Slug').fill(team);
  await page.getByLabel('Team name').fill('Shop team');
  await page.getByRole('button', { name: 'Create team' }).click();
  await page.getByLabel(`Login to add to ${team}`).fill(developer);
  await page.getByRole('button', { name: `Add to ${team}` }).click();
  await expect(page.locator(`[data-testid=member][data-login="${developer}"]`)).toBeVisible();

  // Bad input is refused with the field named, and nothing is registered.
  await page.goto('/apps');
  await hydrated(page);
  const form = page.getByRole('form', { name: 'Register app' });
  await form.getByLabel('Team').selectOption(team);
  await form.getByLabel('Slug').fill('shop');
  await form.getByLabel('Name', { exact: true }).fill('Shop');
  await form.getByLabel('Repository').fill('ext::sh -c touch% /tmp/pwned');
  await form.getByRole('button', { name: 'Register app' }).click();
  await expect(page.getByRole('alert')).toContainText('repository');
  await form.getByLabel('Repository').fill(repo);
  await form.getByLabel('Default branch').fill('no-such-branch');
  await form.getByRole('button', { name: 'Register app' }).click();
  await expect(page.getByRole('alert')).toContainText('no branch');

  // Registered: built, seeded, migrated and started by the blueprint.
  await form.getByLabel('Default branch').fill('main');
  await form.getByLabel('Build command').fill('cp page.html index.html');
  await form.getByLabel('Start command').fill('eod sample-app');
  await form.getByLabel('Seed file').fill('db/seed.sql');
  await form.getByLabel('Migrate command').fill('eod sample-app migrate');
  await form.getByLabel('Secrets').fill('SHOP_API_KEY=e2e-very-secret');
  await form.getByRole('button', { name: 'Register app' }).click();
  await expect(page).toHaveURL(new RegExp(`/apps/${team}/shop$`));
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Shop');
  await expect(page.getByText('SHOP_API_KEY')).toBeVisible();
  await expect(page.locator('body')).not.toContainText('e2e-very-secret');
  await page.getByRole('button', { name: 'Sign out' }).click();

  // The developer previews the feature branch from the New-preview options.
  await signInAtIdp(page, developer);
  await page.getByRole('button', { name: 'Options…' }).click();
  const panel = page.getByRole('form', { name: 'New preview options' });
  await panel.getByLabel('Branch').fill('no/such/branch');
  await panel.getByRole('button', { name: 'Create preview' }).click();
  await expect(page.getByTestId('create-outcome')).toContainText('no branch');
  // A refusal leaves the panel open to correct the branch.
  await panel.getByLabel('Branch').fill('feature/hello');
  await panel.getByRole('button', { name: 'Create preview' }).click();
  const outcome = page.getByTestId('create-outcome');
  await expect(outcome).toContainText('is being created');
  const name = (await outcome.getByRole('link').textContent())!.trim();
  const row = page.locator(`[data-testid=environment-row][data-env-name="${name}"]`);
  await expect(row.locator('[data-state]')).toHaveAttribute('data-state', 'active', { timeout: 60_000 });

  // Its page: the commit it runs, and the build's output.
  await row.getByRole('link', { name, exact: true }).click();
  await expect(page.getByTestId('commit')).toBeVisible();
  const commit = (await page.getByTestId('commit').getAttribute('title'))!;
  expect(commit).toMatch(/^[0-9a-f]{40}$/);
  await expect(page.getByTestId('log-tail')).toContainText('==> build');

  // Its URL serves the feature branch, with rows seeded and migrated.
  await page.goto('/');
  await hydrated(page);
  const href = (await row.locator('a[href*=".localhost:"]').getAttribute('href'))!;
  const preview = await page.context().newPage();
  await preview.goto(href);
  await expect(preview.getByTestId('headline')).toHaveText('Hello from feature/hello');
  await expect(preview.getByTestId('commit')).toHaveText(commit);
  await expect(preview.getByTestId('row-count')).toHaveText('3');
  await expect(preview.locator('body')).toContainText('seeded pear');
  await expect(preview.locator('body')).toContainText('migrated plum');
  await preview.screenshot({ path: testInfo.outputPath('feature-branch-preview.png') });
  await preview.close();
});
