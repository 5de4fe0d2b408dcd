#include "store/quote_store.hpp"

#include "store/sql_text.hpp"

#include <osago/common/ids.hpp>
#include <osago/common/json_text.hpp>

#include <algorithm>
#include <set>

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>

namespace osago::host {


namespace {

using sql::iso;
using sql::unixMs;

std::string sha256(const std::string& text) {
  Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
  engine.update(text);
  return Poco::DigestEngine::digestToHex(engine.digest());
}

/// A quote.company-status event (docs/api.md#events), written as text: six
/// per create and one per change, so no nlohmann::json tree is built for it
/// (building and serialising those was a fifth of the aggregator's time
/// while creating). Without `seq` (and `requestStatus`) when the statement
/// that stores it assigns them.
struct EventText {
  std::string id;
  std::string payload;
};

EventText event(const std::string& request_id, const std::string& trace_id, std::optional<long long> seq,
                const std::string& company_id, const std::string& company_name, CompanyStatus company_status,
                const nlohmann::json& offer, const nlohmann::json& error, std::optional<RequestStatus> request_status) {
  EventText e{newUuid(), {}};
  e.payload.reserve(320);
  json_text::Object o(e.payload);
  o.number("v", 1).string("eventId", e.id).string("type", "quote.company-status").string("osagoRequestId", request_id);
  if (seq) o.number("seq", *seq);
  o.string("companyId", company_id)
      .string("companyName", company_name)
      .string("status", name(company_status))
      .number("occurredAtMs", unixMs(std::chrono::system_clock::now()));
  if (request_status) o.string("requestStatus", name(*request_status));
  if (!trace_id.empty()) o.string("traceId", trace_id);
  if (!offer.is_null()) o.raw("offer", offer.dump());
  if (!error.is_null()) o.raw("error", error.dump());
  o.close();
  return e;
}

}  // namespace

QuoteStore::QuoteStore(pg::Pool& db) : db_(db) {}

CreateResult QuoteStore::create(const NewQuoteRequest& r) {
  std::string input = r.input.dump();
  std::string hash = sha256(input);
  std::string id = newUuid();
  bool all_final = std::all_of(r.companies.begin(), r.companies.end(),
                               [](const NewCompany& c) { return isFinal(c.status); });
  RequestStatus request_status = all_final ? RequestStatus::kCompleted : RequestStatus::kInProgress;
  std::string companies = "[", events = "[";
  companies.reserve(128 * r.companies.size() + 2);
  events.reserve(400 * r.companies.size() + 2);
  for (std::size_t i = 0; i < r.companies.size(); ++i) {
    const NewCompany& c = r.companies[i];
    auto seq = static_cast<long long>(i + 1);
    std::string error = c.error.is_null() ? "null" : c.error.dump();
    if (i > 0) companies += ',', events += ',';
    json_text::Object{companies}
        .string("company_id", c.id)
        .string("company_name", c.name)
        .number("position", static_cast<long long>(i))
        .string("status", name(c.status))
        .raw("error", error)
        .close();
    bool last = i + 1 == r.companies.size();
    auto e = event(id, r.trace_id, seq, c.id, c.name, c.status, nullptr, c.error,
                   last ? request_status : RequestStatus::kInProgress);
    json_text::Object{events}.string("event_id", e.id).number("seq", seq).raw("payload", e.payload).close();
  }
  companies += ']', events += ']';
  auto c = db_.acquire();
  // One statement, so one implicit transaction and one round trip: the request,
  // its companies and their first events. A taken key inserts nothing.
  auto created = c->query(
      "WITH r AS ("
      "  INSERT INTO quote_requests (id, user_id, correlation_id, idempotency_key, input, input_hash, deadline_at, "
      "    last_seq, status, finished_at, trace_id) "
      "  VALUES ($1, $2, $3, $4, $5::jsonb, $6, now() + make_interval(secs => $7::int), $8, $9, "
      "    CASE WHEN $9 = 'COMPLETED' THEN now() END, nullif($12, '')) "
      "  ON CONFLICT (user_id, idempotency_key) DO NOTHING RETURNING id, deadline_at), "
      "c AS ("
      "  INSERT INTO company_quotes (request_id, company_id, company_name, position, status, error, deadline_at) "
      "  SELECT r.id, x.company_id, x.company_name, x.position, x.status, nullif(x.error, 'null'::jsonb), r.deadline_at "
      "  FROM r, jsonb_to_recordset($10::jsonb) AS x(company_id text, company_name text, position int, status text, "
      "    error jsonb)), "
      "e AS ("
      "  INSERT INTO outbox_events (event_id, request_id, seq, payload) "
      "  SELECT x.event_id, r.id, x.seq, x.payload "
      "  FROM r, jsonb_to_recordset($11::jsonb) AS x(event_id uuid, seq bigint, payload jsonb)) "
      "SELECT r.id::text FROM r",
      id, r.user_id, r.correlation_id, r.idempotency_key, input, hash, static_cast<long long>(r.deadline.count()),
      static_cast<long long>(r.companies.size()), name(request_status), companies, events, r.trace_id);
  if (created.rows() == 1) return {CreateResult::Kind::Created, id};
  auto existing = storedUnderKey(*c, r, hash);
  if (!existing)
    throw pg::Error("the request with idempotency key " + r.idempotency_key + " conflicted but cannot be read", "", true);
  return *existing;
}

std::optional<CreateResult> QuoteStore::findCreated(const NewQuoteRequest& r) {
  auto c = db_.acquire();
  return storedUnderKey(*c, r, sha256(r.input.dump()));
}

std::optional<CreateResult> QuoteStore::storedUnderKey(pg::Connection& c, const NewQuoteRequest& r,
                                                       const std::string& input_hash) {
  auto existing = c.query("SELECT id::text, input_hash FROM quote_requests WHERE user_id = $1 AND idempotency_key = $2",
                          r.user_id, r.idempotency_key);
  if (existing.rows() != 1) return std::nullopt;
  return CreateResult{existing.text(0, 1) == input_hash ? CreateResult::Kind::Replayed : CreateResult::Kind::KeyReused,
                      existing.text(0, 0)};
}

std::optional<QuoteRequestView> QuoteStore::find(const std::string& request_id) {
  auto c = db_.acquire();
  // One statement, one snapshot: last_seq and the company rows are of one
  // moment (the resume rule counts on it: events after last_seq are exactly
  // the changes the companies do not show yet).
  auto rows = c->query("SELECT r.id::text, r.user_id, r.correlation_id, r.status, r.last_seq, " + iso("r.created_at") +
                           ", " + iso("r.deadline_at") + ", q.company_id, q.company_name, q.status, q.offer::text, "
                           "q.error::text, " + iso("q.updated_at") + ", coalesce(r.trace_id, ''), " +
                           "p.id::text, p.status, p.payment::text, p.policy::text, p.error::text, " + iso("p.created_at") +
                           ", " + iso("p.updated_at") + ", " + iso("p.deadline_at") +
                           " FROM quote_requests r LEFT JOIN company_quotes q ON q.request_id = r.id"
                           " LEFT JOIN purchases p ON p.request_id = q.request_id AND p.company_id = q.company_id"
                           " WHERE r.id = $1 ORDER BY q.position",
                       request_id);
  if (rows.rows() == 0) return std::nullopt;
  QuoteRequestView v;
  v.id = rows.text(0, 0);
  v.user_id = rows.text(0, 1);
  v.correlation_id = rows.text(0, 2);
  v.status = requestStatusNamed(rows.text(0, 3));
  v.last_seq = rows.int64(0, 4);
  v.created_at = rows.text(0, 5);
  v.deadline_at = rows.text(0, 6);
  v.trace_id = rows.text(0, 13);
  for (int i = 0; i < rows.rows(); ++i) {
    if (rows.isNull(i, 7)) continue;  // a request without companies
    CompanyQuote q;
    q.company_id = rows.text(i, 7);
    q.company_name = rows.text(i, 8);
    q.status = companyStatusNamed(rows.text(i, 9));
    if (!rows.isNull(i, 10)) q.offer = nlohmann::json::parse(rows.text(i, 10));
    if (!rows.isNull(i, 11)) q.error = nlohmann::json::parse(rows.text(i, 11));
    q.updated_at = rows.text(i, 12);
    if (!rows.isNull(i, 14)) {
      PurchaseView p;
      p.id = rows.text(i, 14);
      p.status = purchaseStatusNamed(rows.text(i, 15));
      if (!rows.isNull(i, 16)) p.payment = nlohmann::json::parse(rows.text(i, 16));
      if (!rows.isNull(i, 17)) p.policy = nlohmann::json::parse(rows.text(i, 17));
      if (!rows.isNull(i, 18)) p.error = nlohmann::json::parse(rows.text(i, 18));
      p.created_at = rows.text(i, 19);
      p.updated_at = rows.text(i, 20);
      p.deadline_at = rows.text(i, 21);
      q.purchase = std::move(p);
    }
    v.companies.push_back(std::move(q));
  }
  return v;
}

std::vector<WorkItem> QuoteStore::claimDue(const std::string& owner, int limit, std::chrono::seconds lease) {
  auto c = db_.acquire();
  auto rows = c->query(
      "UPDATE company_quotes c SET lease_owner = $1, lease_until = now() + make_interval(secs => $2::int), "
      "  unrecorded_claims = c.unrecorded_claims + 1 "
      "FROM quote_requests r "
      "WHERE r.id = c.request_id AND (c.request_id, c.company_id) IN ("
      "  SELECT request_id, company_id FROM company_quotes "
      "  WHERE status IN ('CREATED', 'IN_PROGRESS') AND (next_poll_at <= now() OR deadline_at <= now()) "
      "    AND (lease_until IS NULL OR lease_until < now()) "
      "  ORDER BY next_poll_at LIMIT $3 FOR UPDATE SKIP LOCKED) "
      "RETURNING c.request_id::text, c.company_id, c.company_name, r.correlation_id, coalesce(c.external_id, ''), "
      "c.attempts, (extract(epoch FROM c.deadline_at) * 1000)::bigint, r.input::text, c.status, "
      "(extract(epoch FROM r.created_at) * 1000)::bigint, c.unrecorded_claims, c.worker_crashes, "
      "(extract(epoch FROM now() - c.next_poll_at) * 1000)::bigint, "
      "(extract(epoch FROM now() - c.submitted_at) * 1000)::bigint, (extract(epoch FROM now() - c.last_poll_at) * 1000)::bigint, "
      "coalesce(r.trace_id, '')",
      owner, static_cast<long long>(lease.count()), limit);
  return claimedItems(rows, false);
}

std::vector<WorkItem> QuoteStore::claimedItems(const pg::Result& rows, bool purchases) {
  auto claimed_at = std::chrono::steady_clock::now();
  std::vector<WorkItem> items;
  items.reserve(static_cast<std::size_t>(rows.rows()));
  for (int i = 0; i < rows.rows(); ++i) {
    WorkItem w;
    w.request_id = rows.text(i, 0);
    w.company_id = rows.text(i, 1);
    w.company_name = rows.text(i, 2);
    w.correlation_id = rows.text(i, 3);
    w.external_id = rows.text(i, 4);
    w.attempts = static_cast<int>(rows.int64(i, 5));
    w.deadline = sql::fromUnixMs(rows.int64(i, 6));
    w.input = rows.text(i, 7);
    w.status = companyStatusNamed(rows.text(i, 8));
    w.created_at = sql::fromUnixMs(rows.int64(i, 9));
    w.claims_without_outcome = static_cast<int>(rows.int64(i, 10));
    w.worker_crashes = static_cast<int>(rows.int64(i, 11));
    w.overdue = std::chrono::milliseconds(rows.int64(i, 12));
    if (!rows.isNull(i, 13)) w.since_submit = std::chrono::milliseconds(rows.int64(i, 13));
    if (!rows.isNull(i, 14)) w.since_last_call = std::chrono::milliseconds(rows.int64(i, 14));
    w.trace_id = rows.text(i, 15);
    w.claimed_at = claimed_at;
    if (purchases) w.purchase = WorkItem::Purchase{rows.text(i, 16), purchaseStatusNamed(rows.text(i, 17))};
    items.push_back(std::move(w));
  }
  return items;
}

namespace {

/// The table a work item's lease is kept in.
const char* workTable(bool purchase) { return purchase ? "purchases" : "company_quotes"; }

/// The UPDATE of the rows of `$2` (a JSON array of keys) in `table` that `$1`
/// still leases, setting `assignment`; rows are locked in key order like the group write of polls.
std::string heldLeasesUpdate(const char* table, const std::string& assignment) {
  return std::string("WITH x AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS x(request_id uuid, company_id text)), "
                     "locked AS (SELECT c.request_id, c.company_id FROM ") + table +
         " c JOIN x USING (request_id, company_id) "
         "  WHERE c.lease_owner = $1 ORDER BY c.request_id, c.company_id FOR UPDATE OF c) "
         "UPDATE " + table + " c SET " + assignment + " FROM locked "
         "WHERE c.request_id = locked.request_id AND c.company_id = locked.company_id AND c.lease_owner = $1";
}

/// The keys of `items` in one table (quotes' or purchases'), as the JSON heldLeasesUpdate reads.
std::string keysJson(const std::vector<LeaseKey>& items, bool purchases) {
  nlohmann::json keys = nlohmann::json::array();
  for (const auto& k : items)
    if (k.purchase == purchases) keys.push_back({{"request_id", k.request_id}, {"company_id", k.company_id}});
  return keys.empty() ? std::string() : keys.dump();
}

}  // namespace

std::size_t QuoteStore::renewLeases(const std::string& owner, const std::vector<LeaseKey>& items, std::chrono::seconds lease) {
  std::size_t renewed = 0;
  for (bool purchases : {false, true}) {
    auto keys = keysJson(items, purchases);
    if (keys.empty()) continue;
    auto r = db_.acquire()->query(heldLeasesUpdate(workTable(purchases), "lease_until = now() + make_interval(secs => $3::int)"),
                                  owner, keys, static_cast<long long>(lease.count()));
    renewed += static_cast<std::size_t>(r.affected());
  }
  return renewed;
}

std::size_t QuoteStore::releaseLeases(const std::string& owner, const std::vector<LeaseKey>& items) {
  std::size_t released = 0;
  for (bool purchases : {false, true}) {
    auto keys = keysJson(items, purchases);
    if (keys.empty()) continue;
    // Handed back unstarted: this claim does not count towards the quarantine.
    auto r = db_.acquire()->query(
        heldLeasesUpdate(workTable(purchases),
                         "lease_owner = NULL, lease_until = NULL, unrecorded_claims = greatest(0, c.unrecorded_claims - 1)"),
        owner, keys);
    released += static_cast<std::size_t>(r.affected());
  }
  return released;
}

int QuoteStore::countWorkerCrash(const WorkItem& item, const std::string& owner) {
  auto r = db_.acquire()->query(
      std::string("UPDATE ") + workTable(item.purchase.has_value()) + " SET worker_crashes = worker_crashes + 1 "
      "WHERE request_id = $1 AND company_id = $2 AND lease_owner = $3 RETURNING worker_crashes",
      item.request_id, item.company_id, owner);
  return r.rows() == 0 ? item.worker_crashes + 1 : static_cast<int>(r.int64(0, 0));
}

QuoteStore::DueBacklog QuoteStore::dueBacklog(std::chrono::seconds live) {
  auto c = db_.acquire();
  auto r = c->query(
      "SELECT (SELECT count(*) FROM company_quotes WHERE status IN ('CREATED', 'IN_PROGRESS') "
      "          AND next_poll_at <= now() AND (lease_until IS NULL OR lease_until < now())), "
      "       (SELECT greatest(1, count(DISTINCT instance_id)) FROM partner_health "
      "          WHERE reported_at > now() - make_interval(secs => $1::int))",
      static_cast<long long>(live.count()));
  return {r.int64(0, 0), static_cast<int>(r.int64(0, 1))};
}

QuoteStore::NextDue QuoteStore::nextDueIn() {
  auto c = db_.acquire();
  // Unleased unfinished work only; a deadline counts as due (the work is then failed).
  auto r = c->exec(
      "SELECT (SELECT greatest(0, (extract(epoch FROM min(least(next_poll_at, deadline_at)) - now()) * 1000)::bigint) "
      "          FROM company_quotes WHERE status IN ('CREATED', 'IN_PROGRESS') "
      "          AND (lease_until IS NULL OR lease_until < now())), "
      "       (SELECT greatest(0, (extract(epoch FROM min(least(next_poll_at, deadline_at)) - now()) * 1000)::bigint) "
      "          FROM purchases WHERE status IN " + std::string(kLivePurchase) +
      "          AND (lease_until IS NULL OR lease_until < now()))");
  NextDue due;
  if (!r.isNull(0, 0)) due.quotes = std::chrono::milliseconds(r.int64(0, 0));
  if (!r.isNull(0, 1)) due.purchases = std::chrono::milliseconds(r.int64(0, 1));
  return due;
}

struct QuoteStore::UnchangedRecord {
  nlohmann::json row;
  bool done = false;
  bool written = false;
  std::exception_ptr error;
};

bool QuoteStore::recordUnchanged(const WorkItem& item, const CompanyUpdate& u, const std::string& owner) {
  auto mine = std::make_shared<UnchangedRecord>();
  mine->row = {{"request_id", item.request_id},      {"company_id", item.company_id}, {"owner", owner},
               {"status", u.status},                 {"external_id", u.external_id},  {"attempts", u.attempts},
               {"next_ms", unixMs(u.next_poll_at)}};
  std::unique_lock lock(batch_mutex_);
  batch_.push_back(mine);
  while (!mine->done) {
    if (writing_) {
      batch_written_.wait(lock);
      continue;
    }
    // No write in progress: this caller writes everything queued, its own row included.
    writing_ = true;
    auto batch = std::move(batch_);
    batch_.clear();
    lock.unlock();
    std::exception_ptr error;
    try {
      writeUnchanged(batch);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    for (auto& r : batch) {
      r->done = true;
      r->error = error;
    }
    writing_ = false;
    batch_written_.notify_all();
  }
  if (mine->error) std::rethrow_exception(mine->error);
  return mine->written;
}

void QuoteStore::writeUnchanged(const std::vector<std::shared_ptr<UnchangedRecord>>& batch) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : batch) rows.push_back(r->row);
  auto c = db_.acquire();
  // Rows are locked in key order (as renewLeases does), so two multi-row
  // writes never wait for each other in a cycle. A row whose lease another
  // instance took over, or whose status changed, is left alone.
  auto written = c->query(
      "WITH x AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(request_id uuid, company_id text, owner text, "
      "    status text, external_id text, attempts int, next_ms bigint)), "
      "locked AS (SELECT c.request_id, c.company_id FROM company_quotes c JOIN x USING (request_id, company_id) "
      "  WHERE c.lease_owner = x.owner AND c.status = x.status ORDER BY c.request_id, c.company_id FOR UPDATE OF c) "
      "UPDATE company_quotes c SET external_id = nullif(x.external_id, ''), attempts = x.attempts, "
      "  submitted_at = coalesce(c.submitted_at, CASE WHEN x.external_id <> '' THEN now() END), "
      "  next_poll_at = to_timestamp(x.next_ms / 1000.0), last_poll_at = now(), lease_owner = NULL, lease_until = NULL, "
      "  last_owner = x.owner, unrecorded_claims = 0, updated_at = now() "
      "FROM x WHERE c.request_id = x.request_id AND c.company_id = x.company_id AND c.lease_owner = x.owner "
      "  AND c.status = x.status AND (c.request_id, c.company_id) IN (SELECT request_id, company_id FROM locked) "
      "RETURNING c.request_id::text, c.company_id",
      rows.dump());
  std::set<std::pair<std::string, std::string>> keys;
  for (int i = 0; i < written.rows(); ++i) keys.emplace(written.text(i, 0), written.text(i, 1));
  for (const auto& r : batch)
    r->written = keys.count({r->row["request_id"].get<std::string>(), r->row["company_id"].get<std::string>()}) > 0;
}

