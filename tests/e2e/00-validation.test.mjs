// The page's copy of the quote rules (core-app/web/validation.js) against the
// cases the server's tests use: the same inputs pass and fail on both sides.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { validQuote } from './fixtures.mjs';

const require = createRequire(import.meta.url);
const { validateQuote, normalizePlate } = require('../../core-app/web/validation.js');

const today = new Date(Date.UTC(2026, 10, 27));
const valid = () => validQuote('2026-12-01');
const fields = (q) => validateQuote(q, today).map((e) => e.field).sort();

test('a complete quote passes', () => {
  assert.deepEqual(validateQuote(valid(), today), []);
});

test('VIN, plate and licence formats', () => {
  const q = valid();
  q.vehicle.vin = 'XTA2109904376543O';    // O is not allowed
  q.vehicle.plate = 'А12ВЕ777';            // two digits
  q.drivers[0].licenseSeries = '77Z2';
  q.drivers[0].licenseNumber = '34567';
  assert.deepEqual(fields(q), ['drivers[0].licenseNumber', 'drivers[0].licenseSeries', 'vehicle.plate', 'vehicle.vin']);
  assert.equal(normalizePlate('a 123 be 77'), 'А123ВЕ77');
  q.vehicle.plate = 'a123be777';          // Latin look-alikes are accepted, as on the server
  q.vehicle.vin = 'xta21099043765439';    // and lower case
  q.drivers[0].licenseSeries = '77АВ';
  q.drivers[0].licenseNumber = '345678';
  assert.deepEqual(fields(q), []);
});

test('ages and dates are measured at the policy start', () => {
  const q = valid();
  q.drivers[0].birthDate = '2010-12-02';  // 15 on 2026-12-01
  q.drivers[0].experienceStartDate = '2026-11-28';  // in the future
  q.owner.birthDate = '1900-01-01';       // over 120
  q.policy.startDate = '2026-11-26';      // yesterday
  assert.deepEqual(fields(q), ['drivers[0].birthDate', 'drivers[0].experienceStartDate', 'owner.birthDate', 'policy.startDate']);
  q.policy.startDate = '2027-01-27';      // 61 days ahead
  assert.ok(fields(q).includes('policy.startDate'));
});

test('experience starts no earlier than the 16th birthday; a licence is listed once', () => {
  const q = valid();
  q.drivers[0].experienceStartDate = '1996-06-11';
  q.drivers.push({ ...q.drivers[0], experienceStartDate: '2005-05-20' });
  assert.deepEqual(fields(q), ['drivers[0].experienceStartDate', 'drivers[1].licenseNumber']);
});

test('multidrive needs no drivers; otherwise at least one is required', () => {
  const q = valid();
  q.drivers = [];
  assert.deepEqual(fields(q), ['drivers']);
  q.policy.multidrive = true;
  assert.deepEqual(fields(q), []);
});

test('numbers are whole and in range; region codes are 2-3 digits', () => {
  const q = valid();
  q.vehicle.year = 1949;
  q.vehicle.enginePowerHp = '150.5';
  q.policy.usageMonths = 2;
  q.owner.regionCode = '00';
  assert.deepEqual(fields(q), ['owner.regionCode', 'policy.usageMonths', 'vehicle.enginePowerHp', 'vehicle.year']);
});
