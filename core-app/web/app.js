// The quote page: sign in, fill the form (or take the saved profile), send it,
// then watch every insurer's answer arrive live — over WebSocket, or over
// Server-Sent Events where WebSocket does not get through — resuming after a
// lost connection from the last seq seen, so no row is lost or doubled.
'use strict';

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];
/** Russian plural: plural(5, ['предложение', 'предложения', 'предложений']). */
function plural(n, forms) {
  const m10 = n % 10, m100 = n % 100;
  if (m10 === 1 && m100 !== 11) return forms[0];
  if (m10 >= 2 && m10 <= 4 && (m100 < 12 || m100 > 14)) return forms[1];
  return forms[2];
}
const rub = (amount) => Number(amount).toLocaleString('ru-RU', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

const FAILURE_TEXT = {
  DECLINED: 'Отказ',
  COMPANY_DISABLED: 'Компания отключена',
  CIRCUIT_OPEN: 'Временно недоступна',
  BULKHEAD_FULL: 'Перегружена, попробуйте позже',
  PARTNER_UNAVAILABLE: 'Сервис страховой недоступен',
  PARTNER_TIMEOUT: 'Страховая не ответила',
  PARTNER_ERROR: 'Ошибка на стороне страховой',
  PARTNER_REJECTED_INPUT: 'Страховая не приняла данные',
  PLUGIN_ERROR: 'Сбой подключения к страховой',
  PLUGIN_HUNG: 'Сбой подключения к страховой',
  PLUGIN_UNAVAILABLE: 'Подключение к страховой не загружено',
  DEADLINE_EXCEEDED: 'Не ответила вовремя',
};

const state = {
  profile: null,
  request: null,          // {id, deadlineMs}
  rows: new Map(),        // companyId → the company as last known
  lastSeq: -1,
  ended: false,
  sortByPrice: true,
  openFactors: new Set(), // companyIds whose «Из чего цена» is open (kept across re-renders)
  transport: null,        // {close()}
  wsFailures: 0,
  reconnectDelay: 500,
  reconnects: 0,
  countdownTimer: null,
  idempotency: null,      // {body, key}: a resent identical form reuses its key
  buying: null,           // {companyId, body, key}: the offer whose purchase form is open (a resend reuses its key)
};

// ---------- sign-in and profile ----------

async function init() {
  const r = await fetch('/api/profile', { signal: AbortSignal.timeout(10000) }).catch(() => null);
  if (r && r.status === 401) return showLogin();
  showQuoteForm();
  if (!r) { $('#profile-note').textContent = 'Сервис не отвечает — заполните данные вручную.'; return; }
  if (r.ok) showProfile(await r.json());
  else if (r.status === 404) $('#profile-note').textContent = 'Сохранённого профиля нет — заполните данные вручную.';
  else $('#profile-note').textContent = 'Сохранённые данные сейчас недоступны — заполните форму вручную.';
}

function showLogin() {
  $('#login-section').hidden = false;
  $('#quote-section').hidden = true;
  $('#who').hidden = true;
  $('#login-user').focus();
}

$('#login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const user = $('#login-user').value.trim();
  showErrors([], $('#login-form'));
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(user)) {
    showErrors([{ field: 'userId', reason: '1–64 символа: латинские буквы, цифры, «.», «_», «-»' }], $('#login-form'));
    return;
  }
  const r = await fetch('/api/dev/login', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, signal: AbortSignal.timeout(10000),
    body: JSON.stringify({ userId: user }),
  }).catch(() => null);
  if (!r || !r.ok) { $('#login-error').textContent = 'Не удалось войти, попробуйте ещё раз.'; return; }
  sessionStorage.setItem('osago.user', user);
  $('#login-section').hidden = true;
  init();
});

function showQuoteForm() {
  const user = sessionStorage.getItem('osago.user');
  if (user) { $('#who').textContent = `Вы вошли как ${user}`; $('#who').hidden = false; }
  $('#quote-section').hidden = false;
  const start = $('[name="policy.startDate"]');
  if (!start.value) {
    const d = new Date(Date.now() + 86400000);
    start.value = d.toISOString().slice(0, 10);
  }
  if (!$$('#drivers .driver').length) addDriver({});
}

