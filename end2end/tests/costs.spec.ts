import { test, expect, hydrated, signInAs } from './fixtures';
import { Page } from '@playwright/test';
import { readFileSync } from 'fs';

/** Splits CSV text into rows of cells (quotes, doubled quotes, CRLF). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; }
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(cell); cell = ''; }
    else if (c === '\n') { row.push(cell.replace(/\r$/, '')); rows.push(row); row = []; cell = ''; }
    else cell += c;
  }
  if (cell !== '' || row.length) { row.push(cell); rows.push(row); }
  return rows;
}

/** `12.345678` (dollars, six decimals) to integer micro-dollars, exactly. */
function micros(dollars: string): bigint {
  const negative = dollars.startsWith('-');
  const [whole, frac = ''] = dollars.replace('-', '').split('.');
  const v = BigInt(whole) * 1_000_000n + BigInt((frac + '000000').slice(0, 6));
  return negative ? -v : v;
}

function columnSum(rows: string[][], column: string): bigint {
  const at = rows[0].indexOf(column);
  expect(at, `column ${column}`).toBeGreaterThanOrEqual(0);
  return rows.slice(1).filter((r) => r.length > 1).reduce((sum, r) => sum + micros(r[at]), 0n);
}

async function download(page: Page, testId: string): Promise<string> {
  const [file] = await Promise.all([page.waitForEvent('download'), page.getByTestId(testId).click()]);
  return readFileSync((await file.path())!, 'utf8');
}

function lastMonth(): string {
  const d = new Date();
  const m = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1));
  return `${m.getUTCFullYear()}-${String(m.getUTCMonth() + 1).padStart(2, '0')}`;
}

test('a manager reads the month, drills into an environment, sets a budget, and the exports add up to the page', async ({ page }) => {
  await signInAs(page, 'Dan Kowalski');
  await page.getByRole('link', { name: 'Costs', exact: true }).click();
  await expect(page).toHaveURL(/\/costs$/);
  await hydrated(page);
  await expect(page.getByRole('heading', { name: /Search · \d{4}-\d{2}/ })).toBeVisible();
  await expect(page.getByTestId('month-total')).toHaveText(/^\$[\d,]+\.\d\d$/);
  await expect(page.getByTestId('balanced')).toContainText('Both sums hold exactly');
  await expect(page.getByTestId('trend').locator('rect').first()).toBeAttached();

  // Budget: the demo puts search over; raising it clears the state, cutting it records the alerts.
  const state = page.getByTestId('budget-state');
  await expect(state).toContainText('%');
  await page.getByLabel('Monthly budget ($)').fill('1000000');
  await page.getByRole('button', { name: 'Save budget' }).click();
  await expect(state).toContainText('of $1,000,000.00 (0%)');
  // One cent: over at any time of the month, even minutes after it began.
  await page.getByLabel('Monthly budget ($)').fill('0.01');
  await page.getByRole('button', { name: 'Save budget' }).click();
  await expect(state).toContainText('of $0.01');
  await expect(state).toHaveClass(/text-red-800/);
  await expect(page.getByTestId('budget-alerts')).toContainText('actual 100% reached');
  // The alert reached the team's manager: the header's inbox counts it until read.
  await page.reload();
  await hydrated(page);
  const inbox = page.getByTestId('inbox');
  await expect(inbox).not.toHaveAttribute('data-unread', '0');
  await inbox.click();
  await expect(page.locator('[data-testid=notification][data-kind=budget_alert]').first()).toContainText('budget');
  await page.getByRole('button', { name: 'Mark all read' }).click();
  await expect(inbox).toHaveAttribute('data-unread', '0');
  // Bad input is refused with the reason, and changes nothing.
  await page.getByLabel('Monthly budget ($)').fill('a lot');
  await page.getByRole('button', { name: 'Save budget' }).click();
  await expect(page.getByRole('alert')).toContainText('not an amount in dollars');
  await expect(state).toContainText('of $0.01');

  // The Environments page header shows the budget too.
  await page.goto('/');
  await expect(page.getByTestId('budget-headline')).toContainText('Budget · search');

  // A closed month: the page, the CSV and the FOCUS file agree to the micro-dollar.
  await page.goto(`/costs?month=${lastMonth()}&team=search`);
  await hydrated(page);
  const total = BigInt((await page.getByTestId('month-total').getAttribute('data-micros'))!);
  expect(total).toBeGreaterThan(0n);
  await expect(page.getByTestId('balanced')).toContainText('Both sums hold exactly');
  // Sortable: by cost ascending puts the cheapest first.
  const costs = () => page.locator('[data-testid=env-cost-row] td[data-micros]').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-micros'))));
  const desc = await costs();
  expect(desc.length).toBeGreaterThan(1);
  expect(desc).toEqual([...desc].sort((a, b) => b - a));
  await page.getByTestId('by-environment').getByRole('button', { name: /Cost/ }).click();
  await expect.poll(costs).toEqual([...desc].sort((a, b) => a - b));

  const csv = parseCsv(await download(page, 'export-csv'));
  expect(csv[0]).toEqual(['team', 'app', 'environment', 'environment_id', 'tier', 'branch', 'pr_number', 'resource_kind', 'line', 'start_utc', 'end_utc', 'hours', 'rate_usd_per_hour', 'cost_usd']);
  expect(columnSum(csv, 'cost_usd')).toBe(total);
  expect(csv.slice(1).some((r) => r[8]?.startsWith('allocated'))).toBe(true);

  const focus = parseCsv(await download(page, 'export-focus'));
  for (const column of ['BilledCost', 'BillingAccountId', 'ChargePeriodStart', 'ChargePeriodEnd', 'ServiceProviderName', 'HostProviderName', 'AllocatedMethodId', 'Tags']) {
    expect(focus[0]).toContain(column);
  }
  expect(columnSum(focus, 'BilledCost')).toBe(total);
  const start = focus[0].indexOf('ChargePeriodStart');
  expect(focus[1][start]).toMatch(/^\d{4}-\d\d-\d\dT00:00:00Z$/);

  // Drill into the most expensive environment.
  const first = page.locator('[data-testid=env-cost-row] a').first();
  const name = (await first.textContent())!;
  await first.click();
  await expect(page).toHaveURL(/\/environments\//);
  await expect(page.getByRole('heading', { level: 1 })).toContainText(name);
});

test('a developer has no Costs link and gets 403; another team’s manager gets 404', async ({ page, baseURL }) => {
  await signInAs(page, 'Carol Díaz');
  await expect(page.getByRole('link', { name: 'Environments' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Costs', exact: true })).toHaveCount(0);
  const res = await page.goto('/costs');
  expect(res!.status()).toBe(403);
  await expect(page.getByTestId('costs-error')).toContainText('not allowed');
  expect((await page.request.get(`${baseURL}/api/v1/costs?team=search`)).status()).toBe(403);

  await signInAs(page, 'Bob Okafor');
  const other = await page.goto('/costs?team=search');
  expect(other!.status()).toBe(404);
  const api = await page.request.get(`${baseURL}/api/v1/costs/export.csv?team=search`);
  expect(api.status()).toBe(404);
  const bad = await page.request.get(`${baseURL}/api/v1/costs?month=2026-13`);
  expect(bad.status()).toBe(422);
  expect((await bad.json()).error.field).toBe('month');
  const version = await page.request.get(`${baseURL}/api/v1/costs/focus.csv?version=9.9`);
  expect(version.status()).toBe(422);
  const own = await page.request.get(`${baseURL}/api/v1/costs?team=payments`);
  expect(own.status()).toBe(200);
  expect(typeof (await own.json()).total_micros).toBe('number');
});
