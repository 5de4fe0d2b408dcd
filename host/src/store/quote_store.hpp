#pragma once

#include <nlohmann/json.hpp>

#include "store/pg.hpp"
#include "store/quote_status.hpp"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace osago::host {

/// The `error` of a FAILED or TIMEOUT company: a machine-readable code, a
/// message for people, and the insurer's own reason when it declined.
inline nlohmann::json companyError(const std::string& code, const std::string& message, const std::string& reason = {}) {
  nlohmann::json e{{"code", code}, {"message", message}};
  if (!reason.empty()) e["reason"] = reason;
  return e;
}

/// Buying a company's offer, as stored and shown (docs/api.md, "Purchases").
struct PurchaseView {
  std::string id;
  PurchaseStatus status = PurchaseStatus::kCreated;
  nlohmann::json payment;  ///< {"url", "draftUrl"?, "expiresAt"} from PAYMENT on; null before
  nlohmann::json policy;   ///< {"number", "url"?} when ISSUED
  nlohmann::json error;    ///< {"code", "message", "reason"?} when DECLINED or FAILED
  std::string created_at, updated_at, deadline_at;  ///< ISO 8601 UTC
};

/// The JSON of a purchase in the API and in quote.purchase-status events.
nlohmann::json purchaseJson(const PurchaseView& p);

/// One company's state within a request.
struct CompanyQuote {
  std::string company_id;
  std::string company_name;
  CompanyStatus status = CompanyStatus::kInProgress;
  nlohmann::json offer;   ///< null unless COMPLETED
  nlohmann::json error;   ///< null unless FAILED/TIMEOUT: {"code", "message"}
  std::string updated_at; ///< ISO 8601 UTC
  std::optional<PurchaseView> purchase;  ///< when its offer is being bought, or was
};

/// A stored quote request with every company's state.
struct QuoteRequestView {
  std::string id;
  std::string user_id;
  std::string correlation_id;
  std::string trace_id;  ///< empty for requests from before traces were kept
  RequestStatus status = RequestStatus::kInProgress;
  long long last_seq = 0;   ///< seq of the last event emitted for this request
  std::string created_at;
  std::string deadline_at;
  std::vector<CompanyQuote> companies;
};

/// A company as a new request starts with it: IN_PROGRESS, or already final
/// (e.g. FAILED because an operator switched it off) with its error.
struct NewCompany {
  std::string id;
  std::string name;
  CompanyStatus status = CompanyStatus::kInProgress;
  nlohmann::json error;
};

struct NewQuoteRequest {
  std::string user_id;
  std::string correlation_id;
  std::string trace_id;  ///< the W3C trace id the request works under
  std::string idempotency_key;  ///< deduplicates creates per user
  nlohmann::json input;  ///< validated canonical quote input
  std::vector<NewCompany> companies;
  std::chrono::seconds deadline{60};
};

/// Result of an idempotent create.
struct CreateResult {
  enum class Kind { Created, Replayed, KeyReused };
  Kind kind = Kind::Created;
  std::string request_id;
};

/// A request to buy a company's offer (QuoteStore::createPurchase).
struct NewPurchase {
  std::string request_id;
  std::string user_id;          ///< the request's owner, as core-app vouches: another user's request is NoRequest
  std::string company_id;
  std::string idempotency_key;  ///< deduplicates purchases of one offer
  nlohmann::json buyer;         ///< validated contact data: {"email", "phone"}
  std::chrono::seconds deadline{1800};  ///< for the purchase, from creation (purchases.deadline)
};

/// What createPurchase did.
struct PurchaseCreated {
  enum class Kind {
    Created,         ///< stored; its first call is due now
    Replayed,        ///< the same key and buyer as a purchase already stored: that one
    KeyReused,       ///< the key of a stored purchase with another buyer: nothing stored
    NoRequest,       ///< no such request
    NoOffer,         ///< the company has no offer in this request (unknown, not answered, declined, failed)
    NotPurchasable,  ///< the offer's plugin cannot sell policies here
    Expired,         ///< the offer's validUntil has passed
    Superseded,      ///< the user has a newer request for the same vehicle: its prices replace these
    Taken,           ///< this offer is already being bought under another key, or another of the request's is
  };
  Kind kind = Kind::Created;
  std::string purchase_id;  ///< Created, Replayed, KeyReused, Taken (the live purchase that stands in the way)
  std::string company_id;   ///< Taken: the company of the live purchase
  std::optional<PurchaseView> purchase;  ///< Created, Replayed: the purchase as stored
};