function showProfile(profile) {
  state.profile = profile;
  const select = $('#profile-vehicle');
  select.textContent = '';
  for (const v of profile.vehicles || []) {
    const o = document.createElement('option');
    o.value = v.id;
    o.textContent = `${v.make} ${v.model}, ${v.year} — ${v.plate}`;
    select.appendChild(o);
  }
  const box = $('#profile-drivers');
  $$('.check', box).forEach((n) => n.remove());
  for (const d of profile.drivers || []) {
    const wrap = document.createElement('div');
    wrap.className = 'field check';
    // Built node by node: a saved profile is data, never markup.
    const input = document.createElement('input');
    input.type = 'checkbox';
    input.id = `profile-driver-${d.id}`;
    input.value = d.id;
    input.checked = true;
    const label = document.createElement('label');
    label.htmlFor = input.id;
    label.textContent = `${d.lastName} ${d.firstName}`;
    wrap.append(input, label);
    box.appendChild(wrap);
  }
  $('#profile-panel').hidden = false;
  fillFromProfile();
  $('#profile-note').textContent = 'Форма заполнена из вашего профиля — проверьте данные.';
}

function fillFromProfile() {
  const p = state.profile;
  if (!p) return;
  const vehicle = (p.vehicles || []).find((v) => v.id === $('#profile-vehicle').value);
  if (vehicle) for (const k of ['make', 'model', 'year', 'enginePowerHp', 'vin', 'plate']) setValue(`vehicle.${k}`, vehicle[k]);
  setValue('owner.lastName', p.lastName);
  setValue('owner.firstName', p.firstName);
  setValue('owner.middleName', p.middleName || '');
  setValue('owner.birthDate', p.birthDate);
  setValue('owner.regionCode', p.registrationRegion);
  const chosen = $$('#profile-drivers input:checked').map((i) => i.value);
  const drivers = (p.drivers || []).filter((d) => chosen.includes(d.id));
  if (drivers.length) {
    $('#drivers').textContent = '';
    drivers.forEach(addDriver);
    $('[name="policy.multidrive"]').checked = false;
    toggleMultidrive();
  }
}
$('#profile-fill').addEventListener('click', fillFromProfile);

function setValue(name, value) {
  const input = $(`[name="${name}"]`);
  if (input && value !== undefined && value !== null) input.value = value;
}

// ---------- drivers ----------

function addDriver(d) {
  const list = $('#drivers');
  if ($$('.driver', list).length >= 10) return;
  const node = $('#driver-template').content.firstElementChild.cloneNode(true);
  list.appendChild(node);
  for (const input of $$('input', node)) input.value = d[input.dataset.name] || '';
  renumberDrivers();
  $('.remove-driver', node).addEventListener('click', () => { node.remove(); renumberDrivers(); });
}

function renumberDrivers() {
  $$('#drivers .driver').forEach((node, i) => {
    node.dataset.index = i;
    $('.driver-title', node).textContent = `Водитель ${i + 1}`;
    for (const input of $$('input', node)) {
      input.name = `drivers[${i}].${input.dataset.name}`;
      input.id = input.name;
      $(`label[data-for="${input.dataset.name}"]`, node).htmlFor = input.id;
    }
    $('.remove-driver', node).setAttribute('aria-label', `Убрать водителя ${i + 1}`);
  });
}

$('#add-driver').addEventListener('click', () => {
  addDriver({});
  $$('#drivers .driver').at(-1).querySelector('input').focus();
});

function toggleMultidrive() {
  const any = $('[name="policy.multidrive"]').checked;
  $('#drivers').hidden = any;
  $('#add-driver').hidden = any;
}
$('[name="policy.multidrive"]').addEventListener('change', toggleMultidrive);

// ---------- the form ----------

function readQuote() {
  const value = (name) => ($(`[name="${name}"]`)?.value ?? '').trim();
  const number = (name) => (/^\d+$/.test(value(name)) ? Number(value(name)) : value(name));
  const multidrive = $('[name="policy.multidrive"]').checked;
  const owner = {};
  for (const k of ['lastName', 'firstName', 'middleName', 'birthDate', 'regionCode']) owner[k] = value(`owner.${k}`);
  if (!owner.middleName) delete owner.middleName;
  return {
    vehicle: {
      category: 'B', make: value('vehicle.make'), model: value('vehicle.model'), year: number('vehicle.year'),
      enginePowerHp: number('vehicle.enginePowerHp'), vin: value('vehicle.vin').toUpperCase(),
      plate: OsagoValidation.normalizePlate(value('vehicle.plate')),
    },
    owner,
    drivers: multidrive ? [] : $$('#drivers .driver').map((node) => {
      const d = {};
      for (const input of $$('input', node)) d[input.dataset.name] = input.value.trim();
      d.licenseSeries = OsagoValidation.normalizePlate(d.licenseSeries);
      return d;
    }),
    policy: { startDate: value('policy.startDate'), usageMonths: number('policy.usageMonths'), multidrive },
  };
}

