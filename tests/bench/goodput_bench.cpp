// osago-bench-goodput: what drivers get from one aggregator at an offered rate.
// Sends POST /osago/requests open-loop at --rate for --seconds (a create
// refused with 503 is not retried: it counts as shed), waits until every
// accepted request is final, then reads the requests' rows from PostgreSQL
// and the simulator's ready times, and prints one JSON line:
//   offered and achieved rate, accepted / shed / other, create latency
//   (p50/p99 from each create's scheduled start), the share of the accepted
//   requests' companies that reached their own outcome (an offer, or the
//   insurer's decline) before the deadline, time to the first offer and to
//   the last own outcome (p50/p95), partner calls per request and per
//   company, and the offer delay — from the moment the simulated insurer had
//   the offer ready to the commit of its event, and to its publication on
//   Kafka (p50/p95).
//   osago-bench-goodput --url http://127.0.0.1:8381 --dsn "host=… dbname=…" --simulator http://127.0.0.1:8390
//                       --rate 60 --seconds 120 [--threads 64] [--drain-seconds 90]
// Calls carry a service token signed with OSAGO_SERVICE_TOKEN_SECRET, as core-app's do.
#include "bench_creates.hpp"

#include <libpq-fe.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
  return std::round(v[std::clamp<std::size_t>(rank, 1, v.size()) - 1] * 10) / 10;
}

