// The page's checks and the server's agree: the same inputs, posted to
// osago-aggregator, are refused for the same fields (or accepted by both).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { env, rest, serviceToken } from './lib.mjs';
import { validQuote } from './fixtures.mjs';

const require = createRequire(import.meta.url);
const { validateQuote, normalizePlate } = require('../../core-app/web/validation.js');

const day = (offset) => new Date(Date.now() + offset * 86400000).toISOString().slice(0, 10);
const yearsAgo = (years, plusDays = 0) => {
  const d = new Date(`${day(7)}T00:00:00Z`);
  d.setUTCFullYear(d.getUTCFullYear() - years);
  return new Date(d.getTime() + plusDays * 86400000).toISOString().slice(0, 10);
};
const base = () => validQuote(day(7));
const cases = {
  'valid': (q) => q,
  'vin with O': (q) => { q.vehicle.vin = 'XTA2109904376543O'; },
  'short vin': (q) => { q.vehicle.vin = 'XTA210990437654'; },
  'plate with a non-plate letter': (q) => { q.vehicle.plate = 'Б123ВЕ777'; },
  'plate with Latin look-alikes': (q) => { q.vehicle.plate = normalizePlate('a123be77'); },
  'licence series': (q) => { q.drivers[0].licenseSeries = '7Z12'; },
  'licence number': (q) => { q.drivers[0].licenseNumber = '12345'; },
  'driver turns 16 the day after the start': (q) => { q.drivers[0].birthDate = yearsAgo(16, 1); q.drivers[0].experienceStartDate = day(0); },
  'driver turns 16 on the start date': (q) => { q.drivers[0].birthDate = yearsAgo(16); q.drivers[0].experienceStartDate = day(0); },
  'experience before 16': (q) => { q.drivers[0].experienceStartDate = '1996-01-01'; },
  'experience in the future': (q) => { q.drivers[0].experienceStartDate = day(1); },
  'start yesterday': (q) => { q.policy.startDate = day(-1); },
  'start in 61 days': (q) => { q.policy.startDate = day(61); },
  'usage 2 months': (q) => { q.policy.usageMonths = 2; },
  'year 1949': (q) => { q.vehicle.year = 1949; },
  'power 0': (q) => { q.vehicle.enginePowerHp = 0; },
  'region 00': (q) => { q.owner.regionCode = '00'; },
  'no drivers': (q) => { q.drivers = []; },
  'multidrive without drivers': (q) => { q.drivers = []; q.policy.multidrive = true; },
  'same licence twice': (q) => { q.drivers.push({ ...q.drivers[0], firstName: 'Павел' }); },
  'missing surname': (q) => { q.owner.lastName = ''; },
};

for (const [name, change] of Object.entries(cases)) {
  test(`page and server agree: ${name}`, async () => {
    const q = base();
    change(q);
    const page = validateQuote(q).map((e) => e.field).sort();
    const body = { ...q, userId: 'e2e-validation', correlationId: randomUUID() };
    const r = await rest('POST', `${env.aggregator}/osago/requests`, { body, token: serviceToken() });
    const server = r.status === 400 ? r.body.fields.map((f) => f.field).sort() : [];
    assert.ok(r.status === 201 || r.status === 400, `status ${r.status}: ${JSON.stringify(r.body)}`);
    assert.deepEqual(page, server);
  });
}