QuoteStore::Recorded QuoteStore::record(const WorkItem& item, const CompanyUpdate& u, const std::string& owner) {
  // No change of status (the partner is still working on it): no event and
  // nothing another company's change must be ordered with. Most calls end here.
  if (u.status == item.status) return {recordUnchanged(item, u, owner)};
  auto c = db_.acquire();
  // seq and requestStatus are filled in by the statement that assigns them.
  auto e = event(item.request_id, item.trace_id, std::nullopt, item.company_id, item.company_name, u.status, u.offer,
                 u.error, std::nullopt);
  pg::Transaction tx(*c);
  // The request row lock orders every change of this request: seq stays gap-free,
  // and the next statement's snapshot, taken once the lock is ours, sees every
  // other company's committed state for the "all companies final" check.
  c->query("SELECT 1 FROM quote_requests WHERE id = $1 FOR UPDATE", item.request_id);
  auto r = c->query(
      "WITH upd AS ("
      "  UPDATE company_quotes c SET status = $4, external_id = nullif($5, ''), attempts = $6, "
      "    submitted_at = coalesce(c.submitted_at, CASE WHEN $5::text <> '' THEN now() END), "
      "    next_poll_at = to_timestamp($7::bigint / 1000.0), last_poll_at = now(), offer = $8::jsonb, "
      "    error = $9::jsonb, lease_owner = NULL, lease_until = NULL, last_owner = $3, unrecorded_claims = 0, "
      "    updated_at = now() "
      "  FROM company_quotes old WHERE old.request_id = c.request_id AND old.company_id = c.company_id "
      "    AND c.request_id = $1 AND c.company_id = $2 AND c.lease_owner = $3 RETURNING old.status AS previous), "
      "p AS ("
      "  SELECT $4 IN ('CREATED', 'IN_PROGRESS') OR EXISTS (SELECT 1 FROM company_quotes "
      "    WHERE request_id = $1 AND company_id <> $2 AND status IN ('CREATED', 'IN_PROGRESS')) AS companies_pending, "
      "  EXISTS (SELECT 1 FROM purchases WHERE request_id = $1 AND status IN ('CREATED', 'PENDING', 'PAYMENT', 'PAID')) "
      "    AS purchase_live), "
      // The request is in progress while a company or a purchase of it is (docs/api.md, "Purchases").
      "req AS ("
      "  UPDATE quote_requests q SET last_seq = q.last_seq + 1, "
      "    status = CASE WHEN p.companies_pending OR p.purchase_live THEN 'IN_PROGRESS' ELSE 'COMPLETED' END, "
      "    finished_at = CASE WHEN p.companies_pending OR p.purchase_live THEN NULL ELSE now() END "
      "  FROM p WHERE q.id = $1 AND EXISTS (SELECT 1 FROM upd WHERE upd.previous <> $4) RETURNING q.last_seq, q.status), "
      "ev AS ("
      "  INSERT INTO outbox_events (event_id, request_id, seq, payload) "
      "  SELECT $10::uuid, $1, req.last_seq, "
      "    $11::jsonb || jsonb_build_object('seq', req.last_seq, 'requestStatus', req.status) FROM req) "
      "SELECT (SELECT count(*) FROM upd), (SELECT NOT companies_pending FROM p) AND EXISTS (SELECT 1 FROM req), "
      // Under the request's lock the snapshot holds every other company's committed state.
      "  $4 = 'COMPLETED' AND NOT EXISTS (SELECT 1 FROM company_quotes WHERE request_id = $1 AND company_id <> $2 "
      "    AND status = 'COMPLETED')",
      item.request_id, item.company_id, owner, name(u.status), u.external_id, static_cast<long long>(u.attempts),
      static_cast<long long>(unixMs(u.next_poll_at)), u.offer.is_null() ? pg::Param() : pg::Param(u.offer.dump()),
      u.error.is_null() ? pg::Param() : pg::Param(u.error.dump()), e.id, e.payload);
  if (r.int64(0, 0) == 0) return {};  // the lease expired and another instance took the work
  tx.commit();
  return {true, r.text(0, 1) == "t", r.text(0, 2) == "t"};
}

