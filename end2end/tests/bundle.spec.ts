import { test, expect, hydrated, signInAs } from './fixtures';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';

// The browser code each page loads, gzipped at level 9 (as `gzip -9`), per
// route, against the sizes recorded in bundle-sizes.json: a route whose code
// grows more than 10 % over its record fails. Measured once (SQLite portal;
// the bundle is the same for both). To record new sizes after a deliberate
// change, copy target/e2e/bundle-sizes.json over end2end/bundle-sizes.json.
const ROUTES = ['/login', '/', '/costs', '/roi', '/maturity', '/approvals', '/apps', '/audit', '/admin/policies', '/settings/tokens'];
const PKG = path.resolve(__dirname, '../../target/site/pkg');
const RECORDED = path.resolve(__dirname, '../bundle-sizes.json');

function gzipped(file: string): number {
  return zlib.gzipSync(fs.readFileSync(file), { level: 9 }).length;
}

test('each route loads browser code within its recorded size', async ({ page }, testInfo) => {
  test.skip(testInfo.project.name !== 'sqlite', 'the bundle does not depend on the database');
  const measured: Record<string, number> = {};
  await signInAs(page, 'Erin Walsh');
  for (const route of ROUTES) {
    // A fresh context per route: nothing cached from the route before.
    const context = await page.context().browser()!.newContext({ baseURL: testInfo.project.use.baseURL, storageState: await page.context().storageState() });
    const tab = await context.newPage();
    const loaded = new Set<string>();
    tab.on('response', (res) => {
      const url = new URL(res.url());
      if (url.pathname.startsWith('/pkg/') && /\.(wasm|js)$/.test(url.pathname)) loaded.add(path.basename(url.pathname));
    });
    await tab.goto(route);
    await hydrated(tab);
    let bytes = 0;
    for (const name of loaded) bytes += gzipped(path.join(PKG, name));
    measured[route] = bytes;
    await context.close();
  }
  fs.mkdirSync(path.resolve(__dirname, '../../target/e2e'), { recursive: true });
  fs.writeFileSync(path.resolve(__dirname, '../../target/e2e/bundle-sizes.json'), JSON.stringify(measured, null, 2) + '\n');
  console.log(Object.entries(measured).map(([r, b]) => `${r}\t${(b / 1024).toFixed(0)} KB gz`).join('\n'));
  const recorded: Record<string, number> = JSON.parse(fs.readFileSync(RECORDED, 'utf8'));
  for (const route of ROUTES) {
    expect(recorded[route], `a recorded size for ${route}`).toBeGreaterThan(0);
    expect(measured[route], `${route}: ${measured[route]} bytes gzipped, recorded ${recorded[route]}`).toBeLessThanOrEqual(Math.floor(recorded[route] * 1.1));
  }
});