/** Marks each field of `errors` ({field, reason}) and focuses the first; clears the others. */
function showErrors(errors, form = $('#quote-form')) {
  for (const input of $$('[aria-invalid="true"]', form)) input.removeAttribute('aria-invalid');
  for (const p of $$('.field-error', form)) p.textContent = '';
  let first = null;
  for (const { field, reason } of errors) {
    const input = form.querySelector(`[name="${CSS.escape(field)}"]`);
    let slot;
    if (input) {
      input.setAttribute('aria-invalid', 'true');
      const id = `${input.id}-error`;
      slot = document.getElementById(id);
      if (!slot) {
        slot = document.createElement('p');
        slot.className = 'field-error';
        slot.id = id;
        input.closest('.field').appendChild(slot);
      }
      input.setAttribute('aria-describedby', id);
      first = first || input;
    } else {
      slot = field.startsWith('drivers') ? $('#drivers-error') : $('#form-error');
    }
    slot.textContent = slot.textContent ? `${slot.textContent}; ${reason}` : reason;
  }
  if (first) first.focus();
}

/**
 * A W3C traceparent for a new quote ("00-<trace id>-<span id>-01"): the services
 * put its trace id on every log line, event and partner call about the quote.
 */
function newTraceparent() {
  const hex = (n) => Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, '0')).join('');
  return `00-${hex(16)}-${hex(8)}-01`;
}

$('#quote-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('#form-error').textContent = '';
  const quote = readQuote();
  const errors = OsagoValidation.validateQuote(quote);
  showErrors(errors);
  if (errors.length) return;
  const body = JSON.stringify(quote);
  // One key and one trace per quote: a retry of the same quote is the same request, followed as one trace.
  if (!state.idempotency || state.idempotency.body !== body) {
    state.idempotency = { body, key: crypto.randomUUID(), traceparent: newTraceparent() };
  }
  $('#submit').disabled = true;
  try {
    const r = await fetch('/api/osago/requests', {
      method: 'POST', signal: AbortSignal.timeout(10000),
      headers: {
        'Content-Type': 'application/json', 'Idempotency-Key': state.idempotency.key,
        traceparent: state.idempotency.traceparent,
      },
      body,
    });
    const answer = await r.json().catch(() => ({}));
    if (r.status === 401) return showLogin();
    if (r.status === 400 && answer.fields) return showErrors(answer.fields.map(serverError));
    if (r.status === 429) {
      $('#form-error').textContent = `Слишком много запросов — повторите через ${r.headers.get('Retry-After') || 'несколько'} с.`;
      return;
    }
    if (r.status === 503 && answer.error === 'OVERLOADED') return offerRetry(Number(r.headers.get('Retry-After')) || 5);
    if (!r.ok) { $('#form-error').textContent = 'Сервис расчёта временно недоступен, попробуйте через несколько секунд.'; return; }
    state.idempotency = null;
    startQuote(answer);
  } catch (err) {
    $('#form-error').textContent = 'Сервис не отвечает, попробуйте ещё раз.';
  } finally {
    $('#submit').disabled = false;
  }
});

/**
 * The service is at capacity and took nothing: say so and offer to send the same
 * request again (the same Idempotency-Key, so it is never stored twice) once the
 * server's Retry-After has passed.
 */
