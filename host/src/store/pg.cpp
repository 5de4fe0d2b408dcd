#include "store/pg.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include <poll.h>

namespace osago::host::pg {
namespace {

std::string trimmed(const char* text) {
  std::string s = text ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

/// Connection exceptions (class 08), the server shutting down or starting
/// (57P01–57P03), and a statement or lock timeout (57014, 55P03) mean "try
/// again later", not a faulty statement.
bool isUnavailableState(const std::string& sqlstate) {
  return sqlstate.rfind("08", 0) == 0 || sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03" ||
         sqlstate == "57014" || sqlstate == "55P03";
}

}  // namespace

long long Result::int64(int row, int col) const { return std::strtoll(PQgetvalue(r_.get(), row, col), nullptr, 10); }

long long Result::affected() const {
  const char* n = PQcmdTuples(r_.get());
  return n && *n ? std::strtoll(n, nullptr, 10) : 0;
}

Settings Settings::forMigrations() {
  Settings s;
  s.statement_timeout = std::chrono::milliseconds(0);
  s.lock_timeout = std::chrono::milliseconds(0);
  return s;
}

PGconn* connectWithBounds(const std::string& dsn, const Settings& settings) {
  // Ours first: with expand_dbname the DSN's own values, parsed from the last entry, override them.
  std::string connect = std::to_string(settings.connect_timeout.count());
  // Unacknowledged data for this long breaks the socket (never below 5 s: retransmits on a real network).
  std::string user_timeout = std::to_string(std::max<long long>(settings.answer_margin.count(), 5000));
  const char* keys[] = {"connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
                        "tcp_user_timeout", "dbname", nullptr};
  const char* values[] = {connect.c_str(), "1", "5", "2", "3", user_timeout.c_str(), dsn.c_str(), nullptr};
  return PQconnectdbParams(keys, values, /*expand_dbname=*/1);
}

Connection::Connection(const std::string& dsn, Settings settings)
    : dsn_(dsn), settings_(settings), conn_(nullptr, &PQfinish) {
  open();
}

void Connection::open() {
  conn_.reset(connectWithBounds(dsn_, settings_));
  broken_.clear();
  prepared_.clear();
  if (!conn_) throw Error("cannot allocate a PostgreSQL connection", "", true);
  if (PQstatus(conn_.get()) != CONNECTION_OK)
    throw Error("cannot connect to PostgreSQL: " + trimmed(PQerrorMessage(conn_.get())), "", true);
  if (PQsetnonblocking(conn_.get(), 1) != 0) throw Error("cannot make the PostgreSQL connection non-blocking", "", true);
  auto ms = [](std::chrono::milliseconds v) { return std::to_string(v.count()); };
  std::string set = "SET statement_timeout = " + ms(settings_.statement_timeout) + "; SET lock_timeout = " +
                    ms(settings_.lock_timeout) + "; SET idle_in_transaction_session_timeout = " +
                    ms(settings_.idle_in_transaction);
  if (!PQsendQuery(conn_.get(), set.c_str())) throw Error("PostgreSQL: " + trimmed(PQerrorMessage(conn_.get())), "", true);
  check(await(std::chrono::steady_clock::now() + settings_.answerBound()));
}

void Connection::giveUp(const std::string& why) {
  broken_ = why;
  conn_.reset();  // closes the socket; whatever the server still does is its own
  prepared_.clear();
}

PGresult* Connection::await(std::chrono::steady_clock::time_point deadline) {
  PGconn* c = conn_.get();
  auto waitFor = [&](short events) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd fd{PQsocket(c), events, 0};
    int ready = ::poll(&fd, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
    return ready >= 0 || errno == EINTR;
  };
  // Send what is queued, reading meanwhile (the server may answer before it has read everything).
  for (int f; (f = PQflush(c)) != 0;) {
    if (f < 0 || !waitFor(POLLIN | POLLOUT) || !PQconsumeInput(c)) {
      giveUp(f < 0 || !PQconsumeInput(c) ? "the connection broke while sending" : "sending took too long");
      return nullptr;
    }
  }
  PGresult* last = nullptr;
  while (true) {
    while (PQisBusy(c)) {
      if (!waitFor(POLLIN) || !PQconsumeInput(c)) {
        if (last) PQclear(last);
        giveUp(std::chrono::steady_clock::now() >= deadline ? "no answer in time" : "the connection broke");
        return nullptr;
      }
    }
    PGresult* r = PQgetResult(c);
    if (!r) return last;
    // Keep the first error, else the last result (a multi-statement string answers several).
    if (last && PQresultStatus(last) == PGRES_FATAL_ERROR) {
      PQclear(r);
      continue;
    }
    if (last) PQclear(last);
    last = r;
  }
}

Result Connection::exec(const std::string& sql, const std::vector<Param>& params,
                        std::optional<std::chrono::milliseconds> bound) {
  auto limit = bound.value_or(settings_.answerBound());
  if (!conn_) open();  // given up earlier (a pool drops such a connection; a lone one reconnects)
  bool was_idle = idle();
  try {
    return run(sql, params, limit);
  } catch (const Error&) {
    // A pooled connection found dead while idle (PostgreSQL restarted, or a proxy
    // dropped it) is reopened and the statement sent once more. Outside a
    // transaction nothing of it can be half-done, and the store's statements are
    // safe to repeat (creates are keyed, updates set absolute values). Not so
    // for one that got no answer in time: the statement may be running still.
    if (!was_idle || !conn_ || usable()) throw;
    open();  // a new session, its settings applied again; throws while the server is away
    return run(sql, params, limit);
  }
}

Result Connection::run(const std::string& sql, const std::vector<Param>& params, std::chrono::milliseconds bound) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  auto answer = [&](int sent) {
    if (!sent) return check(nullptr);
    PGresult* r = await(deadline);
    if (!r && !conn_)
      throw Error("PostgreSQL: " + broken_ + " (bound " + std::to_string(bound.count()) + " ms); the connection was closed",
                  "", true);
    return check(r);
  };
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = "osago_" + std::to_string(prepared_.size() + 1);
    answer(PQsendPrepare(conn_.get(), name.c_str(), sql.c_str(), static_cast<int>(params.size()), nullptr));
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  return answer(PQsendQueryPrepared(conn_.get(), it->second.c_str(), static_cast<int>(values.size()), values.data(),
                                    nullptr, nullptr, 0));
}

Result Connection::check(PGresult* raw) {
  Result result(raw);
  if (!conn_) throw Error("PostgreSQL: " + broken_ + "; the connection was closed", "", true);
  if (!raw) throw Error("PostgreSQL call failed: " + trimmed(PQerrorMessage(conn_.get())), "", true);
  auto status = PQresultStatus(raw);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
  const char* state = PQresultErrorField(raw, PG_DIAG_SQLSTATE);
  std::string sqlstate = state ? state : "";
  bool unavailable = !usable() || isUnavailableState(sqlstate);
  std::string message = trimmed(PQresultErrorMessage(raw));
  if (message.empty()) message = trimmed(PQerrorMessage(conn_.get()));
  throw Error("PostgreSQL: " + message, sqlstate, unavailable);
}

Pool::Pool(std::string dsn, int size, Settings settings, std::chrono::milliseconds wait)
    : dsn_(std::move(dsn)), size_(size), settings_(settings), wait_(wait) {}

Pool::Lease Pool::acquire() {
  std::unique_lock lock(mutex_);
  bool free = freed_.wait_for(lock, wait_, [this] { return !idle_.empty() || open_ < size_; });
  if (!free)
    throw Error("no free PostgreSQL connection within " + std::to_string(wait_.count()) + " ms (pool of " +
                    std::to_string(size_) + ")",
                "", true);
  if (!idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    return Lease(*this, std::move(c));
  }
  ++open_;
  lock.unlock();
  try {
    return Lease(*this, std::make_unique<Connection>(dsn_, settings_));
  } catch (...) {
    lock.lock();
    --open_;
    freed_.notify_one();
    throw;
  }
}

void Pool::giveBack(std::unique_ptr<Connection> c) {
  bool keep = c->usable() && c->idle();
  if (!keep) c.reset();  // broken or stuck in a transaction: close it outside the lock
  std::lock_guard lock(mutex_);
  if (keep) idle_.push_back(std::move(c));
  else --open_;
  freed_.notify_one();
}

Transaction::~Transaction() {
  if (done_) return;
  try {
    c_.exec("ROLLBACK");
  } catch (const Error&) {
    // The connection broke; the server rolls back on its own and the pool drops it.
  }
}

void Transaction::commit() {
  c_.exec("COMMIT");
  done_ = true;
}

}  // namespace osago::host::pg
