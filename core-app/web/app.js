// The quote page: sign in (demo), send the form, then show each insurer's
// status and offer as events arrive over Server-Sent Events.
'use strict';

const $ = (sel) => document.querySelector(sel);
const STATUS_TEXT = {
  IN_PROGRESS: 'Ждём ответа…', COMPLETED: 'Предложение', FAILED: 'Отказ / ошибка', TIMEOUT: 'Не ответила вовремя',
};
const rows = new Map(); // companyId → state

function isoDate(d) { return d.toISOString().slice(0, 10); }

function showQuoteForm() {
  $('#login-section').hidden = true;
  $('#quote-section').hidden = false;
  const start = $('input[name="policy.startDate"]');
  if (!start.value) { const d = new Date(); d.setDate(d.getDate() + 1); start.value = isoDate(d); }
}

$('#login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const r = await fetch('/api/dev/login', { method: 'POST', headers: { 'Content-Type': 'application/json' },
    signal: AbortSignal.timeout(10000),
    body: JSON.stringify({ userId: $('#login-user').value.trim() }) });
  if (r.ok) showQuoteForm(); else $('#login-error').textContent = (await r.json()).message;
});

function formToQuote(form) {
  const quote = { vehicle: { category: 'B' }, owner: {}, drivers: [{}], policy: { multidrive: false } };
  for (const input of form.querySelectorAll('input[name]')) {
    const m = input.name.match(/^(\w+)(?:\[(\d+)\])?\.(\w+)$/);
    let target = quote[m[1]];
    if (m[2] !== undefined) target = target[Number(m[2])];
    const numeric = input.type === 'number';
    if (input.value === '' && !input.required) continue;
    target[m[3]] = numeric ? Number(input.value) : input.value.trim();
  }
  return quote;
}

function clearFieldErrors() {
  document.querySelectorAll('.field-error').forEach((n) => n.remove());
  document.querySelectorAll('[aria-invalid]').forEach((n) => n.removeAttribute('aria-invalid'));
  $('#form-error').textContent = '';
}

function showFieldErrors(fields) {
  for (const f of fields) {
    const input = document.querySelector(`input[name="${CSS.escape(f.field)}"]`);
    if (!input) { $('#form-error').textContent += `${f.field}: ${f.reason}. `; continue; }
    input.setAttribute('aria-invalid', 'true');
    const note = document.createElement('span');
    note.className = 'field-error';
    note.id = `err-${f.field}`;
    note.textContent = f.reason;
    input.setAttribute('aria-describedby', note.id);
    input.after(note);
  }
}

$('#quote-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  clearFieldErrors();
  $('#submit').disabled = true;
  try {
    const r = await fetch('/api/osago/requests', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      signal: AbortSignal.timeout(10000),
      body: JSON.stringify(formToQuote(e.target)) });
    const body = await r.json();
    if (r.status === 400 && body.fields) { showFieldErrors(body.fields); return; }
    if (!r.ok) { $('#form-error').textContent = body.message || `Ошибка ${r.status}`; return; }
    startStream(body);
  } catch (err) {
    $('#form-error').textContent = 'Сервис не отвечает, попробуйте ещё раз.';
  } finally {
    $('#submit').disabled = false;
  }
});

function render() {
  const tbody = $('#offers tbody');
  tbody.textContent = '';
  const prices = [...rows.values()].filter((c) => c.offer).map((c) => Number(c.offer.premium.amount));
  const best = prices.length ? Math.min(...prices) : null;
  const sorted = [...rows.values()].sort((a, b) =>
    (a.offer ? Number(a.offer.premium.amount) : Infinity) - (b.offer ? Number(b.offer.premium.amount) : Infinity));
  for (const c of sorted) {
    const tr = document.createElement('tr');
    tr.dataset.company = c.companyId;
    tr.dataset.status = c.status;
    const price = c.offer ? Number(c.offer.premium.amount) : null;
    if (price !== null && price === best) tr.className = 'best';
    const reason = c.error ? ` (${c.error.message || c.error.code})` : '';
    for (const text of [c.companyName || c.companyId, (STATUS_TEXT[c.status] || c.status) + reason,
      price !== null ? price.toLocaleString('ru-RU', { minimumFractionDigits: 2 }) : '—']) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.appendChild(td);
    }
    tr.lastChild.className = 'price';
    tbody.appendChild(tr);
  }
}

function startStream(created) {
  rows.clear();
  for (const c of created.insuranceCompanies) rows.set(c.companyId, c);
  $('#offers-section').hidden = false;
  render();
  const es = new EventSource(`/api/osago/requests/${created.osagoRequestId}/stream`);
  $('#stream-state').textContent = 'Получаем ответы страховых компаний…';
  es.addEventListener('snapshot', (ev) => {
    const view = JSON.parse(ev.data);
    for (const c of view.insuranceCompanies) rows.set(c.companyId, c);
    render();
  });
  es.addEventListener('company', (ev) => {
    const e = JSON.parse(ev.data);
    rows.set(e.companyId, { ...rows.get(e.companyId), ...e });
    render();
  });
  es.addEventListener('end', () => {
    es.close();
    const offers = [...rows.values()].filter((c) => c.offer).length;
    $('#stream-state').textContent = `Готово: ${offers} из ${rows.size} компаний прислали предложения.`;
  });
  es.onerror = () => { if (es.readyState !== EventSource.CLOSED) $('#stream-state').textContent = 'Переподключение…'; };
}