function offerRetry(seconds) {
  const note = $('#form-error');
  note.textContent = '';
  const text = document.createElement('span');
  const button = document.createElement('button');
  button.type = 'button';
  button.id = 'retry-submit';
  button.className = 'secondary';
  button.textContent = 'Повторить';
  button.disabled = true;
  button.addEventListener('click', () => $('#quote-form').requestSubmit());
  note.append(text, ' ', button);
  let left = Math.min(Math.max(1, Math.round(seconds)), 60);
  const tick = () => {
    text.textContent = left > 0
      ? `Сейчас расчётов больше, чем мы успеем отправить страховым вовремя, — ваш запрос не принят. Повторить можно через ${left} с.`
      : 'Сейчас расчётов больше, чем мы успеем отправить страховым вовремя, — ваш запрос не принят. Можно повторить.';
    button.disabled = left > 0;
    if (left-- > 0) setTimeout(tick, 1000);
  };
  tick();
}

/** The server's reasons are English; the page speaks Russian where it knows the reason. */
function serverError({ field, reason }) {
  const known = [
    [/not a known field/, 'Неизвестное поле'], [/required|missing/, 'Заполните поле'],
    [/in the past/, 'Дата не может быть в прошлом'], [/at least 16/, 'На дату начала полиса должно быть не меньше 16 лет'],
  ];
  const hit = known.find(([re]) => re.test(reason));
  return { field, reason: hit ? hit[1] : `Проверьте значение (${reason})` };
}

// ---------- live offers ----------

function startQuote(created) {
  // The create answer carries no times; the first snapshot's createdAt/deadlineAt refine this.
  state.request = { id: created.osagoRequestId, startedMs: Date.now(), deadlineMs: Date.now() + 60000 };
  state.rows = new Map((created.insuranceCompanies || []).map((c) => [c.companyId, c]));
  state.lastSeq = typeof created.lastSeq === 'number' ? created.lastSeq : -1;
  state.ended = false;
  document.body.dataset.request = state.request.id;
  state.wsFailures = 0;
  state.reconnects = 0;
  $('#quote-section').hidden = true;
  $('#offers-section').hidden = false;
  $('#new-quote').hidden = true;
  $('#summary').textContent = '';
  render();
  startCountdown();
  connect();
  $('#offers-title').focus();
}

function setStreamState(kind, text) {
  document.body.dataset.stream = kind;
  const p = $('#stream-state');
  p.className = `stream-state ${kind}`;
  p.textContent = text;
}

function connect() {
  if (state.ended) return;
  const base = `/api/osago/requests/${state.request.id}`;
  if ('WebSocket' in window && state.wsFailures < 2) connectWebSocket(base);
  else connectEventSource(base);
}

function connectWebSocket(base) {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${proto}//${location.host}${base}/ws?fromSeq=${state.lastSeq}`);
  let opened = false;
  // Closed on purpose (the end, or a gap to resume from): not a lost connection.
  state.transport = { close: () => { ws.onclose = null; ws.close(1000); } };
  ws.onopen = () => { opened = true; state.wsFailures = 0; state.reconnectDelay = 500; setStreamState('live', 'Получаем ответы страховых компаний…'); };
  ws.onmessage = (ev) => { const m = JSON.parse(ev.data); handle(m.type, m.seq, m.data); };
  ws.onclose = () => {
    if (state.ended) return;
    if (!opened) state.wsFailures += 1;
    lostConnection();
  };
}

function connectEventSource(base) {
  // EventSource sends Last-Event-ID itself when it reconnects; the first
  // connection passes the seq in the address.
  const es = new EventSource(`${base}/stream?lastEventId=${state.lastSeq}`);
  state.transport = { close: () => es.close() };
  es.onopen = () => { state.reconnectDelay = 500; setStreamState('live', 'Получаем ответы страховых компаний…'); };
  for (const type of ['snapshot', 'company', 'purchase', 'end']) {
    es.addEventListener(type, (ev) => handle(type, Number(ev.lastEventId), JSON.parse(ev.data)));
  }
  es.onerror = () => {
    if (state.ended) return;
    es.close();
    lostConnection();
  };
}

function lostConnection() {
  state.reconnects += 1;
  document.body.dataset.reconnects = state.reconnects;
  setStreamState('reconnecting', 'Связь прервалась — переподключаемся…');
  const delay = state.reconnectDelay;
  state.reconnectDelay = Math.min(delay * 2, 5000);
  setTimeout(connect, delay);
}

