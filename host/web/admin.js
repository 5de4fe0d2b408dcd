// The operators' page: every partner company with its plugin, switch, plugin worker, breaker,
// latency and success rate across all instances (GET /admin/partners and
// /admin/plugins, refreshed every 2 s), and the plugin switches, which every
// instance follows within about a second.
'use strict';

const $ = (sel) => document.querySelector(sel);
const TOKEN_KEY = 'osago.adminToken';
const BREAKER_TEXT = { CLOSED: 'закрыт', HALF_OPEN: 'пробные вызовы', OPEN: 'открыт' };
const WORKER_TEXT = { RUNNING: 'работает', RESTARTING: 'перезапускается', STARTING: 'запускается', STOPPED: 'остановлен' };

// This instance's plugin worker of a company: state, pid, restarts, last exit (and why, on hover).
function workerCell(plugin, company) {
  if (company.state === 'UNAVAILABLE') return { text: 'не создан', cls: 'worker state OPEN', title: company.error || '' };
  const w = company.worker;
  if (!w) return { text: plugin.isolation === 'in_process' ? 'в процессе агрегатора' : '—', cls: 'worker', title: '' };
  const parts = [WORKER_TEXT[w.state] || w.state];
  if (w.pid) parts.push(`pid ${w.pid}`);
  if (w.restarts) parts.push(`перезапусков ${w.restarts}`);
  const last = w.lastExit;
  if (last) parts.push(`последний: ${last.signal || last.reason}`);
  const quarantined = company.health?.quarantined;
  if (quarantined) parts.push(`в карантине ${quarantined}`);
  const byReason = Object.entries(w.restartsByReason || {}).map(([k, v]) => `${k}: ${v}`).join(', ');
  const title = last ? `${last.at}: ${last.message}${byReason ? ` (${byReason})` : ''}` +
    (last.stderrTail ? `\n${last.stderrTail}` : '') : '';
  return { text: parts.join(', '), cls: `worker state ${w.state === 'RUNNING' ? (w.restarts ? 'HALF_OPEN' : 'CLOSED') : 'OPEN'}`, title };
}
let timer = null;

function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }

async function api(method, path) {
  const r = await fetch(path, {
    method, headers: { Authorization: `Bearer ${token()}` }, signal: AbortSignal.timeout(5000),
  });
  if (r.status === 401) { signOut('Токен не подошёл.'); throw new Error('unauthorized'); }
  const body = await r.json().catch(() => ({}));
  return { status: r.status, body };
}

function signOut(reason = '') {
  sessionStorage.removeItem(TOKEN_KEY);
  clearInterval(timer);
  $('#partners-section').hidden = true;
  $('#token-section').hidden = false;
  $('#token-error').textContent = reason;
  $('#admin-token').focus();
}

async function refresh() {
  let plugins, fleet;
  try {
    [plugins, fleet] = await Promise.all([api('GET', '/admin/plugins'), api('GET', '/admin/partners')]);
  } catch (e) {
    if (e.message !== 'unauthorized') $('#updated').textContent = 'Нет связи с osago-aggregator — данные устарели';
    return;
  }
  const fleetById = new Map((fleet.status === 200 ? fleet.body.companies : []).map((c) => [c.id, c]));
  const rows = [];
  for (const p of plugins.body.plugins || []) {
    for (const c of p.companies || []) rows.push({ plugin: p, company: c, fleet: fleetById.get(c.id) });
  }
  rows.sort((a, b) => (a.company.name || a.company.id).localeCompare(b.company.name || b.company.id, 'ru'));
  render(rows);
  const rejected = plugins.body.rejected || [];
  $('#rejected').hidden = rejected.length === 0;
  $('#rejected-list').textContent = '';
  for (const r of rejected) {
    const li = document.createElement('li');
    li.textContent = `${r.file}: ${r.error}`;
    $('#rejected-list').appendChild(li);
  }
  $('#updated').textContent = `Обновлено ${new Date().toLocaleTimeString('ru-RU')}` +
    (fleet.status === 200 ? '' : ' (сводка по экземплярам недоступна — показан этот экземпляр)');
}

