// The quote page in a real browser against the real stack: offers arrive live,
// a dropped connection resumes without losing or doubling rows, bad input is
// explained next to its field, a disabled company shows as such.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { env, launch, artifact, rest, serviceToken, setPlugin, signIn, offerRows, waitForSummary } from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** What the aggregator stored for the request, per company: [status kind, price]. */
async function stored(requestId) {
  const r = await rest('GET', `${env.aggregator}/osago/requests/${requestId}`, { token: serviceToken() });
  assert.equal(r.status, 200);
  const kind = (c) => (c.status === 'COMPLETED' ? 'offer' : c.status === 'TIMEOUT' ? 'timeout'
    : c.error?.code === 'DECLINED' ? 'declined' : c.error?.code === 'COMPANY_DISABLED' ? 'disabled'
      : c.status === 'FAILED' ? 'failed' : 'waiting');
  return new Map(r.body.insuranceCompanies.map((c) => [c.companyId, kind(c)]));
}

test('offers from the simulated insurers arrive live, the best price is marked, the summary names it', async () => {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  await signIn(page);
  // The saved profile filled the form.
  assert.equal(await page.getByLabel('VIN').inputValue(), 'XTA21099043765439');
  assert.equal(await page.getByLabel('Фамилия').first().inputValue(), 'Иванов');
  await page.getByRole('button', { name: 'Узнать цены' }).click();
  await page.locator('#offers-section').waitFor();
  // Live: some rows are still waiting while the first offers are shown, and the countdown runs.
  await page.locator('#offers tbody tr[data-status="offer"]').first().waitFor({ timeout: 30000 });
  assert.match(await page.locator('#countdown').textContent(), /Ответы принимаются ещё \d+:\d\d/);
  await page.screenshot({ path: artifact('quote-page-live.png'), fullPage: true });
  const early = await offerRows(page);
  assert.ok(early.some((r) => r.status === 'waiting'), 'the first offer should arrive before the slower insurers answer');
  // The factors of a price, on demand, while other offers still arrive (the rows are drawn again with each).
  const withFactors = page.locator('#offers tbody tr[data-status="offer"]:has(details.factors)').first();
  await withFactors.waitFor({ timeout: 30000 });
  const factorsOf = await withFactors.getAttribute('data-company');
  await withFactors.getByText('Из чего цена').click();
  await waitForSummary(page);
  const opened = page.locator(`#offers tbody tr[data-company="${factorsOf}"] details.factors`);
  assert.equal(await opened.evaluate((d) => d.open), true, 'an opened «Из чего цена» stays open as offers arrive');
  const factors = await opened.locator('dt').allTextContents();
  for (const name of ['ТБ — базовая ставка страховой', 'КТ — территория', 'КБМ — бонус-малус', 'КВС — возраст и стаж',
    'КО — число допущенных', 'КМ — мощность двигателя', 'КС — период использования'])
    assert.ok(factors.some((f) => f.startsWith(name)), `${name} in ${JSON.stringify(factors)}`);
  const values = await opened.locator('dd').allTextContents();
  assert.match(values[0], /^\d[\d\s]*,\d\d ₽$/, 'the base rate in rubles');
  for (const v of values.slice(1)) assert.match(v, /^\d+,\d+$/, 'a coefficient');
  // An insurer that reports no factors (the volna dialect) offers none to open.
  assert.equal(await page.locator('#offers tbody tr[data-company="sibir-rezerv"] details.factors').count(), 0);
  await page.screenshot({ path: artifact('quote-page-factors.png'), fullPage: true });
  const rows = await offerRows(page);
  const offers = rows.filter((r) => r.status === 'offer');
  assert.ok(offers.length >= 5, `at least five offers expected, got ${JSON.stringify(rows)}`);
  const prices = offers.map((r) => Number(r.price.replace(/\s/g, '').replace(',', '.')));
  assert.equal(new Set(prices).size, prices.length, 'the insurers price differently');
  assert.deepEqual(prices, [...prices].sort((a, b) => a - b), 'offers are sorted by price');
  assert.ok(offers[0].best && offers.slice(1).every((r) => !r.best), 'only the cheapest offer is marked best');
  assert.match(await page.locator('#summary').textContent(), /Лучшая цена — .+ ₽/);
  // What the page shows is what the aggregator stored.
  const requestId = await page.locator('body').getAttribute('data-request');
  const truth = await stored(requestId);
  assert.equal(rows.length, truth.size);
  for (const r of rows) assert.equal(r.status, truth.get(r.company), r.company);
  await page.screenshot({ path: artifact('quote-page.png'), fullPage: true });
  await page.close();
});

