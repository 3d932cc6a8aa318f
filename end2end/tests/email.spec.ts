import { test, expect, hydrated, signInAs } from './fixtures';

type Mail = { from: string; to: string[]; data: string };

/** What the test SMTP receiver (end2end/smtp/server.mjs) has received. */
async function mails(): Promise<Mail[]> {
  const res = await fetch('http://127.0.0.1:3192/messages');
  // Long lines may come quoted-printable: undo its soft breaks and escapes.
  const qp = (s: string) => s.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
  return ((await res.json()) as Mail[]).map((m) => ({ ...m, data: qp(m.data) }));
}

test('a developer chooses inbox and e-mail per event; "ready" arrives by e-mail with a link, a muted kind does not', async ({ page }) => {
  test.setTimeout(90_000);
  await signInAs(page, 'Alice Nakamura');
  await page.goto('/settings/notifications');
  await hydrated(page);
  await expect(page.getByTestId('email-note')).toHaveText('E-mail goes to alice@demo.eod.invalid.');
  await expect(page.getByTestId('email-pref-environment_ready')).toBeChecked();
  // E-mail off for "destroyed", the inbox keeps it.
  const destroyedMail = page.getByTestId('email-pref-environment_destroyed');
  await Promise.all([page.waitForResponse((r) => r.url().includes('set_notification_pref') && r.ok()), destroyedMail.uncheck()]);
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId('email-pref-environment_destroyed')).not.toBeChecked();
  await expect(page.getByTestId('pref-environment_destroyed')).toBeChecked();

  // A preview: its "ready" reaches her mailbox, with a link to its page.
  await page.goto('/');
  await hydrated(page);
  await page.getByRole('button', { name: 'Options…' }).click();
  const panel = page.getByRole('form', { name: 'New preview options' });
  // A full preview: built for her (no warm pool), so it becomes ready now.
  await panel.getByRole('radio', { name: /Full preview/ }).check();
  await panel.getByRole('button', { name: 'Create preview' }).click();
  const outcome = page.getByTestId('create-outcome');
  await expect(outcome).toContainText('is being created');
  const name = (await outcome.getByRole('link').textContent())!.trim();
  const envPath = (await outcome.getByRole('link').getAttribute('href'))!;
  await page.goto(envPath);
  await expect(page.locator('h1 [data-state]')).toHaveAttribute('data-state', 'active', { timeout: 30_000 });
  const origin = new URL(page.url()).origin;
  const ready = async () => (await mails()).find((m) => m.data.includes(`${name} is ready`));
  await expect.poll(async () => Boolean(await ready()), { timeout: 30_000 }).toBe(true);
  const mail = (await ready())!;
  expect(mail.to.join(' ')).toContain('alice@demo.eod.invalid');
  expect(mail.from).toContain('eod@e2e.test');
  expect(mail.data).toContain(`Subject: [EoD] ${name} is ready`);
  expect(mail.data).toContain(`${origin}${envPath}`);

  // Destroyed: in her inbox, not in her mail (both are written with the event).
  await hydrated(page);
  await page.getByTestId('destroy').click();
  await page.getByTestId('confirm-destroy').click();
  await expect(page.locator('h1 [data-state]')).toHaveAttribute('data-state', 'destroyed', { timeout: 20_000 });
  await page.goto('/settings/notifications');
  await hydrated(page);
  const log = page.getByTestId('email');
  await expect(log.filter({ hasText: `${name} is ready` }).getByTestId('email-state')).toContainText('sent');
  await page.getByTestId('inbox').click();
  await expect(page.getByTestId('notification').filter({ hasText: `${name} was destroyed` })).toBeVisible();
  await expect(log.filter({ hasText: `${name} was destroyed` })).toHaveCount(0);
  expect((await mails()).some((m) => m.data.includes(`${name} was destroyed`))).toBe(false);
  // Bad input changes nothing: an unknown channel is refused.
  const refused = await page.request.post('/api/fn/set_notification_pref', {
    headers: { Origin: origin },
    form: { kind: 'environment_ready', on: 'false', channel: 'fax' },
  });
  expect(refused.status()).toBe(422);
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId('email-pref-environment_ready')).toBeChecked();
  await Promise.all([
    page.waitForResponse((r) => r.url().includes('set_notification_pref') && r.ok()),
    page.getByTestId('email-pref-environment_destroyed').check(),
  ]);
});
