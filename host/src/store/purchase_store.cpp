// QuoteStore's purchases (docs/api.md, "Purchases"): buying a company's offer,
// stored beside the company's quote and worked on under the same leases, with
// its quote.purchase-status events in the request's own event sequence.
#include "store/quote_store.hpp"

#include "store/sql_text.hpp"

#include <osago/common/ids.hpp>

namespace osago::host {

using sql::iso;
using sql::unixMs;

nlohmann::json purchaseJson(const PurchaseView& p) {
  nlohmann::json j{{"id", p.id}, {"status", name(p.status)}, {"createdAt", p.created_at},
                   {"updatedAt", p.updated_at}, {"deadlineAt", p.deadline_at}};
  if (!p.payment.is_null()) j["payment"] = p.payment;
  if (!p.policy.is_null()) j["policy"] = p.policy;
  if (!p.error.is_null()) j["error"] = p.error;
  return j;
}

namespace {

/// A quote.purchase-status event (docs/events.md).
std::string purchaseEvent(const std::string& event_id, const std::string& request_id, const std::string& trace_id,
                          long long seq, const std::string& company_id, const std::string& company_name,
                          const PurchaseView& purchase, const std::string& request_status) {
  nlohmann::json e{{"v", 1},
                   {"eventId", event_id},
                   {"type", "quote.purchase-status"},
                   {"osagoRequestId", request_id},
                   {"seq", seq},
                   {"companyId", company_id},
                   {"companyName", company_name},
                   {"purchase", purchaseJson(purchase)},
                   {"requestStatus", request_status},
                   {"occurredAtMs", unixMs(std::chrono::system_clock::now())}};
  if (!trace_id.empty()) e["traceId"] = trace_id;
  return e.dump();
}

/// The purchase's columns as PurchaseView reads them, from `p` (SELECT or RETURNING).
const std::string& purchaseColumns() {
  static const std::string columns = "p.id::text, p.status, p.payment::text, p.policy::text, p.error::text, " +
                                     iso("p.created_at") + ", " + iso("p.updated_at") + ", " + iso("p.deadline_at");
  return columns;
}

PurchaseView purchaseAt(const pg::Result& r, int row, int first) {
  PurchaseView p;
  p.id = r.text(row, first);
  p.status = purchaseStatusNamed(r.text(row, first + 1));
  if (!r.isNull(row, first + 2)) p.payment = nlohmann::json::parse(r.text(row, first + 2));
  if (!r.isNull(row, first + 3)) p.policy = nlohmann::json::parse(r.text(row, first + 3));
  if (!r.isNull(row, first + 4)) p.error = nlohmann::json::parse(r.text(row, first + 4));
  p.created_at = r.text(row, first + 5);
  p.updated_at = r.text(row, first + 6);
  p.deadline_at = r.text(row, first + 7);
  return p;
}

/// Commits (with the caller's transaction, the request's row locked) the quote.purchase-status
/// event of `purchase`: the request's next seq, and its status after the change — IN_PROGRESS
/// while a company or a purchase of it is, else COMPLETED.
void appendPurchaseEvent(pg::Connection& c, const std::string& request_id, const std::string& trace_id,
                         const std::string& company_id, const std::string& company_name, const PurchaseView& purchase) {
  auto r = c.query(
      std::string("UPDATE quote_requests q SET last_seq = q.last_seq + 1, "
                  "  status = CASE WHEN x.pending THEN 'IN_PROGRESS' ELSE 'COMPLETED' END, "
                  "  finished_at = CASE WHEN x.pending THEN NULL ELSE coalesce(q.finished_at, now()) END "
                  "FROM (SELECT EXISTS (SELECT 1 FROM company_quotes WHERE request_id = $1 "
                  "    AND status IN ('CREATED', 'IN_PROGRESS')) "
                  "  OR EXISTS (SELECT 1 FROM purchases WHERE request_id = $1 AND status IN ") + QuoteStore::kLivePurchase + ") AS pending) x "
                  "WHERE q.id = $1 RETURNING q.last_seq, q.status",
      request_id);
  long long seq = r.int64(0, 0);
  std::string event_id = newUuid();
  c.query("INSERT INTO outbox_events (event_id, request_id, seq, payload) VALUES ($1::uuid, $2, $3, $4::jsonb)", event_id,
          request_id, seq, purchaseEvent(event_id, request_id, trace_id, seq, company_id, company_name, purchase, r.text(0, 1)));
}

}  // namespace

PurchaseCreated QuoteStore::createPurchase(const NewPurchase& n) {
  using Kind = PurchaseCreated::Kind;
  auto result = [](Kind kind, std::string purchase_id = {}, std::string company_id = {}) {
    return PurchaseCreated{kind, std::move(purchase_id), std::move(company_id), std::nullopt};
  };
  std::string buyer = n.buyer.dump();
  auto c = db_.acquire();
  pg::Transaction tx(*c);
  // The request's row lock orders this with every other change of the request (seq stays gap-free).
  auto request = c->query("SELECT coalesce(trace_id, '') FROM quote_requests WHERE id = $1 AND user_id = $2 FOR UPDATE",
                          n.request_id, n.user_id);
  if (request.rows() == 0) return result(Kind::NoRequest);
  std::string trace_id = request.text(0, 0);

  auto keyed = c->query("SELECT p.company_id, p.buyer = $3::jsonb, " + purchaseColumns() +
                            " FROM purchases p WHERE p.request_id = $1 AND p.idempotency_key = $2",
                        n.request_id, n.idempotency_key, buyer);
  if (keyed.rows() == 1) {
    auto stored = purchaseAt(keyed, 0, 2);
    if (keyed.text(0, 0) != n.company_id || keyed.text(0, 1) != "t") return result(Kind::KeyReused, stored.id);
    auto replayed = result(Kind::Replayed, stored.id);
    replayed.purchase = std::move(stored);
    return replayed;
  }

  // The offer: answered, purchasable here, still valid, and not replaced by a newer request for the same vehicle.
  auto offer = c->query(
      "SELECT q.company_name, q.status = 'COMPLETED' AND q.offer IS NOT NULL, "
      "  coalesce(q.offer->>'purchasable', '') = 'true', "
      "  coalesce((q.offer->>'validUntil')::timestamptz > now(), false), "
      "  EXISTS (SELECT 1 FROM quote_requests n WHERE n.user_id = r.user_id AND n.created_at > r.created_at "
      "    AND n.id <> r.id AND n.input->'vehicle'->>'vin' = r.input->'vehicle'->>'vin') "
      "FROM company_quotes q JOIN quote_requests r ON r.id = q.request_id "
      "WHERE q.request_id = $1 AND q.company_id = $2",
      n.request_id, n.company_id);
  if (offer.rows() == 0 || offer.text(0, 1) != "t") return result(Kind::NoOffer);
  if (offer.text(0, 2) != "t") return result(Kind::NotPurchasable);
  if (offer.text(0, 3) != "t") return result(Kind::Expired);
  if (offer.text(0, 4) == "t") return result(Kind::Superseded);
  std::string company_name = offer.text(0, 0);

  // One purchase per offer, and one live or issued purchase per request.
  auto taken = c->query(
      "SELECT id::text, company_id FROM purchases WHERE request_id = $1 "
      "  AND (company_id = $2 OR status NOT IN ('DECLINED', 'FAILED')) ORDER BY company_id = $2 DESC LIMIT 1",
      n.request_id, n.company_id);
  if (taken.rows() == 1) return result(Kind::Taken, taken.text(0, 0), taken.text(0, 1));

  std::string id = newUuid();
  auto stored = c->query(
      "INSERT INTO purchases AS p (request_id, company_id, id, idempotency_key, buyer, status, deadline_at) "
      "VALUES ($1, $2, $3::uuid, $4, $5::jsonb, 'CREATED', now() + make_interval(secs => $6::int)) "
      "RETURNING " + purchaseColumns(),
      n.request_id, n.company_id, id, n.idempotency_key, buyer, static_cast<long long>(n.deadline.count()));
  auto created = result(Kind::Created, id);
  created.purchase = purchaseAt(stored, 0, 0);
  appendPurchaseEvent(*c, n.request_id, trace_id, n.company_id, company_name, *created.purchase);
  tx.commit();
  return created;
}

std::vector<WorkItem> QuoteStore::claimDuePurchases(const std::string& owner, int limit, std::chrono::seconds lease) {
  auto c = db_.acquire();
  // The purchase document (docs/plugin-abi.md, "Purchase documents") is built here: the
  // application and offer as the plugin reported them (less the host's own offer fields).
  auto rows = c->query(
      std::string("UPDATE purchases p SET lease_owner = $1, lease_until = now() + make_interval(secs => $2::int), "
                  "  unrecorded_claims = p.unrecorded_claims + 1 "
                  "FROM quote_requests r, company_quotes q "
                  "WHERE r.id = p.request_id AND q.request_id = p.request_id AND q.company_id = p.company_id "
                  "  AND (p.request_id, p.company_id) IN ("
                  "  SELECT request_id, company_id FROM purchases WHERE status IN ") + QuoteStore::kLivePurchase +
          "    AND (next_poll_at <= now() OR deadline_at <= now()) AND (lease_until IS NULL OR lease_until < now()) "
          "  ORDER BY next_poll_at LIMIT $3 FOR UPDATE SKIP LOCKED) "
          "RETURNING p.request_id::text, p.company_id, q.company_name, r.correlation_id, coalesce(p.external_id, ''), "
          "p.attempts, " + sql::unixMsOf("p.deadline_at") + ", "
          "jsonb_build_object('v', 1, 'purchaseId', p.id, 'applicationId', coalesce(q.external_id, ''), "
          "  'offer', q.offer - 'validUntil' - 'purchasable', 'quote', r.input, 'buyer', p.buyer)::text, "
          "q.status, " + sql::unixMsOf("p.created_at") + ", p.unrecorded_claims, p.worker_crashes, "
          "(extract(epoch FROM now() - p.next_poll_at) * 1000)::bigint, NULL::bigint, NULL::bigint, coalesce(r.trace_id, ''), "
          "p.id::text, p.status",
      owner, static_cast<long long>(lease.count()), limit);
  return claimedItems(rows, true);
}

QuoteStore::Recorded QuoteStore::recordPurchase(const WorkItem& item, const PurchaseUpdate& u, const std::string& owner) {
  auto json_param = [](const nlohmann::json& j) { return j.is_null() ? pg::Param() : pg::Param(j.dump()); };
  auto c = db_.acquire();
  pg::Transaction tx(*c);
  c->query("SELECT 1 FROM quote_requests WHERE id = $1 FOR UPDATE", item.request_id);
  auto r = c->query(
      "UPDATE purchases p SET status = $4, external_id = nullif($5, ''), attempts = $6, "
      "  next_poll_at = to_timestamp($7::bigint / 1000.0), last_poll_at = now(), "
      "  deadline_at = coalesce(to_timestamp($8::bigint / 1000.0), p.deadline_at), "
      "  payment = coalesce($9::jsonb, p.payment), policy = coalesce($10::jsonb, p.policy), error = $11::jsonb, "
      "  lease_owner = NULL, lease_until = NULL, last_owner = $3, unrecorded_claims = 0, updated_at = now() "
      "FROM purchases old WHERE old.request_id = p.request_id AND old.company_id = p.company_id "
      "  AND p.request_id = $1 AND p.company_id = $2 AND p.lease_owner = $3 "
      "RETURNING old.status <> p.status OR old.payment IS DISTINCT FROM p.payment, " + purchaseColumns(),
      item.request_id, item.company_id, owner, name(u.status), u.external_id, static_cast<long long>(u.attempts),
      unixMs(u.next_poll_at), u.deadline ? pg::Param(std::to_string(unixMs(*u.deadline))) : pg::Param(),
      json_param(u.payment), json_param(u.policy), json_param(u.error));
  if (r.rows() == 0) return {};  // the lease expired and another instance took the work
  Recorded recorded{true};
  if (r.text(0, 0) == "t")
    appendPurchaseEvent(*c, item.request_id, item.trace_id, item.company_id, item.company_name, purchaseAt(r, 0, 1));
  tx.commit();
  return recorded;
}

}  // namespace osago::host