/** One message of the stream, in the server's seq order; anything out of order is not applied. */
function handle(type, seq, data) {
  if (type === 'snapshot') {
    if (seq <= state.lastSeq) return;
    state.rows = new Map(data.insuranceCompanies.map((c) => [c.companyId, c]));
    state.lastSeq = seq;
    const allowed = Date.parse(data.deadlineAt) - Date.parse(data.createdAt);
    if (allowed > 0) state.request.deadlineMs = state.request.startedMs + allowed;
  } else if (type === 'company' || type === 'purchase') {
    if (seq <= state.lastSeq) return;  // already shown
    if (seq !== state.lastSeq + 1) {   // a gap: ask again from what is shown
      state.transport?.close();
      return lostConnection();
    }
    const row = state.rows.get(data.companyId);
    if (type === 'company') state.rows.set(data.companyId, { ...row, ...data });
    else if (row) state.rows.set(data.companyId, { ...row, purchase: data.purchase });
    state.lastSeq = seq;
  } else if (type === 'end') {
    finish(data.reason);
    return;
  }
  render();
}

function finish(reason) {
  state.ended = true;
  state.transport?.close();
  clearInterval(state.countdownTimer);
  $('#countdown').textContent = '';
  render();
  // A purchase began after this stream's end was sent: follow it on a new stream.
  if (reason === 'COMPLETED' && livePurchase()) return follow();
  const all = [...state.rows.values()];
  const offers = all.filter((c) => c.status === 'COMPLETED' && c.offer);
  if (reason === 'TOKEN_EXPIRED') {
    setStreamState('ended', 'Сессия истекла — войдите снова, чтобы увидеть итог.');
  } else if (reason === 'NOT_FOUND') {
    setStreamState('ended', 'Этот расчёт больше недоступен.');
  } else {
    const late = all.some((c) => c.status === 'TIMEOUT');
    setStreamState('ended', late ? 'Время ожидания истекло — показаны ответы, пришедшие вовремя.' : 'Все страховые ответили.');
    const best = offers.sort((a, b) => a.offer.premium.amount - b.offer.premium.amount)[0];
    $('#summary').textContent = offers.length
      ? `Готово: ${offers.length} ${plural(offers.length, ['предложение', 'предложения', 'предложений'])} ` +
        `из ${all.length} ${plural(all.length, ['компании', 'компаний', 'компаний'])}. ` +
        `Лучшая цена — ${rub(best.offer.premium.amount)} ₽, ${best.companyName}.`
      : `Готово: ни одна из ${all.length} ${plural(all.length, ['компании', 'компаний', 'компаний'])} не прислала предложение.`;
  }
  $('#new-quote').hidden = false;
}

$('#new-quote').addEventListener('click', () => {
  $('#offers-section').hidden = true;
  $('#quote-section').hidden = false;
  delete document.body.dataset.stream;
});

function startCountdown() {
  clearInterval(state.countdownTimer);
  const tick = () => {
    const left = Math.max(0, Math.round((state.request.deadlineMs - Date.now()) / 1000));
    $('#countdown').textContent = left > 0
      ? `Ответы принимаются ещё ${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}`
      : 'Время ожидания истекло, подводим итог…';
  };
  tick();
  state.countdownTimer = setInterval(tick, 1000);
}

function statusOf(c) {
  if (c.status === 'COMPLETED' && c.offer) return ['offer', 'Предложение'];
  if (c.status === 'TIMEOUT') return ['timeout', 'Не ответила вовремя'];
  if (c.status === 'FAILED') {
    const code = c.error?.code;
    if (code === 'DECLINED') return ['declined', c.error.reason ? `Отказ: ${c.error.reason}` : 'Отказ'];
    if (code === 'COMPANY_DISABLED') return ['disabled', FAILURE_TEXT.COMPANY_DISABLED];
    return ['failed', FAILURE_TEXT[code] || 'Ошибка'];
  }
  return ['waiting', 'Ждём ответа…'];
}

// The factors of an OSAGO price (Bank of Russia's formula: the insurer's base
// rate times regulated coefficients), as insurers report them in
// offer.factors. Partner data: only these keys are shown, as text, and only
// values that are plain decimals.
const FACTORS = [
  ['tb', 'ТБ', 'базовая ставка страховой', true],
  ['kt', 'КТ', 'территория регистрации собственника'],
  ['kbm', 'КБМ', 'бонус-малус: безаварийная езда'],
  ['kvs', 'КВС', 'возраст и стаж водителя'],
  ['ko', 'КО', 'число допущенных к управлению'],
  ['km', 'КМ', 'мощность двигателя'],
  ['ks', 'КС', 'период использования'],
  ['kp', 'КП', 'срок страхования'],
  ['kn', 'КН', 'грубые нарушения'],
  ['kpr', 'КПр', 'прицеп'],
];