function render(rows) {
  const tbody = $('#partners tbody');
  tbody.textContent = '';
  for (const { plugin, company, fleet } of rows) {
    const local = company.health || {};
    const breaker = fleet ? fleet.breaker : local.breaker?.state;
    const p95 = fleet ? fleet.p95LatencyMs : local.latencyMs?.p95;
    const calls = fleet ? fleet.calls : local.calls;
    const failures = fleet ? fleet.failures : local.failures;
    const success = calls ? `${Math.round(((calls - failures) / calls) * 100)} %` : '—';
    const tr = document.createElement('tr');
    tr.dataset.company = company.id;
    tr.dataset.plugin = plugin.id;
    tr.dataset.enabled = String(plugin.enabled);
    if (!plugin.enabled) tr.className = 'disabled';
    const worker = workerCell(plugin, company);
    const cells = [
      ['th', company.name || company.id],
      ['td', `${plugin.id} ${plugin.version || ''}`],
      ['td', plugin.enabled ? 'включён' : 'отключён', `state ${plugin.enabled ? 'on' : 'off'}`],
      ['td', worker.text, worker.cls, worker.title],
      ['td', breaker ? BREAKER_TEXT[breaker] || breaker : '—', `state ${breaker || ''}`],
      ['td', p95 ?? '—', 'num'],
      ['td', success, 'num'],
      ['td', calls ?? 0, 'num'],
      ['td', fleet ? fleet.instances : 1, 'num'],
    ];
    for (const [tag, text, cls, title] of cells) {
      const cell = document.createElement(tag);
      if (tag === 'th') cell.scope = 'row';
      if (cls) cell.className = cls;
      if (title) cell.title = title;
      cell.textContent = text;
      tr.appendChild(cell);
    }
    const action = document.createElement('td');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = plugin.enabled ? 'danger' : 'secondary';
    button.textContent = plugin.enabled ? 'Отключить' : 'Включить';
    const companies = plugin.companies.map((c) => c.name || c.id).join(', ');
    button.setAttribute('aria-label', `${button.textContent} плагин ${plugin.id} (компании: ${companies})`);
    button.addEventListener('click', () => toggle(plugin, button));
    action.appendChild(button);
    tr.appendChild(action);
    tbody.appendChild(tr);
  }
}

async function toggle(plugin, button) {
  button.disabled = true;
  const verb = plugin.enabled ? 'disable' : 'enable';
  try {
    const r = await api('POST', `/admin/plugins/${encodeURIComponent(plugin.id)}/${verb}`);
    $('#message').textContent = r.status === 200
      ? `Плагин ${plugin.id} ${verb === 'disable' ? 'отключён' : 'включён'} на всех экземплярах.`
      : `Не получилось: ${r.body.message || r.status}`;
  } catch (e) {
    if (e.message !== 'unauthorized') $('#message').textContent = 'Нет связи с osago-aggregator.';
  }
  await refresh();
}

$('#rescan').addEventListener('click', async () => {
  try {
    const r = await api('POST', '/admin/plugins/rescan');
    const ch = r.body.changes || {};
    const n = (k) => (ch[k] || []).length;
    $('#message').textContent = `Пересканировано: загружено ${n('loaded')}, обновлено ${n('upgraded')}, ` +
      `удалено ${n('removed')}, отклонено ${n('rejected')}.`;
  } catch (e) { /* shown by api() */ }
  refresh();
});

$('#sign-out').addEventListener('click', () => signOut());

$('#token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('#admin-token').value.trim());
  $('#admin-token').value = '';
  start();
});

function start() {
  if (!token()) return signOut();
  $('#token-section').hidden = true;
  $('#partners-section').hidden = false;
  refresh();
  clearInterval(timer);
  timer = setInterval(refresh, 2000);
}

start();
