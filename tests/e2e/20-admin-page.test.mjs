// The operators' page in a real browser: it asks for the admin token, lists
// every company with its plugin, switch, plugin worker, breaker, latency and success rate,
// and switches a plugin off and on again for every instance.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { env, launch, artifact, rest } from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function pluginEnabled(id) {
  const r = await rest('GET', `${env.aggregator}/admin/plugins`, { token: env.adminToken });
  return r.body.plugins.find((p) => p.id === id).enabled;
}

test('a wrong token is refused and the right one shows every company', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(`${env.aggregator}/admin`);
  await page.getByLabel('Токен администратора (OSAGO_ADMIN_TOKEN)').fill('not-the-admin-token');
  await page.getByRole('button', { name: 'Войти' }).click();
  await page.locator('#token-error', { hasText: 'Токен не подошёл' }).waitFor();
  await page.getByLabel('Токен администратора (OSAGO_ADMIN_TOKEN)').fill(env.adminToken);
  await page.getByRole('button', { name: 'Войти' }).click();
  await page.locator('#partners tbody tr').first().waitFor();
  const rows = await page.$$eval('#partners tbody tr', (trs) => trs.map((tr) => ({
    company: tr.dataset.company, plugin: tr.dataset.plugin, enabled: tr.dataset.enabled,
    cells: [...tr.children].map((c) => c.textContent.trim()),
  })));
  const listed = await rest('GET', `${env.aggregator}/admin/plugins`, { token: env.adminToken });
  const companies = listed.body.plugins.flatMap((p) => p.companies.map((c) => c.id)).sort();
  assert.deepEqual(rows.map((r) => r.company).sort(), companies);
  const state = new Map(listed.body.plugins.flatMap((p) => p.companies.map((c) => [c.id, c])));
  for (const r of rows) {
    assert.match(r.cells[1], new RegExp(`^${r.plugin} \\d+\\.\\d+\\.\\d+`), 'plugin and version');
    const company = state.get(r.company);
    if (company.worker) {
      assert.match(r.cells[3], new RegExp(`^работает, pid ${company.worker.pid}`), `${r.company}: its plugin worker`);
    } else {
      assert.match(r.cells[3], /не создан|в процессе агрегатора/, `${r.company}: no worker`);
    }
    assert.match(r.cells[4], /закрыт|открыт|пробные вызовы|—/, 'breaker state');
  }
  await page.close();
});

test('the page switches a plugin off for every instance and on again', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(`${env.aggregator}/admin`);
  await page.getByLabel('Токен администратора (OSAGO_ADMIN_TOKEN)').fill(env.adminToken);
  await page.getByRole('button', { name: 'Войти' }).click();
  const row = page.locator('#partners tbody tr[data-company="volga-garant"]');
  await row.waitFor();
  assert.equal(await pluginEnabled('garant'), true);
  await row.getByRole('button', { name: /^Отключить плагин garant/ }).click();
  await page.locator('#partners tbody tr[data-company="volga-garant"][data-enabled="false"]').waitFor();
  assert.match(await page.locator('#message').textContent(), /garant отключён/);
  assert.equal(await pluginEnabled('garant'), false, 'the switch is stored');
  await page.screenshot({ path: artifact('admin-page.png'), fullPage: true });
  await row.getByRole('button', { name: /^Включить плагин garant/ }).click();
  await page.locator('#partners tbody tr[data-company="volga-garant"][data-enabled="true"]').waitFor();
  assert.equal(await pluginEnabled('garant'), true);
  await page.close();
});
