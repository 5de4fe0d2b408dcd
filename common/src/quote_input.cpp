#include <osago/common/quote_input.hpp>

#include <osago/common/utf8.hpp>

#include <algorithm>
#include <cctype>
#include <set>
#include <string_view>

namespace osago::quote {
namespace {

using nlohmann::json;

// The 12 Cyrillic letters allowed on plates and licences: А В Е К М Н О Р С Т У Х.
const std::u32string kPlateLetters = U"АВЕКМНОРСТУХ";
const std::u32string kLatinLookAlikes = U"ABEKMHOPCTYX";

bool isPlateLetter(char32_t c) { return kPlateLetters.find(c) != std::u32string::npos; }
bool isDigit(char32_t c) { return c >= U'0' && c <= U'9'; }

char32_t toPlateLetter(char32_t c) {
  if (c >= U'a' && c <= U'z') c = c - U'a' + U'A';
  if (c >= U'а' && c <= U'я') c = c - U'а' + U'А';
  auto pos = kLatinLookAlikes.find(c);
  return pos == std::u32string::npos ? c : kPlateLetters[pos];
}

/// Collects errors while walking the input; each accessor reports a missing
/// or mistyped field once and returns a neutral value.
class Checker {
 public:
  explicit Checker(std::vector<FieldError>& errors) : errors_(errors) {}

  void fail(const std::string& field, const std::string& reason) { errors_.push_back({field, reason}); }

  const json* object(const json& parent, const std::string& key, const std::string& path) {
    auto it = parent.find(key);
    if (it == parent.end() || it->is_null()) {
      fail(path, "is required");
      return nullptr;
    }
    if (!it->is_object()) {
      fail(path, "must be an object");
      return nullptr;
    }
    return &*it;
  }

  std::optional<std::string> string(const json& parent, const std::string& key, const std::string& path,
                                    bool required = true, std::size_t max_chars = 64) {
    auto it = parent.find(key);
    if (it == parent.end() || it->is_null()) {
      if (required) fail(path, "is required");
      return std::nullopt;
    }
    if (!it->is_string()) {
      fail(path, "must be a string");
      return std::nullopt;
    }
    std::string v = it->get<std::string>();
    auto decoded = utf8::decode(v);
    if (!decoded) {
      fail(path, "is not valid UTF-8");
      return std::nullopt;
    }
    const std::u32string& chars = *decoded;
    auto first = std::find_if(chars.begin(), chars.end(), [](char32_t c) { return c != U' '; });
    auto last = std::find_if(chars.rbegin(), chars.rend(), [](char32_t c) { return c != U' '; }).base();
    std::u32string trimmed = first < last ? std::u32string(first, last) : std::u32string();
    if (trimmed.empty()) {
      if (required) fail(path, "must not be empty");
      return required ? std::nullopt : std::optional<std::string>(std::string());
    }
    if (trimmed.size() > max_chars) {
      fail(path, "must be at most " + std::to_string(max_chars) + " characters");
      return std::nullopt;
    }
    return utf8::encode(trimmed);
  }

  std::optional<long long> integer(const json& parent, const std::string& key, const std::string& path, long long min,
                                   long long max) {
    auto it = parent.find(key);
    if (it == parent.end() || it->is_null()) {
      fail(path, "is required");
      return std::nullopt;
    }
    if (!it->is_number_integer()) {
      fail(path, "must be a whole number");
      return std::nullopt;
    }
    long long v = it->get<long long>();
    if (v < min || v > max) {
      fail(path, "must be between " + std::to_string(min) + " and " + std::to_string(max));
      return std::nullopt;
    }
    return v;
  }

  std::optional<CivilDate> date(const json& parent, const std::string& key, const std::string& path) {
    auto s = string(parent, key, path, true, 10);
    if (!s) return std::nullopt;
    auto d = CivilDate::parse(*s);
    if (!d) fail(path, "must be a date in the form YYYY-MM-DD");
    return d;
  }

  std::optional<bool> boolean(const json& parent, const std::string& key, const std::string& path) {
    auto it = parent.find(key);
    if (it == parent.end() || it->is_null()) {
      fail(path, "is required");
      return std::nullopt;
    }
    if (!it->is_boolean()) {
      fail(path, "must be true or false");
      return std::nullopt;
    }
    return it->get<bool>();
  }

  void onlyKnown(const json& obj, std::initializer_list<std::string_view> known, const std::string& path) {
    for (const auto& [key, value] : obj.items()) {
      if (std::find(known.begin(), known.end(), key) != known.end()) continue;
      std::string name = key.empty() ? "\"\"" : key;  // an empty key is still named
      fail(path.empty() ? name : path + "." + name, "is not a known field");
    }
  }