function factorsOf(offer) {
  const f = offer && offer.factors;
  if (!f || typeof f !== 'object' || Array.isArray(f)) return [];
  const out = [];
  for (const [key, short, long, money] of FACTORS) {
    const v = f[key];
    if (typeof v !== 'string' && typeof v !== 'number') continue;
    const text = String(v);
    if (!/^\d{1,9}(\.\d{1,4})?$/.test(text)) continue;
    out.push({ short, long, value: money ? `${rub(text)} ₽` : text.replace('.', ',') });
  }
  return out;
}

/** «Из чего цена»: a disclosure with the offer's factors, or null when the insurer gave none. */
function factorsDisclosure(c) {
  const factors = factorsOf(c.offer);
  if (factors.length < 2) return null;
  const details = document.createElement('details');
  details.className = 'factors';
  details.open = state.openFactors.has(c.companyId);
  details.addEventListener('toggle', () => {
    if (details.open) state.openFactors.add(c.companyId);
    else state.openFactors.delete(c.companyId);
    // The rows may have been drawn again between the click and this event: the live row follows.
    if (!details.isConnected) {
      const live = document.querySelector(`#offers tbody tr[data-company="${CSS.escape(c.companyId)}"] details.factors`);
      if (live) live.open = details.open;
    }
  });
  const summary = document.createElement('summary');
  summary.textContent = 'Из чего цена';
  const list = document.createElement('dl');
  for (const f of factors) {
    const dt = document.createElement('dt');
    const abbr = document.createElement('abbr');
    abbr.title = f.long;
    abbr.textContent = f.short;
    dt.append(abbr, ` — ${f.long}`);
    const dd = document.createElement('dd');
    dd.textContent = f.value;
    list.append(dt, dd);
  }
  const note = document.createElement('p');
  note.textContent = 'Цена — базовая ставка, умноженная на коэффициенты (не выше предела, установленного законом).';
  details.append(summary, list, note);
  return details;
}

function render() {
  const all = [...state.rows.values()];
  const prices = all.filter((c) => c.status === 'COMPLETED' && c.offer).map((c) => Number(c.offer.premium.amount));
  const best = prices.length ? Math.min(...prices) : null;
  const rank = { offer: 0, waiting: 1, declined: 2, failed: 2, timeout: 2, disabled: 3 };
  all.sort((a, b) => {
    if (!state.sortByPrice) return (a.companyName || '').localeCompare(b.companyName || '', 'ru');
    const [ka] = statusOf(a);
    const [kb] = statusOf(b);
    if (rank[ka] !== rank[kb]) return rank[ka] - rank[kb];
    if (ka === 'offer') return a.offer.premium.amount - b.offer.premium.amount;
    return (a.companyName || '').localeCompare(b.companyName || '', 'ru');
  });
  const tbody = $('#offers tbody');
  tbody.textContent = '';
  for (const c of all) {
    const [kind, text] = statusOf(c);
    const tr = document.createElement('tr');
    tr.dataset.company = c.companyId;
    tr.dataset.status = kind;
    tr.className = kind;
    const price = kind === 'offer' ? Number(c.offer.premium.amount) : null;
    const isBest = price !== null && price === best;
    if (isBest) tr.classList.add('best');
    const name = document.createElement('th');
    name.scope = 'row';
    name.textContent = c.companyName || c.companyId;
    const status = document.createElement('td');
    status.textContent = text;
    if (isBest) {
      const badge = document.createElement('span');
      badge.className = 'badge';
      badge.textContent = 'Лучшая цена';
      status.append(' ', badge);
    }
    if (kind === 'offer') {
      const factors = factorsDisclosure(c);
      if (factors) status.append(factors);
      const buy = purchaseControl(c);
      if (buy) status.append(buy);
    }
    const cell = document.createElement('td');
    cell.className = 'price';
    cell.textContent = price !== null ? rub(price) : '—';
    tr.append(name, status, cell);
    tbody.appendChild(tr);
  }
  renderPurchase();
}

// ---------- buying an offer ----------

