#pragma once

#include <osago/common/http_server.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace osago::simulator {

using Clock = std::chrono::steady_clock;

/// The API dialects real partners differ in (docs/insurer-simulator.md):
/// kPolisNet — X-Api-Key, camelCase, rubles as decimal strings, a status field;
/// kGarant — OAuth-style token, snake_case, kopecks, HTTP 202 + Retry-After while pending;
/// kVolna — "Authorization: ApiKey", states processing/hold/done/rejected/error, Retry-After;
/// kPotok — asynchronous operations: the caller says how long it will wait
/// (`desired-timeout`, seconds); past that it gets `202 {"draftId", "href"}` and
/// polls the operation (`/sales/v2/operations?oper_id=…`), as some insurers' public APIs do.
enum class Dialect { kPolisNet, kGarant, kVolna, kPotok };

/// What an insurer does, switchable at run time through the control endpoint.
struct Behaviour {
  std::string mode = "normal";   ///< normal | decline | error | malformed | wrong_types | oversized | hang | trickle
  int pending_ms = 2000;         ///< how long an application stays pending
  int pending_jitter_ms = 0;     ///< plus a uniform random extra up to this
  double error_rate = 0;         ///< share of answers that are a 503 in normal mode
  int purchase_check_ms = 1000;  ///< how long a new purchase is checked before its payment page opens
  int issue_ms = 1500;           ///< how long after payment the policy is issued

  nlohmann::json toJson() const;
  /// Applies the fields present in `j`; throws http::HttpError 400 on a bad value.
  void update(const nlohmann::json& j);
};

/// One fictional insurance company served by the simulator.
struct InsurerProfile {
  std::string id;                          ///< path prefix: /{id}/osago/applications
  std::string name;
  Dialect dialect = Dialect::kPolisNet;
  std::string api_key;                     ///< PolisNet, Volna and Potok
  std::string client_id;                   ///< Garant
  std::string client_secret;               ///< Garant
  int token_ttl_seconds = 300;             ///< Garant
  std::int64_t base_rate_kopecks = 0;      ///< TB, inside the regulator's corridor
  int decline_under_age = 0;               ///< decline when any driver is younger (0: never)
  std::set<std::string> decline_regions;   ///< decline owners registered in these regions
  Behaviour behaviour;                     ///< the initial behaviour
};

struct SimulatorConfig {
  std::string host = "127.0.0.1";
  int port = 8090;
  /// The same API over HTTPS (as real partners serve it) on `tls_port`, with
  /// this certificate and key (PEM); 0: no HTTPS listener. OSAGO_SIMULATOR_TLS_PORT.
  int tls_port = 0;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string log_level = "information";
  std::vector<InsurerProfile> insurers;

  /// Parses the YAML file (unknown keys rejected), then applies OSAGO_SIMULATOR_PORT.
  static SimulatorConfig load(const std::string& file);
};

/// The simulated partners' REST APIs (quotes and purchases, each in its
/// dialect; docs/insurer-simulator.md), the buyer's payment pages (/pay/{id}),
/// plus a control API for tests:
/// GET /control/insurers/{id}, PUT /control/insurers/{id}/behaviour, POST /control/reset,
/// POST /control/ready-times (when each application's answer was ready).
/// Thread-safe. Applications live in memory only; the oldest are dropped beyond kMaxApplications.
class InsurerSimulator {
 public:
  static constexpr std::size_t kMaxApplications = 100'000;

  explicit InsurerSimulator(std::vector<InsurerProfile> insurers);
  ~InsurerSimulator();

  void registerRoutes(http::Router& router);
  /// Where the buyer's pages are served, e.g. "http://127.0.0.1:8090" (set once the port is known).
  void setPublicUrl(std::string url);

 private:
  struct Application {
    std::string insurer_id;
    std::chrono::steady_clock::time_point ready_at;
    nlohmann::json outcome;  // {"kind": "offer"|"declined", ...}
    long long ready_at_unix_ms = 0;  // the same moment on the wall clock, for benchmarks (POST /control/ready-times)
    int polls_in_flight = 0;
  };
  /// A purchase of an offer: checked, then its payment page is open until paid (or it expires), then issued.
  struct Purchase {
    std::string insurer_id;
    std::string application_id;
    std::string key;                       ///< the caller's idempotency key
    std::string premium;                   ///< rubles, as offered
    Clock::time_point checked_at;          ///< end of the check: the payment page opens
    long long payment_expires_unix_ms = 0;
    bool declined = false;
    std::string decline_reason, decline_message;
    std::optional<Clock::time_point> issued_at;  ///< set at payment: payment + issue_ms
    std::string policy_number;
  };
  /// A purchase's state now: checking, payment, paid, issued or declined.
  static std::string stateOf(const Purchase& p, Clock::time_point now);