test('a connection dropped mid-stream resumes from the last seq: no row lost or doubled', async () => {
  const page = await browser.newPage();
  let connections = 0;
  await page.routeWebSocket(/\/ws\?fromSeq=/, (ws) => {
    connections += 1;
    ws.connectToServer();
    // The first connection is cut after its first messages, as a flaky network would.
    if (connections === 1) setTimeout(() => ws.close({ code: 4000, reason: 'dropped by the test' }), 2500);
  });
  await signIn(page);
  await page.getByRole('button', { name: 'Узнать цены' }).click();
  await page.locator('body[data-stream="reconnecting"]').waitFor({ timeout: 15000 });
  assert.match(await page.locator('#stream-state').textContent(), /переподключаемся/);
  await waitForSummary(page);
  assert.ok(connections >= 2, 'the page reconnected');
  const rows = await offerRows(page);
  const companies = rows.map((r) => r.company);
  assert.equal(new Set(companies).size, companies.length, 'no company is shown twice');
  const truth = await stored(await page.locator('body').getAttribute('data-request'));
  assert.equal(rows.length, truth.size, 'no company is missing');
  for (const r of rows) assert.equal(r.status, truth.get(r.company), r.company);
  await page.close();
});

test('where WebSocket does not get through, Server-Sent Events carry the offers', async () => {
  const page = await browser.newPage();
  await page.routeWebSocket(/\/ws\?fromSeq=/, (ws) => ws.close({ code: 1011, reason: 'no WebSocket here' }));
  await signIn(page);
  await page.getByRole('button', { name: 'Узнать цены' }).click();
  await waitForSummary(page);
  const rows = await offerRows(page);
  assert.ok(rows.filter((r) => r.status === 'offer').length >= 5);
  const truth = await stored(await page.locator('body').getAttribute('data-request'));
  for (const r of rows) assert.equal(r.status, truth.get(r.company), r.company);
  await page.close();
});

test('bad input is explained next to each field and nothing is sent', async () => {
  const page = await browser.newPage();
  const posts = [];
  page.on('request', (r) => { if (r.method() === 'POST' && r.url().endsWith('/api/osago/requests')) posts.push(r.url()); });
  await signIn(page);
  await page.getByLabel('VIN').fill('XTA2109904376543I');           // I is not allowed, and 17 characters
  await page.getByLabel('Госномер').fill('Z123ZZ77');
  await page.locator('[name="drivers[0].licenseNumber"]').fill('12345');
  const tooYoung = new Date(Date.now() - 15 * 365.25 * 86400000).toISOString().slice(0, 10);
  await page.locator('[name="drivers[0].birthDate"]').fill(tooYoung);
  await page.getByRole('button', { name: 'Узнать цены' }).click();
  const expectError = async (name, text) => {
    const input = page.locator(`[name="${name}"]`);
    assert.equal(await input.getAttribute('aria-invalid'), 'true', name);
    const described = await input.getAttribute('aria-describedby');
    assert.match(await page.locator(`[id="${described}"]`).textContent(), text, name);
  };
  await expectError('vehicle.vin', /VIN — 17 символов/);
  await expectError('vehicle.plate', /А123ВЕ777/);
  await expectError('drivers[0].licenseNumber', /6 цифр/);
  await expectError('drivers[0].birthDate', /не меньше 16 лет/);
  assert.equal(await page.evaluate(() => document.activeElement.name), 'vehicle.vin', 'the first bad field has the focus');
  assert.deepEqual(posts, [], 'nothing was sent');
  // Latin look-alikes in a plate are accepted and sent as Cyrillic.
  await page.getByLabel('Госномер').fill('a123be777');
  await page.getByLabel('VIN').fill('XTA21099043765439');
  await page.locator('[name="drivers[0].licenseNumber"]').fill('345678');
  await page.locator('[name="drivers[0].birthDate"]').fill('1980-06-12');
  await page.getByRole('button', { name: 'Узнать цены' }).click();
  await page.locator('#offers-section').waitFor();
  assert.equal(posts.length, 1);
  await page.close();
});