 private:
  std::vector<FieldError>& errors_;
};

bool matchesVin(const std::string& vin) {
  if (vin.size() != 17) return false;
  return std::all_of(vin.begin(), vin.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z' && c != 'I' && c != 'O' && c != 'Q');
  });
}

// ^[АВЕКМНОРСТУХ]\d{3}[АВЕКМНОРСТУХ]{2}\d{2,3}$
bool matchesPlate(const std::u32string& p) {
  if (p.size() != 8 && p.size() != 9) return false;
  if (!isPlateLetter(p[0]) || !isPlateLetter(p[4]) || !isPlateLetter(p[5])) return false;
  for (std::size_t i : {1, 2, 3}) if (!isDigit(p[i])) return false;
  for (std::size_t i = 6; i < p.size(); ++i) if (!isDigit(p[i])) return false;
  return true;
}

// \d{2}[\dАВЕКМНОРСТУХ]{2}
bool matchesLicenseSeries(const std::u32string& s) {
  return s.size() == 4 && isDigit(s[0]) && isDigit(s[1]) && (isDigit(s[2]) || isPlateLetter(s[2])) &&
         (isDigit(s[3]) || isPlateLetter(s[3]));
}

bool allDigits(const std::string& s, std::size_t len) {
  return s.size() == len && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

json checkPerson(Checker& c, const json& p, const std::string& path, const CivilDate& policy_start, bool is_driver,
                 std::optional<CivilDate>& birth_out) {
  json out = json::object();
  if (is_driver)
    c.onlyKnown(p, {"lastName", "firstName", "middleName", "birthDate", "licenseSeries", "licenseNumber",
                    "experienceStartDate"}, path);
  else
    c.onlyKnown(p, {"lastName", "firstName", "middleName", "birthDate", "regionCode"}, path);
  if (auto v = c.string(p, "lastName", path + ".lastName")) out["lastName"] = *v;
  if (auto v = c.string(p, "firstName", path + ".firstName")) out["firstName"] = *v;
  if (auto v = c.string(p, "middleName", path + ".middleName", false); v && !v->empty()) out["middleName"] = *v;
  birth_out = c.date(p, "birthDate", path + ".birthDate");
  if (birth_out) {
    int age = fullYearsBetween(*birth_out, policy_start);
    if (age < 16)
      c.fail(path + ".birthDate", "the person must be at least 16 years old on the policy start date");
    else if (age > 120)
      c.fail(path + ".birthDate", "is too far in the past");
    else
      out["birthDate"] = birth_out->toString();
  }
  return out;
}

}  // namespace

std::string normalizePlateLetters(const std::string& text) {
  auto chars = utf8::decode(text);
  if (!chars) return text;
  for (auto& ch : *chars) ch = toPlateLetter(ch);
  return utf8::encode(*chars);
}

json toJson(const std::vector<FieldError>& errors) {
  json out = json::array();
  for (const auto& e : errors) out.push_back({{"field", e.field}, {"reason", e.reason}});
  return out;
}

namespace {

/// The letters of a plate or licence series with Latin look-alikes made
/// Cyrillic, as code points without spaces.
std::u32string lettersOf(const std::string& value) {
  auto chars = utf8::decode(normalizePlateLetters(value)).value_or(std::u32string());
  chars.erase(std::remove(chars.begin(), chars.end(), U' '), chars.end());
  return chars;
}

struct PolicyPart {
  json out = json::object();
  CivilDate start;       ///< the reference for ages and experience
  bool multidrive = false;
};

PolicyPart checkPolicy(Checker& c, const json& body, const CivilDate& today) {
  PolicyPart policy{json::object(), today, false};
  const json* p = c.object(body, "policy", "policy");
  if (!p) return policy;
  c.onlyKnown(*p, {"startDate", "usageMonths", "multidrive"}, "policy");
  if (auto d = c.date(*p, "startDate", "policy.startDate")) {
    if (*d < today)
      c.fail("policy.startDate", "must not be in the past");
    else if (*d > today.plusDays(kMaxDaysAhead))
      c.fail("policy.startDate", "must be at most " + std::to_string(kMaxDaysAhead) + " days ahead");
    else
      policy.start = *d;
    policy.out["startDate"] = d->toString();
  }
  if (auto m = c.integer(*p, "usageMonths", "policy.usageMonths", 3, 12)) policy.out["usageMonths"] = *m;
  if (auto m = c.boolean(*p, "multidrive", "policy.multidrive")) {
    policy.multidrive = *m;
    policy.out["multidrive"] = *m;
  }
  return policy;
}

json checkVehicle(Checker& c, const json& body, const CivilDate& today) {
  json out = json::object();
  const json* v = c.object(body, "vehicle", "vehicle");
  if (!v) return out;
  c.onlyKnown(*v, {"category", "make", "model", "year", "enginePowerHp", "vin", "plate"}, "vehicle");
  if (auto cat = c.string(*v, "category", "vehicle.category")) {
    if (*cat != "B")
      c.fail("vehicle.category", "only category B (passenger cars) is supported");
    else
      out["category"] = *cat;
  }
  if (auto s = c.string(*v, "make", "vehicle.make")) out["make"] = *s;
  if (auto s = c.string(*v, "model", "vehicle.model")) out["model"] = *s;
  if (auto y = c.integer(*v, "year", "vehicle.year", 1950, today.year + 1)) out["year"] = *y;
  if (auto hp = c.integer(*v, "enginePowerHp", "vehicle.enginePowerHp", 1, 1000)) out["enginePowerHp"] = *hp;
  if (auto vin = c.string(*v, "vin", "vehicle.vin", true, 17 + 8)) {
    std::string up = *vin;
    std::transform(up.begin(), up.end(), up.begin(), [](char ch) { return ch >= 'a' && ch <= 'z' ? ch - 32 : ch; });
    if (!matchesVin(up))
      c.fail("vehicle.vin", "must be 17 characters: Latin capital letters except I, O, Q, and digits");
    else
      out["vin"] = up;
  }
  if (auto plate = c.string(*v, "plate", "vehicle.plate", true, 16)) {
    auto chars = lettersOf(*plate);
    if (!matchesPlate(chars))
      c.fail("vehicle.plate", "must look like А123ВЕ777: a letter, 3 digits, 2 letters, a 2- or 3-digit region");
    else
      out["plate"] = utf8::encode(chars);
  }
  return out;
}

json checkOwner(Checker& c, const json& body, const CivilDate& policy_start) {
  json out = json::object();
  const json* o = c.object(body, "owner", "owner");
  if (!o) return out;
  std::optional<CivilDate> birth;
  out = checkPerson(c, *o, "owner", policy_start, false, birth);
  if (auto r = c.string(*o, "regionCode", "owner.regionCode", true, 3)) {
    if (!allDigits(*r, r->size()) || r->size() < 2 || *r == "00" || *r == "000")
      c.fail("owner.regionCode", "must be a 2- or 3-digit region code such as 77");
    else
      out["regionCode"] = *r;
  }
  return out;
}

/// One driver at `path`; `licences` holds the licences listed before, to refuse a repeat.
json checkDriver(Checker& c, const json& d, const std::string& path, const CivilDate& policy_start,
                 const CivilDate& today, std::set<std::string>& licences) {
  std::optional<CivilDate> birth;
  json out = checkPerson(c, d, path, policy_start, true, birth);
  std::optional<std::string> series_ok;
  if (auto s = c.string(d, "licenseSeries", path + ".licenseSeries", true, 8)) {
    auto chars = lettersOf(*s);
    if (!matchesLicenseSeries(chars)) {
      c.fail(path + ".licenseSeries", "must be 4 characters: 2 digits, then 2 digits or Cyrillic letters");
    } else {
      series_ok = utf8::encode(chars);
      out["licenseSeries"] = *series_ok;
    }
  }
  if (auto n = c.string(d, "licenseNumber", path + ".licenseNumber", true, 8)) {
    if (!allDigits(*n, 6)) {
      c.fail(path + ".licenseNumber", "must be 6 digits");
    } else {
      out["licenseNumber"] = *n;
      if (series_ok && !licences.insert(*series_ok + *n).second)
        c.fail(path + ".licenseNumber", "the same driving licence is listed twice");
    }
  }
  if (auto e = c.date(d, "experienceStartDate", path + ".experienceStartDate")) {
    if (*e > today)
      c.fail(path + ".experienceStartDate", "must not be in the future");
    else if (birth && fullYearsBetween(*birth, *e) < 16)
      c.fail(path + ".experienceStartDate", "must be on or after the driver's 16th birthday");
    else
      out["experienceStartDate"] = e->toString();
  }
  return out;
}

json checkDrivers(Checker& c, const json& body, const PolicyPart& policy, const CivilDate& today) {
  json out = json::array();
  auto it = body.find("drivers");
  if (it == body.end() || it->is_null()) {
    if (!policy.multidrive) c.fail("drivers", "at least one driver is required unless policy.multidrive is true");
  } else if (!it->is_array()) {
    c.fail("drivers", "must be a list");
  } else if (policy.multidrive && !it->empty()) {
    c.fail("drivers", "must be empty when policy.multidrive is true (any driver may drive)");
  } else if (!policy.multidrive && it->empty()) {
    c.fail("drivers", "at least one driver is required unless policy.multidrive is true");
  } else if (it->size() > kMaxDrivers) {
    c.fail("drivers", "at most " + std::to_string(kMaxDrivers) + " drivers may be listed");
  } else {
    std::set<std::string> licences;
    for (std::size_t i = 0; i < it->size(); ++i) {
      const json& d = (*it)[i];
      std::string path = "drivers[" + std::to_string(i) + "]";
      if (!d.is_object())
        c.fail(path, "must be an object");
      else
        out.push_back(checkDriver(c, d, path, policy.start, today, licences));
    }
  }
  return out;
}

}  // namespace

Validated validateBuyer(const json& buyer, const std::string& path) {
  Validated result;
  Checker c(result.errors);
  if (!buyer.is_object()) {
    c.fail(path, buyer.is_null() ? "is required" : "must be an object");
    return result;
  }
  c.onlyKnown(buyer, {"email", "phone"}, path);
  json out = json::object();
  if (auto email = c.string(buyer, "email", path + ".email", true, 254)) {
    // One '@' between a local part and a domain with a dot; no spaces, quotes,
    // angle brackets or control characters (it is shown and sent on as it is).
    auto at = email->find('@');
    bool shape = at != std::string::npos && at > 0 && at == email->rfind('@') && at + 1 < email->size() &&
                 email->find('.', at + 2) != std::string::npos && email->back() != '.' && email->size() <= 254;
    bool clean = std::none_of(email->begin(), email->end(), [](unsigned char ch) {
      return ch <= 0x20 || ch == 0x7f || ch == '"' || ch == '\'' || ch == '<' || ch == '>' || ch == '\\' || ch == ',' ||
             ch == ';' || ch >= 0x80;
    });
    if (!shape || !clean)
      c.fail(path + ".email", "must be an e-mail address like ivanov@example.ru");
    else
      out["email"] = email->substr(0, at + 1) + [&] {
        std::string domain = email->substr(at + 1);
        std::transform(domain.begin(), domain.end(), domain.begin(), [](unsigned char ch) { return std::tolower(ch); });
        return domain;
      }();
  }
  if (auto phone = c.string(buyer, "phone", path + ".phone", true, 32)) {
    // A Russian mobile or city number: +7 or 8 and ten digits; spaces, dashes and brackets are allowed between.
    std::string digits;
    bool clean = true;
    for (std::size_t i = 0; i < phone->size(); ++i) {
      char ch = (*phone)[i];
      if (ch >= '0' && ch <= '9') digits += ch;
      else if (!(ch == ' ' || ch == '-' || ch == '(' || ch == ')' || (ch == '+' && i == 0))) clean = false;
    }
    bool plus = !phone->empty() && (*phone)[0] == '+';
    bool ok = clean && digits.size() == 11 && ((plus && digits[0] == '7') || (!plus && (digits[0] == '8' || digits[0] == '7')));
    if (!ok)
      c.fail(path + ".phone", "must be a Russian phone number like +7 900 123-45-67");
    else
      out["phone"] = "+7" + digits.substr(1);
  }
  if (result.ok()) result.input = std::move(out);
  return result;
}

Validated validateQuoteInput(const json& body, const CivilDate& today) {
  Validated result;
  Checker c(result.errors);
  if (!body.is_object()) {
    c.fail("", "the quote input must be a JSON object");
    return result;
  }
  c.onlyKnown(body, {"v", "vehicle", "owner", "drivers", "policy"}, "");
  // The version the validated input carries may come back (a stored input sent again).
  if (auto v = body.find("v"); v != body.end() && !(v->is_number_integer() && *v == 1))
    c.fail("v", "must be 1, the only version of the quote input");
  // The policy first: its start date is the reference for ages and experience.
  auto policy = checkPolicy(c, body, today);
  auto vehicle = checkVehicle(c, body, today);
  auto owner = checkOwner(c, body, policy.start);
  auto drivers = checkDrivers(c, body, policy, today);
  if (result.ok()) {
    result.input = json{{"v", 1},
                        {"vehicle", std::move(vehicle)},
                        {"owner", std::move(owner)},
                        {"drivers", std::move(drivers)},
                        {"policy", std::move(policy.out)}};
  }
  return result;
}

}  // namespace osago::quote
