// Shared by the browser tests: the stack's addresses, a headless chromium, and
// small REST helpers for checking what the page shows against what is stored.
import { chromium } from 'playwright-core';
import { createHmac } from 'node:crypto';
import path from 'node:path';

export const env = {
  core: process.env.OSAGO_E2E_CORE_URL,
  aggregator: process.env.OSAGO_E2E_AGGREGATOR_URL,
  simulator: process.env.OSAGO_E2E_SIMULATOR_URL,
  adminToken: process.env.OSAGO_E2E_ADMIN_TOKEN,
  serviceKey: process.env.OSAGO_E2E_SERVICE_TOKEN_SECRET,
  artifacts: process.env.OSAGO_E2E_ARTIFACTS || '/tmp',
};
if (!env.core) throw new Error('run the browser tests through tests/e2e/run.sh (./osago test does)');

export async function launch() {
  return chromium.launch({
    executablePath: process.env.OSAGO_E2E_CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}

export function artifact(name) { return path.join(env.artifacts, name); }

/** A service token for the aggregator's /osago/* API, as core-app signs it (JWT HS256, 60 s). */
export function serviceToken() {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: 'e2e-tests', aud: 'osago-aggregator', iat: now, exp: now + 60 })}`;
  return `${unsigned}.${createHmac('sha256', env.serviceKey).update(unsigned).digest('base64url')}`;
}

export async function rest(method, url, { token, body } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body) headers['Content-Type'] = 'application/json';
  const r = await fetch(url, { method, headers, body: body ? JSON.stringify(body) : undefined });
  return { status: r.status, body: await r.json().catch(() => null) };
}

/** Switches a plugin on or off for every instance and waits until this instance's listing agrees. */
export async function setPlugin(id, enabled) {
  const r = await rest('POST', `${env.aggregator}/admin/plugins/${id}/${enabled ? 'enable' : 'disable'}`, { token: env.adminToken });
  if (r.status !== 200) throw new Error(`switching ${id}: ${r.status} ${JSON.stringify(r.body)}`);
  for (const until = Date.now() + 5000; Date.now() < until;) {
    const listing = await rest('GET', `${env.aggregator}/admin/plugins`, { token: env.adminToken });
    if (listing.body?.plugins?.find((p) => p.id === id)?.enabled === enabled) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`plugin ${id} did not become ${enabled ? 'enabled' : 'disabled'} within 5 s`);
}

/** Signs in through the page (the demo login) and waits for the form, filled from the saved profile. */
export async function signIn(page, user = 'demo') {
  await page.goto(env.core + '/');
  await page.getByLabel('Имя пользователя').fill(user);
  await page.getByRole('button', { name: 'Войти' }).click();
  await page.locator('#quote-section').waitFor();
}

/** The rows of the offers table as {company, status, price}. */
export async function offerRows(page) {
  return page.$$eval('#offers tbody tr', (trs) => trs.map((tr) => ({
    company: tr.dataset.company, status: tr.dataset.status,
    price: tr.querySelector('.price').textContent.trim(),
    best: tr.classList.contains('best'),
  })));
}

/** Waits for the stream's end and returns the request id the page is showing. */
export async function waitForSummary(page, timeout = 75000) {
  await page.locator('body[data-stream="ended"]').waitFor({ timeout });
}