/// One (request, company) pair claimed by this instance under a lease.
struct WorkItem {
  std::string request_id;
  std::string company_id;
  std::string company_name;
  std::string correlation_id;
  std::string trace_id;  ///< the request's W3C trace id (empty: created before traces were kept)
  CompanyStatus status = CompanyStatus::kCreated;  ///< as claimed: CREATED or IN_PROGRESS
  std::string external_id;  ///< empty until submitted
  int attempts = 0;
  std::chrono::system_clock::time_point deadline;
  std::chrono::system_clock::time_point created_at;  ///< of the request
  std::string input;        ///< the canonical quote input JSON
  int claims_without_outcome = 0;  ///< claims in a row, this one included, that recorded nothing (the instance died)
  int worker_crashes = 0;   ///< calls of this item that killed its plugin's worker, on any instance
  std::chrono::milliseconds overdue{0};  ///< how long it had been due when claimed (negative: claimed for its deadline)
  /// At the claim, by the database's clock: how long ago the submit and the last call were recorded (nullopt: not yet).
  std::optional<std::chrono::milliseconds> since_submit;
  std::optional<std::chrono::milliseconds> since_last_call;
  std::chrono::steady_clock::time_point claimed_at{};  ///< when claimDue returned it, by this process's clock
  /// The work of buying the company's offer (claimDuePurchases) rather than of
  /// quoting it: then external_id is the partner's purchase id, deadline and
  /// created_at are the purchase's, and input is the purchase document.
  struct Purchase {
    std::string id;
    PurchaseStatus status = PurchaseStatus::kCreated;
  };
  std::optional<Purchase> purchase;
};

/// A claimed work item's key for its lease: (request, company) and whether it is the company's purchase.
struct LeaseKey {
  std::string request_id;
  std::string company_id;
  bool purchase = false;
  bool operator<(const LeaseKey& o) const {
    return std::tie(request_id, company_id, purchase) < std::tie(o.request_id, o.company_id, o.purchase);
  }
};
inline LeaseKey leaseKey(const WorkItem& item) { return {item.request_id, item.company_id, item.purchase.has_value()}; }

/// The new state of a work item after a partner call.
struct CompanyUpdate {
  CompanyStatus status = CompanyStatus::kInProgress;
  std::string external_id;
  int attempts = 0;
  std::chrono::system_clock::time_point next_poll_at;
  nlohmann::json offer;
  nlohmann::json error;
};

/// The new state of a purchase after a partner call.
struct PurchaseUpdate {
  PurchaseStatus status = PurchaseStatus::kCreated;
  std::string external_id;
  int attempts = 0;
  std::chrono::system_clock::time_point next_poll_at;
  std::optional<std::chrono::system_clock::time_point> deadline;  ///< a new deadline (the policy of a paid purchase)
  nlohmann::json payment;  ///< null: unchanged
  nlohmann::json policy;
  nlohmann::json error;
};

/// An event waiting in the outbox.
struct OutboxEvent {
  long long id = 0;
  std::string request_id;
  std::string payload;
};

/// PostgreSQL persistence of quote requests, the work queue and the outbox.
/// Every state change and its event commit in one transaction. Thread-safe;
/// every method throws pg::Error (unavailable() when the database cannot be
/// reached: callers retry).
class QuoteStore {
 public:
  explicit QuoteStore(pg::Pool& db);

  /// Stores the request, one row per company and one event per company with
  /// its initial status. The same (user, idempotency key) with the same input
  /// replays the first request; with another input it is KeyReused and nothing
  /// is stored. Concurrent creates with one key wait for each other: one wins.
  CreateResult create(const NewQuoteRequest& request);
  /// What create() would answer for a request already stored under its (user,
  /// idempotency key) — Replayed or KeyReused — or nothing if none is; stores nothing.
  std::optional<CreateResult> findCreated(const NewQuoteRequest& request);

  std::optional<QuoteRequestView> find(const std::string& request_id);

  /// Claims up to `limit` due items (due for a call, or past their deadline)
  /// for `owner` until now + `lease`, skipping rows other instances hold.
  std::vector<WorkItem> claimDue(const std::string& owner, int limit, std::chrono::seconds lease);

  /// The fleet's due calls no instance holds, and the instances that reported
  /// partner health within `live` (at least 1).
  struct DueBacklog {
    long long due = 0;
    int instances = 1;
  };
  DueBacklog dueBacklog(std::chrono::seconds live);

  /// Extends the leases `owner` holds on `items` (request id, company id) to
  /// now + `lease`; returns how many were still held. Leases of work no longer
  /// in hand are left to lapse, so others can take it.
  std::size_t renewLeases(const std::string& owner, const std::vector<LeaseKey>& items, std::chrono::seconds lease);

  /// Gives up the leases `owner` holds on `items` (claimed work it will not
  /// start: it is stopping), so that other instances claim them at once
  /// instead of when the leases lapse; returns how many were still held.
  std::size_t releaseLeases(const std::string& owner, const std::vector<LeaseKey>& items);

  /// Counts one more worker death caused by a call of `item` (a quote's or a
  /// purchase's, held by `owner`) and returns the count over every instance.
  int countWorkerCrash(const WorkItem& item, const std::string& owner);

