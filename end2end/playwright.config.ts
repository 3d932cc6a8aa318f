import { defineConfig } from '@playwright/test';
import * as fs from 'fs';

// Runs the release binary twice — on SQLite and on PostgreSQL — and every
// journey against both. Chromium is Debian's (/usr/bin/chromium); Playwright
// never downloads a browser here.
const pgUrl = process.env.EOD_E2E_POSTGRES_URL;
if (!pgUrl) {
  throw new Error('EOD_E2E_POSTGRES_URL must point at an empty PostgreSQL database (the README test command sets it)');
}
const binary = process.env.EOD_BINARY ?? 'target/release/eod';
// Without Debian's Chromium Playwright would suggest downloading a browser,
// which this project never does: say what to run instead.
const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!fs.existsSync(chromium)) {
  throw new Error(`no Chromium at ${chromium}: run bash .ci/install test (installs Debian's chromium), or set CHROMIUM_PATH`);
}
const pgEmptyUrl = process.env.EOD_E2E_POSTGRES_EMPTY_URL;
if (!pgEmptyUrl) {
  throw new Error('EOD_E2E_POSTGRES_EMPTY_URL must point at a second empty PostgreSQL database (the README test command sets it)');
}

function server(name: string, port: number, databaseUrl?: string, demo = true) {
  const env: Record<string, string> = {
    EOD_LISTEN: `127.0.0.1:${port}`,
    EOD_DATA_DIR: `target/e2e/${name}`,
    EOD_DEMO: demo ? '1' : '0',
    EOD_LOG: 'warn',
    EOD_CONFIG: 'end2end/eod-test.toml',
  };
  if (databaseUrl) env.EOD_DATABASE_URL = databaseUrl;
  // The demo portals e-mail their notifications to the test SMTP receiver.
  if (demo) {
    env.EOD_SMTP_URL = 'smtp://127.0.0.1:3191';
    env.EOD_SMTP_FROM = 'EoD Portal <eod@e2e.test>';
  }
  return {
    command: `rm -rf target/e2e/${name} && ${binary}`,
    cwd: '..',
    url: `http://127.0.0.1:${port}/readyz`,
    env,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'pipe' as const,
    stderr: 'pipe' as const,
  };
}

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: [['list']],
  outputDir: '../target/e2e/results',
  use: {
    browserName: 'chromium',
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: chromium,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  projects: [
    { name: 'sqlite', testIgnore: /empty-portal/, use: { baseURL: 'http://127.0.0.1:3101' } },
    { name: 'postgres', testIgnore: /empty-portal/, use: { baseURL: 'http://127.0.0.1:3102' } },
    // Portals without demo data: a team's first app, from nothing.
    { name: 'empty-sqlite', testMatch: /empty-portal/, use: { baseURL: 'http://127.0.0.1:3103' } },
    { name: 'empty-postgres', testMatch: /empty-portal/, use: { baseURL: 'http://127.0.0.1:3104' } },
  ],
  webServer: [
    {
      command: 'node idp/server.mjs',
      url: 'http://127.0.0.1:3190/.well-known/openid-configuration',
      reuseExistingServer: false,
      timeout: 30_000,
    },
    {
      command: 'node smtp/server.mjs',
      url: 'http://127.0.0.1:3192/messages',
      reuseExistingServer: false,
      timeout: 30_000,
    },
    server('sqlite', 3101),
    server('postgres', 3102, pgUrl),
    server('empty-sqlite', 3103, undefined, false),
    server('empty-postgres', 3104, pgEmptyUrl, false),
  ],
});