class Db {
 public:
  explicit Db(const std::string& dsn) : conn_(PQconnectdb(dsn.c_str()), &PQfinish) {
    if (PQstatus(conn_.get()) != CONNECTION_OK) throw std::runtime_error(std::string("PostgreSQL: ") + PQerrorMessage(conn_.get()));
  }
  /// Rows of text columns; `param` is $1.
  std::vector<std::vector<std::string>> rows(const std::string& sql, const std::string& param) {
    const char* values[] = {param.c_str()};
    std::unique_ptr<PGresult, decltype(&PQclear)> r(
        PQexecParams(conn_.get(), sql.c_str(), 1, nullptr, values, nullptr, nullptr, 0), &PQclear);
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) throw std::runtime_error(sql + ": " + PQresultErrorMessage(r.get()));
    std::vector<std::vector<std::string>> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      std::vector<std::string> row;
      for (int j = 0; j < PQnfields(r.get()); ++j) row.emplace_back(PQgetisnull(r.get(), i, j) ? "" : PQgetvalue(r.get(), i, j));
      out.push_back(std::move(row));
    }
    return out;
  }

 private:
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string url = "http://127.0.0.1:8081", dsn, simulator;
  double rate = 50;
  int seconds = 60, threads = 64, drain_seconds = 90;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--url") url = argv[i + 1];
    else if (a == "--dsn") dsn = argv[i + 1];
    else if (a == "--simulator") simulator = argv[i + 1];
    else if (a == "--rate") rate = std::stod(argv[i + 1]);
    else if (a == "--seconds") seconds = std::stoi(argv[i + 1]);
    else if (a == "--threads") threads = std::stoi(argv[i + 1]);
    else if (a == "--drain-seconds") drain_seconds = std::stoi(argv[i + 1]);
  }
  const char* key = std::getenv("OSAGO_SERVICE_TOKEN_SECRET");
  if (!key || !*key || dsn.empty() || simulator.empty()) {
    std::cerr << "osago-bench-goodput: needs OSAGO_SERVICE_TOKEN_SECRET, --dsn and --simulator\n";
    return 2;
  }
  osago::auth::ServiceTokenIssuer service_token(key, "osago-bench-goodput", "osago-aggregator");
  json body = osago::bench::benchQuote();

  // 1. Creates, open loop.
  const long total = std::lround(rate * seconds);
  const auto interval = std::chrono::duration<double>(1.0 / rate);
  const auto start = Clock::now() + std::chrono::milliseconds(100);
  std::atomic<long> next{0}, shed{0}, other{0};
  std::mutex mutex;
  std::vector<double> latencies_ms;
  std::vector<std::string> accepted;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      json mine = body;
      std::vector<double> local;
      std::vector<std::string> ids;
      for (long i = next++; i < total; i = next++) {
        auto scheduled = start + std::chrono::duration_cast<Clock::duration>(interval * i);
        std::this_thread::sleep_until(scheduled);
        try {
          auto r = osago::bench::createRequest(url, mine, service_token);
          if (r.status == 201) ids.push_back(json::parse(r.body).value("osagoRequestId", ""));
          else if (r.status == 503 && r.body.find("OVERLOADED") != std::string::npos) ++shed;
          else ++other;
        } catch (const std::exception&) {
          ++other;
        }
        local.push_back(std::chrono::duration<double, std::milli>(Clock::now() - scheduled).count());
      }
      std::lock_guard lock(mutex);
      latencies_ms.insert(latencies_ms.end(), local.begin(), local.end());
      accepted.insert(accepted.end(), ids.begin(), ids.end());
    });
  }
  for (auto& t : pool) t.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();

  // 2. Until every accepted request is final (their deadlines bound this).
  Db db(dsn);
  json ids_json = accepted;
  std::string ids = ids_json.dump();
  auto drain_until = Clock::now() + std::chrono::seconds(drain_seconds);
  long open = 0;
  do {
    open = std::stol(db.rows("SELECT count(*) FROM quote_requests WHERE id IN (SELECT value::uuid FROM "
                             "jsonb_array_elements_text($1::jsonb)) AND status <> 'COMPLETED'",
                             ids)[0][0]);
    if (open > 0) std::this_thread::sleep_for(std::chrono::seconds(1));
  } while (open > 0 && Clock::now() < drain_until);
  // Events reach Kafka shortly after their commit: give the relay a moment.
  std::this_thread::sleep_for(std::chrono::seconds(2));

  // 3. What each company of each accepted request got, and when.
  auto rows = db.rows(
      "SELECT c.request_id::text, c.company_id, c.status, coalesce(c.error->>'code', ''), c.attempts, "
      "  coalesce(c.external_id, ''), (extract(epoch FROM r.created_at) * 1000)::bigint, "
      "  (extract(epoch FROM c.updated_at) * 1000)::bigint, "
      "  coalesce((SELECT (extract(epoch FROM e.created_at) * 1000)::bigint FROM outbox_events e "
      "            WHERE e.request_id = c.request_id AND e.payload->>'companyId' = c.company_id "
      "              AND e.payload->>'status' = 'COMPLETED' LIMIT 1), 0), "
      "  coalesce((SELECT (extract(epoch FROM e.published_at) * 1000)::bigint FROM outbox_events e "
      "            WHERE e.request_id = c.request_id AND e.payload->>'companyId' = c.company_id "
      "              AND e.payload->>'status' = 'COMPLETED' LIMIT 1), 0) "
      "FROM company_quotes c JOIN quote_requests r ON r.id = c.request_id "
      "WHERE c.request_id IN (SELECT value::uuid FROM jsonb_array_elements_text($1::jsonb))",
      ids);
  // Ready times of the offers, from the simulator, 10,000 at a time.
  std::map<std::string, long long> ready_at;
  {
    std::vector<std::string> offered;
    for (const auto& r : rows)
      if (r[2] == "COMPLETED" && !r[5].empty()) offered.push_back(r[5]);
    for (std::size_t from = 0; from < offered.size(); from += 10000) {
      json batch = json::array();
      for (std::size_t i = from; i < std::min(offered.size(), from + 10000); ++i) batch.push_back(offered[i]);
      osago::http::ClientRequest req;
      req.method = "POST";
      req.url = simulator + "/control/ready-times";
      req.body = json{{"ids", batch}}.dump();
      req.headers.emplace_back("Content-Type", "application/json");
      req.timeout = std::chrono::seconds(30);
      auto answer = json::parse(osago::http::call(req).body);
      for (const auto& [id, at] : answer.at("readyAtMs").items())
        if (at.is_number_integer()) ready_at[id] = at.get<long long>();
    }
  }
  long companies = 0, own = 0, calls = 0;
  std::map<std::string, long> outcomes;
  std::map<std::string, double> first_offer, last_own;
  std::vector<double> to_commit, to_publish;
  struct CompanyFigures {
    long companies = 0, calls = 0;
    std::vector<double> to_commit;
  };
  std::map<std::string, CompanyFigures> per_company;
  for (const auto& r : rows) {
    ++companies;
    calls += std::stol(r[4]);
    auto& mine = per_company[r[1]];
    ++mine.companies;
    mine.calls += std::stol(r[4]);
    const std::string& status = r[2];
    const std::string& code = r[3];
    ++outcomes[status + (code.empty() ? "" : "/" + code)];
    bool reached = status == "COMPLETED" || (status == "FAILED" && code == "DECLINED");
    if (!reached) continue;
    ++own;
    double age_s = static_cast<double>(std::stoll(r[7]) - std::stoll(r[6])) / 1000.0;
    auto& last = last_own[r[0]];
    last = std::max(last, age_s);
    if (status != "COMPLETED") continue;
    auto& first = first_offer.emplace(r[0], age_s).first->second;
    first = std::min(first, age_s);
    auto ready = ready_at.find(r[5]);
    if (ready == ready_at.end()) continue;
    if (long long committed = std::stoll(r[8]); committed > 0) {
      to_commit.push_back(static_cast<double>(committed - ready->second));
      mine.to_commit.push_back(static_cast<double>(committed - ready->second));
    }
    if (long long published = std::stoll(r[9]); published > 0)
      to_publish.push_back(static_cast<double>(published - ready->second));
  }
  std::vector<double> firsts, lasts;
  for (const auto& [id, s] : first_offer) firsts.push_back(s);
  for (const auto& [id, s] : last_own) lasts.push_back(s);
  double n_accepted = static_cast<double>(accepted.size());
  json companies_out = json::object();
  for (auto& [id, f] : per_company)
    companies_out[id] = {{"callsPerCompany", std::round(100.0 * static_cast<double>(f.calls) / static_cast<double>(f.companies)) / 100},
                         {"offerDelayCommitP50ms", percentile(f.to_commit, 0.5)},
                         {"offerDelayCommitP95ms", percentile(f.to_commit, 0.95)}};
  json out{{"offeredRate", rate},
           {"achievedRate", std::round(static_cast<double>(latencies_ms.size()) / elapsed * 10) / 10},
           {"accepted", accepted.size()},
           {"shed", shed.load()},
           {"other", other.load()},
           {"stillOpen", open},
           {"createP50ms", percentile(latencies_ms, 0.5)},
           {"createP99ms", percentile(latencies_ms, 0.99)},
           {"companies", companies},
           {"ownOutcomePercent", companies ? std::round(1000.0 * static_cast<double>(own) / static_cast<double>(companies)) / 10 : 0},
           {"firstOfferP50s", percentile(firsts, 0.5)},
           {"firstOfferP95s", percentile(firsts, 0.95)},
           {"allOwnP50s", percentile(lasts, 0.5)},
           {"allOwnP95s", percentile(lasts, 0.95)},
           {"callsPerRequest", n_accepted > 0 ? std::round(10.0 * static_cast<double>(calls) / n_accepted) / 10 : 0},
           {"callsPerCompany", companies ? std::round(100.0 * static_cast<double>(calls) / static_cast<double>(companies)) / 100 : 0},
           {"offerDelayCommitP50ms", percentile(to_commit, 0.5)},
           {"offerDelayCommitP95ms", percentile(to_commit, 0.95)},
           {"offerDelayKafkaP50ms", percentile(to_publish, 0.5)},
           {"offerDelayKafkaP95ms", percentile(to_publish, 0.95)},
           {"outcomes", outcomes},
           {"perCompany", companies_out}};
  std::cout << out.dump() << std::endl;
  return 0;
}