const PURCHASE_REFUSALS = {
  OFFER_EXPIRED: 'Предложение устарело — запросите цены заново.',
  OFFER_SUPERSEDED: 'Есть более новый расчёт для этого автомобиля — оформите полис из него.',
  NOT_PURCHASABLE: 'Эту страховую нельзя оформить здесь — оформите полис на её сайте.',
  NO_OFFER: 'У этой страховой нет предложения.',
  PURCHASE_EXISTS: 'По этому расчёту уже оформляется полис.',
  NOT_FOUND: 'Расчёт не найден.',
};

/** A purchase under way or done (one policy per request): DECLINED and FAILED leave the way open. */
function livePurchase() {
  return [...state.rows.values()].find((c) => c.purchase && !['DECLINED', 'FAILED'].includes(c.purchase.status)) || null;
}

/** A link of the insurer's the page may show: http(s) only. */
function safeLink(url) {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null;
  } catch (e) {
    return null;
  }
}

/** The row's part of buying: «Оформить», where this offer's purchase stands, or why it cannot be bought here. */
function purchaseControl(c) {
  const box = document.createElement('div');
  box.className = 'buy';
  if (c.purchase) {
    box.textContent = purchaseText(c.purchase);
    box.dataset.purchase = c.purchase.status;
    return box;
  }
  if (c.offer.purchasable === false) {
    box.className = 'buy note';
    box.textContent = 'Оформление — на сайте страховой';
    return box;
  }
  if (c.offer.purchasable !== true || livePurchase()) return null;
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'secondary buy-button';
  button.textContent = 'Оформить';
  button.setAttribute('aria-label', `Оформить полис: ${c.companyName || c.companyId}`);
  button.addEventListener('click', () => openPurchase(c.companyId));
  box.append(button);
  return box;
}

function purchaseText(p) {
  switch (p.status) {
    case 'CREATED':
    case 'PENDING': return 'Страховая проверяет данные…';
    case 'PAYMENT': return 'Ожидает оплаты';
    case 'PAID': return 'Оплачено, полис оформляется…';
    case 'ISSUED': return `Полис оформлен: ${p.policy?.number || ''}`;
    case 'DECLINED': return `Страховая отказала в оформлении${p.error?.reason ? ` (${p.error.reason})` : ''}`;
    default: return 'Не удалось оформить';
  }
}

function openPurchase(companyId) {
  const c = state.rows.get(companyId);
  if (!c || !c.offer) return;
  state.buying = { companyId, body: null, key: null };
  $('#purchase-offer').textContent = `${c.companyName || companyId}: ${rub(c.offer.premium.amount)} ₽`;
  $('#purchase-error').textContent = '';
  $('#purchase-state').textContent = '';
  showErrors([], $('#purchase-form'));
  $('#purchase-form').hidden = false;
  $('#purchase-section').hidden = false;
  document.getElementById('buyer.email').focus();
}

$('#purchase-cancel').addEventListener('click', () => {
  state.buying = null;
  $('#purchase-section').hidden = true;
});

/** The buyer's reasons from the server, in Russian. */
function buyerError({ field, reason }) {
  if (/required|missing/.test(reason)) return { field, reason: 'Заполните поле' };
  if (field === 'buyer.email') return { field, reason: 'Укажите адрес почты, например ivanov@example.ru' };
  if (field === 'buyer.phone') return { field, reason: 'Укажите российский номер, например +7 900 123-45-67' };
  return { field, reason: `Проверьте значение (${reason})` };
}