  struct Stats {
    long applications = 0;
    long polls = 0;
    long tokens = 0;
    long unauthorized = 0;
    long overlapping_polls = 0;  // a poll of an application while another poll of it was running
    long purchases = 0;
    long purchase_polls = 0;
  };
  struct Insurer {
    InsurerProfile profile;
    Behaviour behaviour;
    Stats stats;
    std::map<std::string, std::chrono::steady_clock::time_point> tokens;  // Garant access tokens
  };

  Insurer& insurer(const std::string& id);
  /// Finds and authenticates the insurer (under `lock`), counts the call in `counter`
  /// (if any) and plays its misbehaviour (hang, trickle, error, malformed, …);
  /// nullptr when that already answered.
  Insurer* enter(std::unique_lock<std::mutex>& lock, Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp,
                 const std::string& insurer_id, long Stats::*counter);
  void authenticate(Insurer& ins, const Poco::Net::HTTPServerRequest& request);
  /// Blocks like a hanging partner, then throws a 504 (the client has long given up).
  [[noreturn]] void hang(Insurer& ins);
  void trickle(Poco::Net::HTTPServerResponse& response);
  /// Applies the run-time behaviour: may answer (error, malformed, hang) and return true.
  bool misbehave(Insurer& ins, Poco::Net::HTTPServerResponse& response);
  nlohmann::json decide(const InsurerProfile& p, const nlohmann::json& quote, const std::string& id) const;

  /// Takes an application (`body` in the insurer's dialect) and decides its outcome; its id (caller holds mutex_).
  std::string newApplication(Insurer& ins, const nlohmann::json& body, const Poco::Net::HTTPServerRequest& req);
  void submit(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp, const std::string& insurer_id);
  void offer(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp, const std::string& insurer_id,
             const std::string& application_id);
  void token(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp, const std::string& insurer_id);
  void issue(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp, const std::string& insurer_id);
  void policy(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp, const std::string& insurer_id,
              const std::string& purchase_id);
  /// The purchase's state in the insurer's dialect (caller holds mutex_).
  void sendPurchase(Poco::Net::HTTPServerResponse& resp, const Insurer& ins, const std::string& id, const Purchase& p,
                    int created_status);
  /// The payment page; `pay`: its button was pressed (from the page's form: answered with a redirect back to it).
  void paymentPage(Poco::Net::HTTPServerResponse& resp, const std::string& purchase_id, bool pay, bool from_form);
  void registerPurchaseRoutes(http::Router& router);
  void registerPotokRoutes(http::Router& router);
  // The potok dialect (potok.cpp): a calculation or a purchase is an operation.
  void potokCalculate(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp, const std::string& insurer_id);
  void potokOperation(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp, const std::string& insurer_id);
  void potokBuy(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp, const std::string& insurer_id);
  void potokPolicy(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp, const std::string& insurer_id,
                   const std::string& policy_id);
  /// Waits, without the lock, until `ready` or the caller's desired-timeout passes; true when ready.
  bool holdUntil(std::unique_lock<std::mutex>& lock, Clock::time_point ready, const Poco::Net::HTTPServerRequest& req);
  /// A potok calculation's result, or a purchase's state, as the dialect writes it (caller holds mutex_).
  nlohmann::json potokResult(const Application& app) const;
  nlohmann::json potokPolicyState(const std::string& id, const Purchase& p) const;
  /// Records a new purchase of `application_id` for `ins` under `key` (or finds the one already made with it); its id.
  std::string newPurchase(Insurer& ins, const std::string& application_id, const std::string& key);

  std::mutex mutex_;
  std::map<std::string, Insurer> insurers_;
  std::map<std::string, Application> applications_;
  std::map<std::string, Purchase> purchases_;
  std::map<std::string, std::string> purchase_keys_;  ///< "<insurer>\n<idempotency key>" → purchase id
  std::deque<std::string> purchase_order_;    ///< oldest first: beyond kMaxApplications the oldest are dropped
  std::string public_url_ = "http://127.0.0.1:8090";
  std::vector<std::string> order_;
  std::size_t evict_from_ = 0;
  std::atomic<bool> stopping_{false};
};

/// Converts a Garant (snake_case) application to the canonical quote input; throws on missing fields.
nlohmann::json canonicalFromGarant(const nlohmann::json& application);

}  // namespace osago::simulator
