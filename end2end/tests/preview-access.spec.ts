import { test, expect, branchPreview, otherUser, shot, signInAs } from './fixtures';

test('a preview opens for its team only, and a share link lets a guest in until it is revoked', async ({ page, browser }, testInfo) => {
  test.setTimeout(120_000);
  await signInAs(page, 'Alice Nakamura');
  const name = await branchPreview(page, 'fix/cart-rounding');
  const href = (await page.getByTestId('env-url').getAttribute('href'))!;

  // A member of the team opens the URL and lands on the app (through the
  // portal's one-time code, invisibly).
  const preview = await page.context().newPage();
  // Back to the very path asked for, query and all.
  await preview.goto(href + 'healthz?from=e2e');
  await expect(preview).toHaveURL(href + 'healthz?from=e2e');
  await expect(preview.locator('body')).toHaveText('ok');
  await preview.goto(href);
  await expect(preview.getByTestId('env-name')).toHaveText(name);
  await preview.close();

  // A signed-out browser is sent to the portal's sign-in instead.
  const stranger = await browser.newContext();
  const strangerPage = await stranger.newPage();
  await strangerPage.goto(href);
  await expect(strangerPage).toHaveURL(/127\.0\.0\.1:\d+\/login$/);
  await expect(strangerPage.getByTestId('env-name')).toHaveCount(0);

  // A member of another team is told there is no such preview for them.
  const carol = await otherUser(browser, testInfo, 'Carol Díaz');
  await carol.page.goto(href);
  await expect(carol.page.locator('body')).toContainText(`There is no preview named "${name}" that you can open`);
  await expect(carol.page.getByTestId('env-name')).toHaveCount(0);
  await carol.close();

  // A share link for a stakeholder without an account.
  const share = page.getByRole('region', { name: 'Share links' });
  await share.getByLabel('Expires after').selectOption('1');
  await share.getByLabel('For').fill('design review');
  await share.getByRole('button', { name: 'Create share link' }).click();
  const link = await share.getByTestId('share-url').inputValue();
  expect(link).toContain('/.eod/share?token=');
  await expect(share.getByTestId('share-link')).toHaveCount(1);
  await expect(share.getByTestId('share-state')).toHaveText('active');
  await shot(page, testInfo, 'share-link');
  await strangerPage.goto(link);
  await expect(strangerPage.getByTestId('env-name')).toHaveText(name);

  // Revoked: the guest's next visit is refused at once.
  await share.getByRole('button', { name: 'Revoke' }).click();
  await expect(share.getByTestId('share-state')).toHaveText('revoked');
  await strangerPage.goto(href);
  await expect(strangerPage).toHaveURL(/127\.0\.0\.1:\d+\/login$/);
  await strangerPage.goto(link);
  await expect(strangerPage.locator('body')).toContainText('expired or was revoked');
  await stranger.close();
});