test('a company switched off by the operator shows as disabled', async () => {
  await setPlugin('volna', false);
  try {
    const page = await browser.newPage();
    await signIn(page);
    await page.getByRole('button', { name: 'Узнать цены' }).click();
    await waitForSummary(page);
    const rows = await offerRows(page);
    const disabled = rows.filter((r) => r.status === 'disabled').map((r) => r.company).sort();
    assert.deepEqual(disabled, ['sibir-rezerv', 'yuzhny-bereg'], JSON.stringify(rows));
    assert.match(await page.locator('tr[data-company="sibir-rezerv"]').textContent(), /Компания отключена/);
    await page.close();
  } finally {
    await setPlugin('volna', true);
  }
});

test('on a phone-sized screen the page fits and every field has a label', async () => {
  const page = await browser.newPage({ viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true });
  await signIn(page);
  const unlabeled = await page.$$eval('#quote-form input, #quote-form select',
    (inputs) => inputs.filter((i) => !i.labels || i.labels.length === 0).map((i) => i.name || i.id));
  assert.deepEqual(unlabeled, []);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the form is ${overflow}px wider than the screen`);
  // Keyboard only: tab to the submit button and press Enter.
  await page.locator('[name="policy.usageMonths"]').focus();
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'submit');
  await page.keyboard.press('Enter');
  await waitForSummary(page);
  const tableOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(tableOverflow <= 0, `the offers table is ${tableOverflow}px wider than the screen`);
  await page.screenshot({ path: artifact('quote-page-phone.png'), fullPage: true });
  await page.close();
});

test('a service at capacity is explained in Russian and the same request is sent again on «Повторить»', async () => {
  const page = await browser.newPage();
  await signIn(page);
  // The aggregator's refusal as core-app passes it on (the integration test
  // LoadShedding makes a real one); the retry goes to the real server.
  const keys = [];
  const traces = [];
  await page.route('**/api/osago/requests', async (route) => {
    keys.push(route.request().headers()['idempotency-key']);
    traces.push(route.request().headers()['traceparent']);
    if (keys.length === 1) {
      await route.fulfill({
        status: 503, contentType: 'application/json', headers: { 'Retry-After': '2' },
        body: JSON.stringify({ error: 'OVERLOADED', message: 'the quote service is at capacity; send the same request again in 2 s' }),
      });
    } else {
      await route.continue();
    }
  });
  await page.getByRole('button', { name: 'Узнать цены' }).click();
  const note = page.locator('#form-error');
  await note.getByText(/ваш запрос не принят\. Повторить можно через \d с\./).waitFor();
  const retry = page.getByRole('button', { name: 'Повторить' });
  assert.ok(await retry.isDisabled(), 'the retry waits for Retry-After');
  await page.screenshot({ path: artifact('quote-page-overloaded.png'), fullPage: true });
  await page.waitForFunction(() => !document.querySelector('#retry-submit')?.disabled, null, { timeout: 5000 });
  await retry.click();
  await page.locator('#offers-section').waitFor();
  assert.equal(keys.length, 2);
  assert.ok(keys[0] && keys[0] === keys[1], `the retry carries the same Idempotency-Key: ${JSON.stringify(keys)}`);
  // The quote's W3C trace, which the services follow it by (tests/integration Tracing): the same on the retry.
  assert.match(traces[0] || '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  assert.equal(traces[1], traces[0], 'the retry is the same trace');
  const requestId = await page.locator('body').getAttribute('data-request');
  assert.match(requestId, /^[0-9a-f-]{36}$/);
  await page.close();
});