void QuoteStore::ping(std::chrono::milliseconds bound) {
  db_.acquire(bound)->exec("SELECT 1", {}, bound);
}

QuoteStore::OutboxBacklog QuoteStore::outboxBacklog() {
  auto c = db_.acquire();
  auto r = c->exec(
      "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 FROM outbox_events "
      "WHERE published_at IS NULL");
  return {r.int64(0, 0), std::stod(r.text(0, 1))};
}

std::size_t QuoteStore::purgeFinished(std::chrono::seconds age, int limit) {
  auto c = db_.acquire();
  // Company rows go with their request (ON DELETE CASCADE). Events of the
  // request still waiting for Kafka (an outage of a day) are kept.
  auto r = c->query(
      "WITH gone AS ("
      "  DELETE FROM quote_requests WHERE id IN (SELECT id FROM quote_requests WHERE status = 'COMPLETED' "
      "    AND finished_at < now() - make_interval(secs => $1::int) ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED) "
      "  RETURNING id), "
      "events AS (DELETE FROM outbox_events WHERE request_id IN (SELECT id FROM gone) AND published_at IS NOT NULL) "
      "SELECT count(*) FROM gone",
      static_cast<long long>(age.count()), limit);
  return static_cast<std::size_t>(r.int64(0, 0));
}

