// The quote input rules of osago-aggregator (common/src/quote_input.cpp),
// checked in the browser so that mistakes are shown next to their fields
// before anything is sent. The server checks again; its answer wins.
'use strict';

const OsagoValidation = (() => {
  const PLATE_LETTERS = 'АВЕКМНОРСТУХ';
  const LATIN_LOOKALIKES = 'ABEKMHOPCTYX';
  const MAX_DAYS_AHEAD = 60;
  const MAX_DRIVERS = 10;

  /** Cyrillic plate letters from their Latin look-alikes, upper case, no spaces. */
  function normalizePlate(text) {
    return [...String(text).toUpperCase().replace(/\s+/g, '')]
      .map((ch) => { const i = LATIN_LOOKALIKES.indexOf(ch); return i >= 0 ? PLATE_LETTERS[i] : ch; })
      .join('');
  }

  function parseDate(text) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(text || '')) return null;
    const [y, m, d] = text.split('-').map(Number);
    const date = new Date(Date.UTC(y, m - 1, d));
    return date.getUTCMonth() === m - 1 ? date : null;
  }

  function fullYears(from, to) {
    let years = to.getUTCFullYear() - from.getUTCFullYear();
    if (to.getUTCMonth() < from.getUTCMonth() ||
        (to.getUTCMonth() === from.getUTCMonth() && to.getUTCDate() < from.getUTCDate())) years -= 1;
    return years;
  }

  function todayUtc() {
    const now = new Date();
    return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  }

  /**
   * Checks a quote as the page sends it; returns [{field, reason}] with field
   * names as the server uses them (e.g. "drivers[0].licenseNumber").
   */
  function validateQuote(q, today = todayUtc()) {
    const errors = [];
    const fail = (field, reason) => errors.push({ field, reason });
    const required = (value, field) => {
      if (value === undefined || value === null || String(value).trim() === '') { fail(field, 'Заполните поле'); return false; }
      return true;
    };
    const integer = (value, field, min, max, what) => {
      if (!required(value, field)) return null;
      const n = Number(value);
      if (!Number.isInteger(n) || n < min || n > max) { fail(field, `${what}: целое число от ${min} до ${max}`); return null; }
      return n;
    };

    let policyStart = today;
    const startField = 'policy.startDate';
    if (required(q.policy.startDate, startField)) {
      const start = parseDate(q.policy.startDate);
      const latest = new Date(today.getTime() + MAX_DAYS_AHEAD * 86400000);
      if (!start) fail(startField, 'Неверная дата');
      else if (start < today) fail(startField, 'Дата начала не может быть в прошлом');
      else if (start > latest) fail(startField, `Не позднее чем через ${MAX_DAYS_AHEAD} дней`);
      else policyStart = start;
    }
    integer(q.policy.usageMonths, 'policy.usageMonths', 3, 12, 'Период');

    const v = q.vehicle;
    required(v.make, 'vehicle.make');
    required(v.model, 'vehicle.model');
    integer(v.year, 'vehicle.year', 1950, today.getUTCFullYear() + 1, 'Год выпуска');
    integer(v.enginePowerHp, 'vehicle.enginePowerHp', 1, 1000, 'Мощность');
    if (required(v.vin, 'vehicle.vin') && !/^[A-HJ-NPR-Z0-9]{17}$/.test(String(v.vin).toUpperCase()))
      fail('vehicle.vin', 'VIN — 17 символов: латинские буквы (кроме I, O, Q) и цифры');
    if (required(v.plate, 'vehicle.plate') &&
        !new RegExp(`^[${PLATE_LETTERS}]\\d{3}[${PLATE_LETTERS}]{2}\\d{2,3}$`).test(normalizePlate(v.plate)))
      fail('vehicle.plate', 'Госномер в виде А123ВЕ777: буква, 3 цифры, 2 буквы, код региона');

    const person = (p, path) => {
      required(p.lastName, `${path}.lastName`);
      required(p.firstName, `${path}.firstName`);
      let birth = null;
      if (required(p.birthDate, `${path}.birthDate`)) {
        birth = parseDate(p.birthDate);
        if (!birth) fail(`${path}.birthDate`, 'Неверная дата');
        else if (fullYears(birth, policyStart) < 16) fail(`${path}.birthDate`, 'На дату начала полиса должно быть не меньше 16 лет');
        else if (fullYears(birth, policyStart) > 120) fail(`${path}.birthDate`, 'Проверьте год рождения');
      }
      return birth;  // a valid date, even when the age is refused: the server checks the experience against it too
    };
    person(q.owner, 'owner');
    if (required(q.owner.regionCode, 'owner.regionCode') &&
        (!/^\d{2,3}$/.test(q.owner.regionCode) || /^0+$/.test(q.owner.regionCode)))
      fail('owner.regionCode', 'Код региона — 2 или 3 цифры, например 77');

    if (q.policy.multidrive) return errors;
    if (!q.drivers.length) fail('drivers', 'Укажите хотя бы одного водителя или выберите «Без ограничений»');
    if (q.drivers.length > MAX_DRIVERS) fail('drivers', `Не больше ${MAX_DRIVERS} водителей`);
    const licences = new Set();
    q.drivers.forEach((d, i) => {
      const path = `drivers[${i}]`;
      const birth = person(d, path);
      const series = normalizePlate(d.licenseSeries || '');
      let seriesOk = false;
      if (required(d.licenseSeries, `${path}.licenseSeries`)) {
        seriesOk = new RegExp(`^\\d{2}[\\d${PLATE_LETTERS}]{2}$`).test(series);
        if (!seriesOk) fail(`${path}.licenseSeries`, 'Серия — 4 знака: 2 цифры, затем 2 цифры или русские буквы');
      }
      if (required(d.licenseNumber, `${path}.licenseNumber`)) {
        if (!/^\d{6}$/.test(d.licenseNumber)) fail(`${path}.licenseNumber`, 'Номер — 6 цифр');
        else if (seriesOk && licences.has(series + d.licenseNumber)) fail(`${path}.licenseNumber`, 'Это удостоверение уже указано');
        else if (seriesOk) licences.add(series + d.licenseNumber);
      }
      if (required(d.experienceStartDate, `${path}.experienceStartDate`)) {
        const exp = parseDate(d.experienceStartDate);
        if (!exp) fail(`${path}.experienceStartDate`, 'Неверная дата');
        else if (exp > today) fail(`${path}.experienceStartDate`, 'Дата начала стажа не может быть в будущем');
        else if (birth && fullYears(birth, exp) < 16) fail(`${path}.experienceStartDate`, 'Стаж — не раньше 16-летия водителя');
      }
    });
    return errors;
  }

  return { validateQuote, normalizePlate, parseDate };
})();

if (typeof module !== 'undefined') module.exports = OsagoValidation;
