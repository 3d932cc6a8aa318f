import { createServer, IncomingMessage } from 'http';
import { AddressInfo } from 'net';
import { createHmac } from 'crypto';
import { test, expect, hydrated, signInAs } from './fixtures';

type Seen = { path: string; headers: IncomingMessage['headers']; body: string };

/** A local receiver for the portal's outgoing webhooks; answers 200. */
async function receiver() {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push({ path: req.url ?? '', headers: req.headers, body });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, seen, close: () => server.close() };
}

/** The Standard Webhooks check a receiver runs. */
function verify(secret: string, h: IncomingMessage['headers'], body: string): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = 'v1,' + createHmac('sha256', key).update(`${h['webhook-id']}.${h['webhook-timestamp']}.${body}`).digest('base64');
  return String(h['webhook-signature']).split(' ').includes(expected);
}

test("a manager wires the team's Slack and signed webhook; events arrive signed, logged, and can be resent", async ({ page }) => {
  const rx = await receiver();
  await signInAs(page, 'Bob Okafor');
  await page.getByRole('link', { name: 'Notifications', exact: true }).click();
  await expect(page).toHaveURL(/\/notifications$/);
  await hydrated(page);
  // Bad input: refused, nothing added.
  await page.getByTestId('channel-url').fill('ftp://nope');
  await page.getByTestId('add-channel').click();
  await expect(page.getByTestId('channel-error')).toContainText('http(s) URL');
  // A signed webhook: its secret is shown once.
  await page.getByTestId('channel-url').fill(`${rx.base}/hook`);
  await page.getByTestId('add-channel').click();
  const secret = (await page.getByTestId('channel-secret').textContent())!.trim();
  expect(secret).toMatch(/^whsec_/);
  await page.getByTestId('channel-kind').selectOption('slack');
  await page.getByTestId('channel-url').fill(`${rx.base}/slack`);
  await page.getByTestId('add-channel').click();
  await expect(page.getByTestId('channel')).toHaveCount(2);

  // An event: the team's budget cut below its spend alerts; then restored.
  const origin = new URL(page.url()).origin;
  const put = (amount: number) =>
    page.request.put('/api/v1/teams/payments/budget', { headers: { Origin: origin }, data: { amount_micros: amount, thresholds: [100] } });
  expect((await put(1)).status()).toBe(200);
  await expect.poll(() => rx.seen.filter((s) => s.path === '/slack').length, { timeout: 20_000 }).toBeGreaterThan(0);
  await expect.poll(() => rx.seen.filter((s) => s.path === '/hook').length, { timeout: 20_000 }).toBeGreaterThan(0);
  expect((await put(100_000_000_000)).status()).toBe(200);

  const hook = rx.seen.find((s) => s.path === '/hook' && s.body.includes('budget.threshold'))!;
  expect(hook, 'the budget alert reached the webhook').toBeTruthy();
  expect(verify(secret, hook.headers, hook.body)).toBe(true);
  expect(verify('whsec_' + Buffer.alloc(32).toString('base64'), hook.headers, hook.body)).toBe(false);
  expect(JSON.parse(hook.body)).toMatchObject({ type: 'budget.threshold', data: { team: 'payments' } });
  const slack = JSON.parse(rx.seen.find((s) => s.path === '/slack')!.body);
  expect(typeof slack.text).toBe('string');
  expect(slack.blocks[0].type).toBe('header');

  // The log shows them delivered; Resend sends the same webhook-id again.
  await page.reload();
  await hydrated(page);
  const delivered = page.locator('[data-testid=delivery][data-state=delivered][data-event="budget.threshold"]');
  await expect(delivered.first()).toBeVisible();
  const total = rx.seen.length;
  const earlierIds = new Set(rx.seen.map((s) => s.headers['webhook-id']).filter(Boolean));
  await delivered.first().getByTestId('resend').click();
  await expect.poll(() => rx.seen.length, { timeout: 20_000 }).toBeGreaterThan(total);
  const again = rx.seen[rx.seen.length - 1];
  if (again.path === '/hook') expect(earlierIds.has(again.headers['webhook-id'])).toBe(true);
  rx.close();
});
