#include "store/quote_store.hpp"

#include <osago/common/ids.hpp>

#include <algorithm>

#include <Poco/Data/RecordSet.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/DigestEngine.h>
#include <Poco/Nullable.h>
#include <Poco/SHA2Engine.h>

using namespace Poco::Data::Keywords;

namespace osago::host {

bool status::isFinal(const std::string& s) { return s == kCompleted || s == kFailed || s == kTimeout; }

namespace {

const char* kIso = R"(to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))";

std::string iso(const char* column) {
  char buf[160];
  std::snprintf(buf, sizeof buf, kIso, column);
  return buf;
}

Poco::Int64 unixMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::string sha256(const std::string& text) {
  Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
  engine.update(text);
  return Poco::DigestEngine::digestToHex(engine.digest());
}

nlohmann::json event(const std::string& request_id, long long seq, const std::string& company_id,
                     const std::string& company_name, const std::string& company_status, const nlohmann::json& offer,
                     const nlohmann::json& error, const std::string& request_status) {
  nlohmann::json e{{"v", 1},
                   {"eventId", newUuid()},
                   {"type", "quote.company-status"},
                   {"osagoRequestId", request_id},
                   {"seq", seq},
                   {"companyId", company_id},
                   {"companyName", company_name},
                   {"status", company_status},
                   {"requestStatus", request_status},
                   {"occurredAtMs", unixMs(std::chrono::system_clock::now())}};
  if (!offer.is_null()) e["offer"] = offer;
  if (!error.is_null()) e["error"] = error;
  return e;
}

void insertEvent(Poco::Data::Session& s, const nlohmann::json& e) {
  std::string event_id = e["eventId"], request_id = e["osagoRequestId"], payload = e.dump();
  Poco::Int64 seq = e["seq"].get<long long>();
  s << "INSERT INTO outbox_events (event_id, request_id, seq, payload) VALUES ($1, $2, $3, $4::jsonb)", use(event_id),
      use(request_id), use(seq), use(payload), now;
}

}  // namespace

QuoteStore::QuoteStore(Database& db) : db_(db) {}

CreateResult QuoteStore::create(const NewQuoteRequest& r) {
  Poco::Data::Session s = db_.session();
  std::string input = r.input.dump();
  std::string hash = sha256(input);
  std::string id = newUuid();
  Poco::Int64 deadline_s = r.deadline.count();
  Poco::Int64 n = static_cast<Poco::Int64>(r.companies.size());
  std::string user = r.user_id, corr = r.correlation_id, key = r.idempotency_key;
  {
    Transaction tx(s);
    std::vector<std::string> inserted;
    s << "INSERT INTO quote_requests (id, user_id, correlation_id, idempotency_key, input, input_hash, deadline_at, "
         "last_seq) VALUES ($1, $2, $3, $8, $4::jsonb, $5, now() + make_interval(secs => $6::int), $7) "
         "ON CONFLICT (user_id, idempotency_key) DO NOTHING RETURNING id::text",
        use(id), use(user), use(corr), use(input), use(hash), use(deadline_s), use(n), use(key), into(inserted), now;
    if (!inserted.empty()) {
      bool all_final = std::all_of(r.companies.begin(), r.companies.end(),
                                   [](const NewCompany& c) { return status::isFinal(c.status); });
      for (std::size_t i = 0; i < r.companies.size(); ++i) {
        const NewCompany& c = r.companies[i];
        std::string cid = c.id, cname = c.name, cstatus = c.status;
        std::string error = c.error.is_null() ? std::string() : c.error.dump();
        int pos = static_cast<int>(i);
        s << "INSERT INTO company_quotes (request_id, company_id, company_name, position, status, error, deadline_at) "
             "SELECT $1, $2, $3, $4, $5, nullif($6, '')::jsonb, deadline_at FROM quote_requests WHERE id = $1",
            use(id), use(cid), use(cname), use(pos), use(cstatus), use(error), now;
        bool last = i + 1 == r.companies.size();
        insertEvent(s, event(id, static_cast<long long>(i + 1), cid, cname, c.status, nullptr, c.error,
                             last && all_final ? status::kCompleted : status::kInProgress));
      }
      if (all_final) s << "UPDATE quote_requests SET status = 'COMPLETED', finished_at = now() WHERE id = $1", use(id), now;
      else s << "NOTIFY osago_work", now;  // delivered at commit: every instance's workers wake
      tx.commit();
      return {CreateResult::Kind::Created, id};
    }
  }
  std::string existing_id, existing_hash;
  s << "SELECT id::text, input_hash FROM quote_requests WHERE user_id = $1 AND idempotency_key = $2", use(user),
      use(key), into(existing_id), into(existing_hash), now;
  return {existing_hash == hash ? CreateResult::Kind::Replayed : CreateResult::Kind::KeyReused, existing_id};
}

std::optional<QuoteRequestView> QuoteStore::find(const std::string& request_id) {
  Poco::Data::Session s = db_.session();
  std::string id = request_id;
  QuoteRequestView v;
  Poco::Int64 last_seq = 0;
  std::size_t rows = 0;
  {
    Poco::Data::Statement st(s);
    st << "SELECT id::text, user_id, correlation_id, status, last_seq, " + iso("created_at") + ", " +
              iso("deadline_at") + " FROM quote_requests WHERE id = $1",
        use(id), into(v.id), into(v.user_id), into(v.correlation_id), into(v.status), into(last_seq),
        into(v.created_at), into(v.deadline_at);
    rows = st.execute();
  }
  if (rows == 0 || v.id.empty()) return std::nullopt;
  v.last_seq = last_seq;
  Poco::Data::Statement st(s);
  st << "SELECT company_id, company_name, status, coalesce(offer::text, ''), coalesce(error::text, ''), " +
            iso("updated_at") + " FROM company_quotes WHERE request_id = $1 ORDER BY position",
      use(id);
  st.execute();
  Poco::Data::RecordSet rs(st);
  for (bool more = rs.moveFirst(); more; more = rs.moveNext()) {
    CompanyQuote c;
    c.company_id = rs[0].convert<std::string>();
    c.company_name = rs[1].convert<std::string>();
    c.status = rs[2].convert<std::string>();
    auto offer = rs[3].convert<std::string>();
    auto error = rs[4].convert<std::string>();
    if (!offer.empty()) c.offer = nlohmann::json::parse(offer);
    if (!error.empty()) c.error = nlohmann::json::parse(error);
    c.updated_at = rs[5].convert<std::string>();
    v.companies.push_back(std::move(c));
  }
  return v;
}

std::vector<WorkItem> QuoteStore::claimDue(const std::string& owner, int limit, std::chrono::seconds lease) {
  Poco::Data::Session s = db_.session();
  std::string o = owner;
  Poco::Int64 lease_s = lease.count();
  Poco::Data::Statement st(s);
  st << "UPDATE company_quotes c SET lease_owner = $1, lease_until = now() + make_interval(secs => $2::int) "
        "FROM quote_requests r "
        "WHERE r.id = c.request_id AND (c.request_id, c.company_id) IN ("
        "  SELECT request_id, company_id FROM company_quotes "
        "  WHERE status IN ('CREATED', 'IN_PROGRESS') AND (next_poll_at <= now() OR deadline_at <= now()) "
        "    AND (lease_until IS NULL OR lease_until < now()) "
        "  ORDER BY next_poll_at LIMIT $3 FOR UPDATE SKIP LOCKED) "
        "RETURNING c.request_id::text, c.company_id, c.company_name, r.correlation_id, coalesce(c.external_id, ''), "
        "c.attempts, (extract(epoch FROM c.deadline_at) * 1000)::bigint, r.input::text",
      use(o), use(lease_s), bind(limit);
  st.execute();
  Poco::Data::RecordSet rs(st);
  std::vector<WorkItem> items;
  for (bool more = rs.moveFirst(); more; more = rs.moveNext()) {
    WorkItem w;
    w.request_id = rs[0].convert<std::string>();
    w.company_id = rs[1].convert<std::string>();
    w.company_name = rs[2].convert<std::string>();
    w.correlation_id = rs[3].convert<std::string>();
    w.external_id = rs[4].convert<std::string>();
    w.attempts = rs[5].convert<int>();
    w.deadline = std::chrono::system_clock::time_point(std::chrono::milliseconds(rs[6].convert<Poco::Int64>()));
    w.input = rs[7].convert<std::string>();
    items.push_back(std::move(w));
  }
  return items;
}

std::size_t QuoteStore::renewLeases(const std::string& owner,
                                    const std::vector<std::pair<std::string, std::string>>& items,
                                    std::chrono::seconds lease) {
  if (items.empty()) return 0;
  // Request ids are UUIDs and company ids [a-z0-9-]: safe inside an array literal.
  std::string keys = "{";
  for (std::size_t i = 0; i < items.size(); ++i) keys += (i ? "," : "") + items[i].first + "/" + items[i].second;
  keys += "}";
  Poco::Data::Session s = db_.session();
  std::string o = owner;
  Poco::Int64 lease_s = lease.count();
  Poco::Data::Statement st(s);
  st << "UPDATE company_quotes SET lease_until = now() + make_interval(secs => $2::int) "
        "WHERE lease_owner = $1 AND request_id::text || '/' || company_id = ANY($3::text[])",
      use(o), use(lease_s), use(keys);
  return st.execute();
}

std::optional<std::chrono::milliseconds> QuoteStore::nextDueIn() {
  Poco::Data::Session s = db_.session();
  Poco::Nullable<Poco::Int64> ms;
  s << "SELECT greatest(0, (extract(epoch FROM min(least(next_poll_at, deadline_at)) - now()) * 1000)::bigint) "
       "FROM company_quotes WHERE status IN ('CREATED', 'IN_PROGRESS') AND (lease_until IS NULL OR lease_until < now())",
      into(ms), now;
  if (ms.isNull()) return std::nullopt;
  return std::chrono::milliseconds(ms.value());
}

bool QuoteStore::record(const WorkItem& item, const CompanyUpdate& u, const std::string& owner) {
  Poco::Data::Session s = db_.session();
  std::string rid = item.request_id, cid = item.company_id, o = owner;
  std::string st = u.status, ext = u.external_id;
  std::string offer = u.offer.is_null() ? std::string() : u.offer.dump();
  std::string error = u.error.is_null() ? std::string() : u.error.dump();
  Poco::Int64 next_ms = unixMs(u.next_poll_at);
  int attempts = u.attempts;
  Transaction tx(s);
  // The request row lock orders every change of this request: seq stays gap-free
  // and the "all companies final" check below sees the other companies' commits.
  Poco::Int64 last_seq = 0;
  s << "SELECT last_seq FROM quote_requests WHERE id = $1 FOR UPDATE", use(rid), into(last_seq), now;
  std::vector<std::string> previous;
  s << "UPDATE company_quotes c SET status = $1, external_id = nullif($2, ''), attempts = $3, "
       "next_poll_at = to_timestamp($4::bigint / 1000.0), last_poll_at = now(), "
       "offer = nullif($5, '')::jsonb, error = nullif($6, '')::jsonb, lease_owner = NULL, lease_until = NULL, last_owner = $9, "
       "updated_at = now() "
       "FROM company_quotes old WHERE old.request_id = c.request_id AND old.company_id = c.company_id "
       "AND c.request_id = $7 AND c.company_id = $8 AND c.lease_owner = $9 RETURNING old.status",
      use(st), use(ext), use(attempts), use(next_ms), use(offer), use(error), use(rid), use(cid), use(o),
      into(previous), now;
  if (previous.empty()) return false;  // the lease expired and another instance took the work
  if (previous.front() != u.status) {
    std::string request_status;
    s << "UPDATE quote_requests SET last_seq = last_seq + 1, "
         "status = CASE WHEN EXISTS (SELECT 1 FROM company_quotes WHERE request_id = $1 "
         "AND status IN ('CREATED', 'IN_PROGRESS')) THEN 'IN_PROGRESS' ELSE 'COMPLETED' END, "
         "finished_at = CASE WHEN EXISTS (SELECT 1 FROM company_quotes WHERE request_id = $1 "
         "AND status IN ('CREATED', 'IN_PROGRESS')) THEN NULL ELSE now() END "
         "WHERE id = $1 RETURNING last_seq, status",
        use(rid), into(last_seq), into(request_status), now;
    insertEvent(s, event(rid, last_seq, cid, item.company_name, u.status, u.offer, u.error, request_status));
  }
  tx.commit();
  return true;
}

std::size_t QuoteStore::publishOutbox(
    std::size_t limit, const std::function<std::vector<long long>(const std::vector<OutboxEvent>&)>& publish) {
  Poco::Data::Session s = db_.session();
  Transaction tx(s);
  Poco::Int64 lim = static_cast<Poco::Int64>(limit);
  Poco::Data::Statement st(s);
  st << "SELECT id, request_id::text, payload::text FROM outbox_events WHERE published_at IS NULL "
        "ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
      use(lim);
  st.execute();
  Poco::Data::RecordSet rs(st);
  std::vector<OutboxEvent> events;
  for (bool more = rs.moveFirst(); more; more = rs.moveNext())
    events.push_back({rs[0].convert<Poco::Int64>(), rs[1].convert<std::string>(), rs[2].convert<std::string>()});
  if (events.empty()) return 0;
  std::vector<long long> acked = publish(events);
  if (acked.empty()) return 0;
  std::string ids = "{";
  for (std::size_t i = 0; i < acked.size(); ++i) ids += (i ? "," : "") + std::to_string(acked[i]);
  ids += "}";
  s << "UPDATE outbox_events SET published_at = now() WHERE id = ANY($1::bigint[])", use(ids), now;
  tx.commit();
  return acked.size();
}

}  // namespace osago::host
