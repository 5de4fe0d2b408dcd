// Buying an offer in a real browser against the real stack: the price's
// factors, «Оформить», the buyer's contact data, the insurer's payment page
// (the simulator's) in a new tab, paying there, and the policy number arriving
// live on the quote page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { env, launch, artifact, rest, serviceToken, signIn } from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('an offer is bought: factors, «Оформить», the payment page, and the policy number live', async () => {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  // Every stream the page opens, so that one can be cut mid-purchase as a flaky network would.
  const streams = [];
  await page.routeWebSocket(/\/ws\?fromSeq=/, (ws) => { streams.push(ws); ws.connectToServer(); });
  await signIn(page);  // the demo user, whose saved profile fills the form
  await page.getByRole('button', { name: 'Узнать цены' }).click();
  await page.locator('#offers-section').waitFor();

  // An offer with its factors and the button to buy it.
  const row = page.locator('#offers tbody tr[data-status="offer"]:has(details.factors):has(button.buy-button)').first();
  await row.waitFor({ timeout: 30000 });
  const company = await row.getAttribute('data-company');
  const requestId = await page.evaluate(() => document.body.dataset.request);
  const live = page.locator(`#offers tbody tr[data-company="${company}"]`);
  await live.getByText('Из чего цена').click();
  const factors = await live.locator('details.factors dt').allTextContents();
  assert.ok(factors.some((f) => f.startsWith('КБМ — бонус-малус')), JSON.stringify(factors));

  await live.getByRole('button', { name: /^Оформить полис/ }).click();
  await page.locator('#purchase-section').waitFor();
  // Contact data the insurer cannot use is explained next to its field, and nothing is bought.
  await page.getByLabel('Электронная почта').fill('ivanov');
  await page.getByLabel('Телефон').fill('12345');
  await page.getByRole('button', { name: 'Продолжить' }).click();
  await page.locator('#buyer\\.phone-error:not(:empty)').waitFor();
  assert.match(await page.locator('#buyer\\.email-error').textContent(), /ivanov@example\.ru/);
  assert.match(await page.locator('#buyer\\.phone-error').textContent(), /\+7 900 123-45-67/);
  await page.getByLabel('Электронная почта').fill('ivanov@example.ru');
  await page.getByLabel('Телефон').fill('+7 900 123-45-67');
  await page.getByRole('button', { name: 'Продолжить' }).click();

  // The insurer checks, then its payment page can be opened; the form is done with.
  const payLink = page.locator('#pay-link');
  await payLink.waitFor({ timeout: 30000 });
  assert.equal(await page.locator('#purchase-form').isVisible(), false, 'the form is gone once the purchase is sent');
  assert.equal(await page.locator('#purchase-state').getAttribute('data-status'), 'PAYMENT');
  assert.equal(await live.locator('.buy').textContent(), 'Ожидает оплаты');
  assert.equal(await page.locator('button.buy-button').count(), 0, 'one policy per request: no other offer to buy meanwhile');
  await page.screenshot({ path: artifact('purchase-payment.png'), fullPage: true });
  // The connection drops while the buyer pays: the page resumes from what it has shown.
  const opened = streams.length;
  await streams[streams.length - 1].close({ code: 4000, reason: 'dropped by the test' });
  const [payment] = await Promise.all([page.waitForEvent('popup'), payLink.click()]);
  await payment.waitForLoadState();
  assert.ok(payment.url().startsWith(`${env.simulator}/pay/`), payment.url());
  assert.match(await payment.locator('h1').textContent(), /Оплата полиса ОСАГО/);
  await payment.getByRole('button', { name: 'Оплатить' }).click();
  await payment.locator('#paid').waitFor();
  await payment.close();

  // Back on the quote page, without reloading it: the policy arrives live.
  const number = page.locator('#policy-number');
  await number.waitFor({ timeout: 30000 });
  const policy = await number.textContent();
  assert.match(policy, /^ХХХ \d{10}$/);
  assert.equal(await live.locator('.buy').textContent(), `Полис оформлен: ${policy}`);
  assert.ok(streams.length > opened, 'the page reconnected after the drop');
  await page.locator('#policy-link').waitFor();
  await page.screenshot({ path: artifact('purchase-issued.png'), fullPage: true });

  // What the page shows is what is stored.
  const stored = await rest('GET', `${env.aggregator}/osago/requests/${requestId}`, { token: serviceToken() });
  const c = stored.body.insuranceCompanies.find((x) => x.companyId === company);
  assert.equal(c.purchase.status, 'ISSUED');
  assert.equal(c.purchase.policy.number, policy);
  await page.close();
});