std::size_t QuoteStore::purgePublishedEvents(std::chrono::seconds age, int limit) {
  auto c = db_.acquire();
  auto r = c->query(
      "DELETE FROM outbox_events WHERE id IN (SELECT id FROM outbox_events WHERE published_at IS NOT NULL "
      "  AND published_at < now() - make_interval(secs => $1::int) ORDER BY published_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
      static_cast<long long>(age.count()), limit);
  return static_cast<std::size_t>(r.affected());
}

namespace {

std::string bigintArray(const std::vector<long long>& ids) {
  std::string a = "{";
  for (std::size_t i = 0; i < ids.size(); ++i) a += (i ? "," : "") + std::to_string(ids[i]);
  return a + "}";
}

}  // namespace

std::vector<OutboxEvent> QuoteStore::claimOutbox(const std::string& owner, std::size_t limit, std::chrono::seconds lease) {
  auto c = db_.acquire();
  // One statement, so the claim commits at once. `candidates` locks the free
  // rows it takes (SKIP LOCKED: another relay's claim in progress is passed
  // over); an event waits while an earlier one of its request is unpublished
  // and not among them (claimed or being claimed elsewhere).
  auto rows = c->query(
      "WITH candidates AS ("
      "  SELECT id, request_id FROM outbox_events"
      "  WHERE published_at IS NULL AND (claimed_until IS NULL OR claimed_until < now())"
      "  ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)"
      " UPDATE outbox_events o SET claimed_by = $2, claimed_until = now() + make_interval(secs => $3)"
      " FROM candidates c WHERE o.id = c.id AND NOT EXISTS ("
      "   SELECT 1 FROM outbox_events p WHERE p.request_id = c.request_id AND p.id < c.id"
      "   AND p.published_at IS NULL AND p.id NOT IN (SELECT id FROM candidates))"
      " RETURNING o.id, o.request_id::text, o.payload::text",
      static_cast<long long>(limit), owner, static_cast<long long>(lease.count()));
  std::vector<OutboxEvent> events;
  events.reserve(static_cast<std::size_t>(rows.rows()));
  for (int i = 0; i < rows.rows(); ++i) events.push_back({rows.int64(i, 0), rows.text(i, 1), rows.text(i, 2)});
  std::sort(events.begin(), events.end(), [](const OutboxEvent& a, const OutboxEvent& b) { return a.id < b.id; });
  return events;
}

std::size_t QuoteStore::markPublished(const std::vector<long long>& ids) {
  if (ids.empty()) return 0;
  auto c = db_.acquire();
  auto r = c->query("UPDATE outbox_events SET published_at = now(), claimed_by = NULL, claimed_until = NULL"
                    " WHERE id = ANY($1::bigint[]) AND published_at IS NULL RETURNING id",
                    bigintArray(ids));
  return static_cast<std::size_t>(r.rows());
}

std::size_t QuoteStore::releaseOutbox(const std::string& owner, const std::vector<long long>& ids) {
  if (ids.empty()) return 0;
  auto c = db_.acquire();
  auto r = c->query("UPDATE outbox_events SET claimed_by = NULL, claimed_until = NULL"
                    " WHERE id = ANY($1::bigint[]) AND claimed_by = $2 AND published_at IS NULL RETURNING id",
                    bigintArray(ids), owner);
  return static_cast<std::size_t>(r.rows());
}

}  // namespace osago::host