$('#purchase-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  if (!state.buying || !state.request) return;
  $('#purchase-error').textContent = '';
  const field = (id) => document.getElementById(id).value.trim();
  const buyer = { email: field('buyer.email'), phone: field('buyer.phone') };
  const missing = Object.entries(buyer).filter(([, v]) => !v).map(([k]) => ({ field: `buyer.${k}`, reason: 'Заполните поле' }));
  showErrors(missing, $('#purchase-form'));
  if (missing.length) return;
  const body = JSON.stringify({ buyer });
  // One key per purchase: a resend (a lost answer, a double click) is the same purchase.
  if (state.buying.body !== body) Object.assign(state.buying, { body, key: crypto.randomUUID() });
  const companyId = state.buying.companyId;
  $('#purchase-submit').disabled = true;
  try {
    const r = await fetch(`/api/osago/requests/${state.request.id}/offers/${encodeURIComponent(companyId)}/purchase`, {
      method: 'POST', signal: AbortSignal.timeout(10000),
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': state.buying.key, traceparent: newTraceparent() },
      body,
    });
    const answer = await r.json().catch(() => ({}));
    if (r.status === 401) return showLogin();
    if (r.status === 400 && answer.fields) return showErrors(answer.fields.map(buyerError), $('#purchase-form'));
    if (r.status === 429) {
      $('#purchase-error').textContent = `Слишком много запросов — повторите через ${r.headers.get('Retry-After') || 'несколько'} с.`;
      return;
    }
    if (!r.ok) {
      $('#purchase-error').textContent = PURCHASE_REFUSALS[answer.error] || 'Сервис оформления временно недоступен, попробуйте ещё раз.';
      return;
    }
    const row = state.rows.get(companyId);
    if (row && (!row.purchase || row.purchase.status === 'CREATED')) state.rows.set(companyId, { ...row, purchase: answer });
    $('#purchase-form').hidden = true;
    render();
    follow();
  } catch (err) {
    $('#purchase-error').textContent = 'Сервис не отвечает, попробуйте ещё раз.';
  } finally {
    $('#purchase-submit').disabled = false;
  }
});

/** Follows the request's stream again (from what is shown) while a purchase is under way. */
function follow() {
  if (!state.ended) return;
  state.ended = false;
  $('#new-quote').hidden = true;
  setStreamState('live', 'Следим за оформлением…');
  connect();
}

/** The purchase panel: where the purchase stands, the payment link when it comes, the policy at the end. */
function renderPurchase() {
  // The offer whose form is open, once it has a purchase; else the live (or latest) purchase of the request.
  const chosen = state.buying && state.rows.get(state.buying.companyId);
  if (chosen && !chosen.purchase) return;  // its form is being filled in
  const c = chosen || livePurchase() || [...state.rows.values()].find((r) => r.purchase);
  const box = $('#purchase-state');
  if (!c) return;
  $('#purchase-section').hidden = false;
  $('#purchase-form').hidden = true;
  $('#purchase-offer').textContent = `${c.companyName || c.companyId}: ${rub(c.offer.premium.amount)} ₽`;
  const p = c.purchase;
  box.dataset.status = p.status;
  box.textContent = '';
  const line = document.createElement('p');
  line.className = 'purchase-line';
  box.append(line);
  const link = (href, text, id) => {
    const a = document.createElement('a');
    a.href = href;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    a.id = id;
    a.textContent = text;
    return a;
  };
  if (p.status === 'PAYMENT') {
    line.textContent = 'Страховая готова: оплатите полис на её странице.';
    const pay = safeLink(p.payment?.url);
    if (pay) box.append(link(pay, 'Перейти к оплате', 'pay-link'));
    const draft = safeLink(p.payment?.draftUrl);
    if (draft) box.append(' ', link(draft, 'Проект полиса', 'draft-link'));
    const till = Date.parse(p.payment?.expiresAt);
    if (till) {
      const note = document.createElement('p');
      note.className = 'note';
      note.textContent = `Оплатить можно до ${new Date(till).toLocaleTimeString('ru-RU', { hour: '2-digit', minute: '2-digit' })}.`;
      box.append(note);
    }
  } else if (p.status === 'ISSUED') {
    line.textContent = 'Полис оформлен. Номер полиса: ';
    const number = document.createElement('strong');
    number.id = 'policy-number';
    number.textContent = p.policy?.number || '';
    line.append(number);
    const doc = safeLink(p.policy?.url);
    if (doc) box.append(link(doc, 'Полис', 'policy-link'));
  } else if (p.status === 'DECLINED' || p.status === 'FAILED') {
    line.textContent = `${purchaseText(p)}. Можно выбрать другое предложение.`;
    line.className = 'purchase-line error';
  } else {
    line.textContent = purchaseText(p);
  }
}

$('#sort').addEventListener('click', () => {
  state.sortByPrice = !state.sortByPrice;
  $('#sort').setAttribute('aria-pressed', String(state.sortByPrice));
  $('#sort').textContent = state.sortByPrice ? 'Сортировка: по цене' : 'Сортировка: по названию';
  render();
});

init();
