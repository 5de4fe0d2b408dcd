// The simulated partners' purchases (docs/insurer-simulator.md, "Purchases"):
// each dialect's issue and status calls over one shared model, and the
// buyer's pages the payment link leads to.
#include "simulator.hpp"

#include <osago/common/civil_date.hpp>
#include <osago/common/ids.hpp>
#include <osago/plugin_sdk/plugin.hpp>

#include <Poco/Logger.h>

#include <atomic>

namespace osago::simulator {

using nlohmann::json;

namespace {

/// How long the payment page stays open.
constexpr auto kPaymentWindow = std::chrono::minutes(15);

long long unixMsNow() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string isoFromUnixMs(long long ms) {
  return isoUtc(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

/// A string field of a JSON object, or "" when absent or not a string.
std::string text(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string htmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string policyNumber() {
  // A series of three letters and ten digits, as on real OSAGO policies (ХХХ: electronic).
  static std::atomic<long long> counter{0};
  char digits[16];
  std::snprintf(digits, sizeof digits, "%010lld", (unixMsNow() / 1000 % 100000) * 100000 + (counter++ % 100000));
  return std::string("ХХХ ") + digits;
}

}  // namespace

std::string InsurerSimulator::stateOf(const Purchase& p, Clock::time_point now) {
  if (now < p.checked_at) return "checking";
  if (p.declined) return "declined";
  if (!p.issued_at) return unixMsNow() < p.payment_expires_unix_ms ? "payment" : "expired";
  return now < *p.issued_at ? "paid" : "issued";
}

void InsurerSimulator::setPublicUrl(std::string url) {
  std::lock_guard lock(mutex_);
  public_url_ = std::move(url);
}

void InsurerSimulator::registerPurchaseRoutes(http::Router& router) {
  // One path per operation for every dialect; what differs is the body, the statuses and the credentials.
  router.add("POST", "/{insurer}/osago/policies",
             [this](auto& req, auto& resp, const http::PathParams& p) { issue(req, resp, p.at("insurer")); });
  router.add("GET", "/{insurer}/osago/policies/{id}",
             [this](auto& req, auto& resp, const http::PathParams& p) { policy(req, resp, p.at("insurer"), p.at("id")); });
  // The buyer's pages: the payment page (and its "pay" button), the draft, the policy.
  router.add("GET", "/pay/{id}", [this](auto&, auto& resp, const http::PathParams& p) { paymentPage(resp, p.at("id"), false, false); });
  router.add("POST", "/pay/{id}", [this](auto&, auto& resp, const http::PathParams& p) { paymentPage(resp, p.at("id"), true, true); });
  router.add("GET", "/documents/{id}/{kind}", [this](auto&, auto& resp, const http::PathParams& p) {
    std::lock_guard lock(mutex_);
    auto it = purchases_.find(p.at("id"));
    if (it == purchases_.end()) throw http::HttpError(404, "UNKNOWN_PURCHASE", "no such purchase");
    bool policy = p.at("kind") == "policy" && stateOf(it->second, Clock::now()) == "issued";
    resp.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
    resp.setContentType("text/html; charset=utf-8");
    resp.send() << "<!doctype html><html lang=\"ru\"><meta charset=\"utf-8\"><title>ОСАГО</title><body><h1>"
                << (policy ? "Полис ОСАГО " + htmlEscape(it->second.policy_number) : std::string("Проект полиса ОСАГО"))
                << "</h1><p>Страховая премия: " << htmlEscape(it->second.premium) << " ₽</p></body></html>";
  });
  // For tests that pay without a browser.
  router.add("POST", "/control/purchases/{id}/pay",
             [this](auto&, auto& resp, const http::PathParams& p) { paymentPage(resp, p.at("id"), true, false); });
}

void InsurerSimulator::issue(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp,
                             const std::string& insurer_id) {
  json body = http::readJsonBody(req, 16 * 1024);
  std::unique_lock lock(mutex_);
  Insurer* entered = enter(lock, req, resp, insurer_id, nullptr);
  if (!entered) return;
  Insurer& ins = *entered;
  if (!body.is_object()) throw http::HttpError(400, "BAD_PURCHASE", "a JSON object is expected");
  // Each dialect names the application, the idempotency key and the buyer its own way.
  std::string application_id, key, email, phone;
  switch (ins.profile.dialect) {
    case Dialect::kPolisNet: {
      application_id = text(body, "applicationId");
      key = req.get("Idempotency-Key", "");
      json contacts = body.contains("contacts") && body["contacts"].is_object() ? body["contacts"] : json::object();
      email = text(contacts, "email");
      phone = text(contacts, "phone");
      break;
    }
    case Dialect::kGarant:
      application_id = text(body, "application_id");
      key = text(body, "request_id");
      email = text(body, "email");
      phone = text(body, "phone");
      break;
    case Dialect::kVolna: {
      application_id = text(body, "quoteRef");
      key = req.get("X-Request-Id", "");
      json buyer = body.contains("buyer") && body["buyer"].is_object() ? body["buyer"] : json::object();
      email = text(buyer, "mail");
      phone = text(buyer, "tel");
      break;
    }
    case Dialect::kPotok:
      throw http::HttpError(404, "NOT_FOUND", "potok sells through POST /sales/v2/policies");
  }
  if (application_id.empty() || key.empty() || email.empty() || phone.empty())
    throw http::HttpError(400, "BAD_PURCHASE", "the application, the idempotency key, e-mail and phone are required");
  // Volna's purchases name the offer (quoteRef: "<application>-1"), the others the application.
  if (ins.profile.dialect == Dialect::kVolna && application_id.size() > 2 &&
      application_id.compare(application_id.size() - 2, 2, "-1") == 0)
    application_id.resize(application_id.size() - 2);
  long before = ins.stats.purchases;
  std::string id = newPurchase(ins, application_id, key);
  // The same key again is the same purchase (a retry after a lost answer): its state, 200.
  int status = ins.stats.purchases == before ? 200 : ins.profile.dialect == Dialect::kGarant ? 202 : 201;
  sendPurchase(resp, ins, id, purchases_.at(id), status);
}

std::string InsurerSimulator::newPurchase(Insurer& ins, const std::string& application_id, const std::string& key) {
  std::string keyed = ins.profile.id + '\n' + key;
  if (auto known = purchase_keys_.find(keyed); known != purchase_keys_.end()) return known->second;
  auto app = applications_.find(application_id);
  if (app == applications_.end() || app->second.insurer_id != ins.profile.id)
    throw http::HttpError(404, "UNKNOWN_APPLICATION", "no application " + application_id.substr(0, 64));
  if (Clock::now() < app->second.ready_at || app->second.outcome.value("kind", "") != "offer")
    throw http::HttpError(409, "NO_OFFER", "application " + application_id + " has no offer to buy");
  Purchase p;
  p.insurer_id = ins.profile.id;
  p.application_id = application_id;
  p.key = key;
  p.premium = sdk::rublesFromKopecks(app->second.outcome["premiumKopecks"].get<long long>());
  p.checked_at = Clock::now() + std::chrono::milliseconds(ins.behaviour.purchase_check_ms);
  p.payment_expires_unix_ms =
      unixMsNow() + ins.behaviour.purchase_check_ms + std::chrono::duration_cast<std::chrono::milliseconds>(kPaymentWindow).count();
  if (ins.behaviour.mode == "decline") {
    p.declined = true;
    p.decline_reason = "UNDERWRITING_REFUSED";
    p.decline_message = "the underwriter refused to issue the policy";
  }
  std::string id = newUuid();
  ++ins.stats.purchases;
  Poco::Logger::get("simulator").information(ins.profile.id + ": purchase " + id + " of application " + application_id);
  purchases_[id] = std::move(p);
  purchase_keys_[keyed] = id;
  purchase_order_.push_back(id);
  if (purchase_order_.size() > kMaxApplications) {
    auto oldest = purchases_.find(purchase_order_.front());
    purchase_keys_.erase(oldest->second.insurer_id + '\n' + oldest->second.key);
    purchases_.erase(oldest);
    purchase_order_.pop_front();
  }
  return id;
}

void InsurerSimulator::policy(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp,
                              const std::string& insurer_id, const std::string& purchase_id) {
  std::unique_lock lock(mutex_);
  Insurer* entered = enter(lock, req, resp, insurer_id, &Stats::purchase_polls);
  if (!entered) return;
  Insurer& ins = *entered;
  auto it = purchases_.find(purchase_id);
  if (it == purchases_.end() || it->second.insurer_id != ins.profile.id)
    throw http::HttpError(404, "UNKNOWN_PURCHASE", "no purchase " + purchase_id.substr(0, 64));
  sendPurchase(resp, ins, it->first, it->second, 200);
}

void InsurerSimulator::sendPurchase(Poco::Net::HTTPServerResponse& resp, const Insurer& ins, const std::string& id,
                                    const Purchase& p, int created_status) {
  auto now = Clock::now();
  std::string state = stateOf(p, now);
  std::string pay_url = public_url_ + "/pay/" + id;
  std::string draft_url = public_url_ + "/documents/" + id + "/draft";
  std::string policy_url = public_url_ + "/documents/" + id + "/policy";
  auto retry_after = std::to_string(std::max<long long>(
      1, std::chrono::duration_cast<std::chrono::seconds>(p.checked_at - now).count()));
  bool expired = state == "expired";
  switch (ins.profile.dialect) {
    case Dialect::kPolisNet: {
      // Statuses as in the public partner APIs of marketplaces: pending, payment, paid, issued, declined.
      json j{{"policyId", id}};
      if (state == "checking") j["status"] = "pending";
      else if (state == "payment") j.update({{"status", "payment"}, {"paymentUrl", pay_url}, {"draftUrl", draft_url},
                                             {"paymentExpiresAt", isoFromUnixMs(p.payment_expires_unix_ms)}});
      else if (state == "paid") j["status"] = "paid";
      else if (state == "issued") j.update({{"status", "issued"}, {"policyNumber", p.policy_number}, {"policyUrl", policy_url}});
      else j.update({{"status", "declined"}, {"reason", expired ? "PAYMENT_EXPIRED" : p.decline_reason},
                     {"message", expired ? "the payment page expired" : p.decline_message}});
      return http::sendJson(resp, created_status, j);
    }
    case Dialect::kGarant: {
      // Upper case, kopecks, seconds, the policy's series apart from its number; 202 + Retry-After while checking.
      json j{{"policy_id", id}};
      if (state == "checking") {
        resp.set("Retry-After", retry_after);
        j["status"] = "VALIDATION";
        return http::sendJson(resp, 202, j);
      }
      if (state == "payment") j.update({{"status", "PAYMENT"}, {"payment_link", pay_url}, {"draft_link", draft_url},
                                        {"payment_deadline", p.payment_expires_unix_ms / 1000}});
      else if (state == "paid") j["status"] = "PAID";
      else if (state == "issued") j.update({{"status", "ISSUED"}, {"policy_series", p.policy_number.substr(0, p.policy_number.find(' '))},
                                            {"policy_number", p.policy_number.substr(p.policy_number.find(' ') + 1)},
                                            {"policy_link", policy_url}});
      else j.update({{"status", "DECLINED"}, {"decline_code", expired ? "PAYMENT_EXPIRED" : p.decline_reason},
                     {"decline_reason", expired ? "payment time is over" : p.decline_message}});
      return http::sendJson(resp, created_status == 202 ? 200 : created_status, j);
    }
    case Dialect::kVolna: {
      json j{{"id", id}};
      if (state == "checking") {
        resp.set("Retry-After", retry_after);
        j["state"] = "checking";
      } else if (state == "payment") {
        j.update({{"state", "awaiting_payment"}, {"pay", {{"url", pay_url}, {"till", isoFromUnixMs(p.payment_expires_unix_ms)}}}});
      } else if (state == "paid") {
        j["state"] = "paid";
      } else if (state == "issued") {
        j.update({{"state", "done"}, {"policy", {{"no", p.policy_number}, {"pdf", policy_url}}}});
      } else {
        j.update({{"state", "rejected"}, {"why", expired ? "PAYMENT_EXPIRED" : p.decline_reason},
                  {"comment", expired ? "payment time is over" : p.decline_message}});
      }
      return http::sendJson(resp, 200, j);
    }
    case Dialect::kPotok:
      return http::sendJson(resp, created_status, potokPolicyState(id, p));
  }
}

void InsurerSimulator::paymentPage(Poco::Net::HTTPServerResponse& resp, const std::string& purchase_id, bool pay,
                                   bool from_form) {
  std::lock_guard lock(mutex_);
  auto it = purchases_.find(purchase_id);
  if (it == purchases_.end()) throw http::HttpError(404, "UNKNOWN_PURCHASE", "no such purchase");
  Purchase& p = it->second;
  auto now = Clock::now();
  std::string state = stateOf(p, now);
  if (pay) {
    if (state != "payment") throw http::HttpError(409, "NOT_PAYABLE", "the purchase is " + state + ", not awaiting payment");
    p.issued_at = now + std::chrono::milliseconds(insurer(p.insurer_id).behaviour.issue_ms);
    p.policy_number = policyNumber();
    Poco::Logger::get("simulator").information(p.insurer_id + ": purchase " + purchase_id + " paid");
    // After the form's POST, back to the page (which now says it is paid); a test's call gets the state.
    if (from_form) resp.set("Location", "/pay/" + purchase_id);
    return http::sendJson(resp, from_form ? 303 : 200, {{"state", stateOf(p, now)}});
  }
  const std::string& name = insurer(p.insurer_id).profile.name;
  resp.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
  resp.setContentType("text/html; charset=utf-8");
  resp.set("Cache-Control", "no-store");
  std::ostream& out = resp.send();
  out << "<!doctype html><html lang=\"ru\"><head><meta charset=\"utf-8\"><title>Оплата полиса ОСАГО</title>"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head><body>"
         "<p><small>Тестовая страница оплаты симулятора страховых компаний</small></p>"
      << "<h1>Оплата полиса ОСАГО — " << htmlEscape(name) << "</h1>"
      << "<p>К оплате: <strong id=\"amount\">" << htmlEscape(p.premium) << " ₽</strong></p>";
  if (state == "payment")
    out << "<form method=\"post\" action=\"/pay/" << htmlEscape(purchase_id) << "\"><button id=\"pay\" type=\"submit\">Оплатить</button></form>";
  else if (state == "paid" || state == "issued")
    out << "<p id=\"paid\">Оплачено. Полис оформляется — вернитесь на страницу с предложениями.</p>";
  else if (state == "checking")
    out << "<p id=\"checking\">Страховая компания проверяет данные, обновите страницу через несколько секунд.</p>";
  else
    out << "<p id=\"closed\">Оплата недоступна.</p>";
  out << "</body></html>";
}

}  // namespace osago::simulator
