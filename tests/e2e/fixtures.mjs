// A complete, valid quote as the page sends it (the demo profile's car and driver).
export function validQuote(startDate) {
  return {
    vehicle: { category: 'B', make: 'Toyota', model: 'Camry', year: 2020, enginePowerHp: 150,
               vin: 'XTA21099043765439', plate: 'А123ВЕ777' },
    owner: { lastName: 'Иванов', firstName: 'Иван', birthDate: '1980-06-12', regionCode: '77' },
    drivers: [{ lastName: 'Иванов', firstName: 'Иван', birthDate: '1980-06-12', licenseSeries: '7712',
                licenseNumber: '345678', experienceStartDate: '2005-05-20' }],
    policy: { startDate, usageMonths: 12, multidrive: false },
  };
}