  /// How long until the earliest unfinished work comes due (zero if some is due now),
  /// quotes' and purchases' apart; nullopt when there is none. One statement.
  struct NextDue {
    std::optional<std::chrono::milliseconds> quotes;
    std::optional<std::chrono::milliseconds> purchases;
  };
  NextDue nextDueIn();

  /// The channel on which a NOTIFY announces new due work (WorkAnnouncer).
  static constexpr const char* kWorkChannel = "osago_work";
  /// The statuses of a purchase still under way, as an SQL list (`status IN ...`).
  static constexpr const char* kLivePurchase = "('CREATED', 'PENDING', 'PAYMENT', 'PAID')";

  /// Throws pg::Error when no connection comes free or PostgreSQL does not answer, each within `bound` (readiness).
  void ping(std::chrono::milliseconds bound);
  /// Events committed but not yet acknowledged by Kafka (the outbox backlog),
  /// and how long the oldest of them has waited (0 s when there is none).
  struct OutboxBacklog {
    std::int64_t events = 0;
    double oldest_age_seconds = 0;
  };
  OutboxBacklog outboxBacklog();

  /// What record() did.
  struct Recorded {
    bool stored = false;             ///< false: `owner` no longer held the lease, nothing was written
    bool request_completed = false;  ///< this write made every company of the request final
    bool first_offer = false;        ///< this write stored the request's first offer
  };
  /// Writes the new state, releases the lease and, when the status changed,
  /// emits the event (and completes the request when every company is final).
  /// Updates that change no status (most polls) from concurrent callers are
  /// written together in one statement (group commit): whoever finds no write
  /// in progress writes everything queued, the others wait for its result.
  Recorded record(const WorkItem& item, const CompanyUpdate& update, const std::string& owner);

  // --- Purchases (purchase_store.cpp) ---

  /// Stores a purchase of the company's offer with its CREATED event, in the
  /// request's event sequence, and reopens the request (IN_PROGRESS until the
  /// purchase is final) — unless one of PurchaseCreated's refusals applies;
  /// then nothing is stored. One purchase per (request, company), and one live
  /// or issued purchase per request.
  PurchaseCreated createPurchase(const NewPurchase& purchase);

  /// Claims up to `limit` due purchases (due for a call, or past their deadline) as claimDue does.
  std::vector<WorkItem> claimDuePurchases(const std::string& owner, int limit, std::chrono::seconds lease);

  /// Writes a purchase's new state and releases its lease; a change of status
  /// (or a new payment page) commits its quote.purchase-status event with it,
  /// and a final status completes the request when nothing else is pending.
  Recorded recordPurchase(const WorkItem& item, const PurchaseUpdate& update, const std::string& owner);

  /// Removes up to `limit` requests finished before now − `age` (their
  /// companies, idempotency keys and published events with them); returns how many.
  std::size_t purgeFinished(std::chrono::seconds age, int limit);
  /// Removes up to `limit` outbox events published before now − `age`; returns how many.
  std::size_t purgePublishedEvents(std::chrono::seconds age, int limit);

  /// Claims up to `limit` unpublished outbox events, oldest first, for
  /// `owner` until now + `lease`, and commits the claim: nothing stays locked
  /// while they are published. Skips events another instance holds, and any
  /// event whose request has an earlier event still unpublished and not
  /// claimed here (so a request's events reach the topic in order).
  std::vector<OutboxEvent> claimOutbox(const std::string& owner, std::size_t limit, std::chrono::seconds lease);
  /// Marks events published (the broker acknowledged them). Returns how many were still unpublished.
  std::size_t markPublished(const std::vector<long long>& ids);
  /// Gives back `owner`'s claims on events it could not publish, so the next
  /// round (of any instance) takes them at once.
  std::size_t releaseOutbox(const std::string& owner, const std::vector<long long>& ids);

 private:
  /// The work items of a claim's RETURNING rows: claimDue's columns, and for `purchases`
  /// the purchase's id and status after them.
  static std::vector<WorkItem> claimedItems(const pg::Result& rows, bool purchases);
  static std::optional<CreateResult> storedUnderKey(pg::Connection& c, const NewQuoteRequest& r, const std::string& input_hash);
  struct UnchangedRecord;
  bool recordUnchanged(const WorkItem& item, const CompanyUpdate& update, const std::string& owner);
  void writeUnchanged(const std::vector<std::shared_ptr<UnchangedRecord>>& batch);

  pg::Pool& db_;
  std::mutex batch_mutex_;
  std::condition_variable batch_written_;
  std::vector<std::shared_ptr<UnchangedRecord>> batch_;  ///< waiting for the next group write
  bool writing_ = false;                                  ///< a group write is in progress
};

}  // namespace osago::host
