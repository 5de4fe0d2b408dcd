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
  // Keepalives find a dead peer while idle; the user timeout breaks a socket
  // whose sent data stays unacknowledged for 5 s (a vanished host).
  const char* keys[] = {"connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
                        "tcp_user_timeout", "dbname", nullptr};
  const char* values[] = {connect.c_str(), "1", "5", "2", "3", "5000", dsn.c_str(), nullptr};
  return PQconnectdbParams(keys, values, /*expand_dbname=*/1);
}

Connection::Connection(const std::string& dsn, Settings settings)
    : dsn_(dsn), settings_(settings), conn_(nullptr, &PQfinish) {
  open();
}

void Connection::open() {
  conn_.reset(connectWithBounds(dsn_, settings_));
  timed_out_ = false;
  prepared_.clear();
  if (!conn_) throw Error("cannot allocate a PostgreSQL connection", "", true);
  if (PQstatus(conn_.get()) != CONNECTION_OK)
    throw Error("cannot connect to PostgreSQL: " + trimmed(PQerrorMessage(conn_.get())), "", true);
  if (PQsetnonblocking(conn_.get(), 1) != 0) throw Error("cannot make the PostgreSQL connection non-blocking", "", true);
  auto ms = [](std::chrono::milliseconds v) { return std::to_string(v.count()); };
  script("SET statement_timeout = " + ms(settings_.statement_timeout) + "; SET lock_timeout = " +
         ms(settings_.lock_timeout) + "; SET idle_in_transaction_session_timeout = " + ms(settings_.idle_in_transaction));
}

PGresult* Connection::await(std::chrono::steady_clock::time_point deadline) {
  PGconn* c = conn_.get();
  // Whether the socket got ready for `events` before the deadline.
  auto waitFor = [&](short events) {
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd fd{PQsocket(c), events, 0};
      int ready = ::poll(&fd, 1, static_cast<int>(std::min<long long>(left.count(), 60000)));
      if (ready > 0 || (ready < 0 && errno != EINTR)) return true;  // an error shows in what libpq reads next
    }
  };
  auto timedOut = [&] {
    timed_out_ = true;
    return nullptr;
  };
  // Send what is queued, reading meanwhile (the server may answer before it has read everything).
  for (int f; (f = PQflush(c)) != 0;) {
    if (f < 0) return nullptr;
    if (!waitFor(POLLIN | POLLOUT)) return timedOut();
    if (!PQconsumeInput(c)) return nullptr;
  }
  PGresult* last = nullptr;
  while (true) {
    while (PQisBusy(c)) {
      bool ready = waitFor(POLLIN);
      if (!ready || !PQconsumeInput(c)) {
        if (last) PQclear(last);
        return ready ? nullptr : timedOut();
      }
    }
    PGresult* r = PQgetResult(c);
    if (!r) return last;
    // Keep the first error, else the last result (a multi-statement text answers several).
    if (last && PQresultStatus(last) == PGRES_FATAL_ERROR) {
      PQclear(r);
      continue;
    }
    if (last) PQclear(last);
    last = r;
  }
}

Result Connection::answer(int sent, std::chrono::steady_clock::time_point deadline) {
  PGresult* r = sent ? await(deadline) : nullptr;
  if (timed_out_) {
    if (r) PQclear(r);
    conn_.reset();  // given up for good: whatever the server still does is its own
    prepared_.clear();
    throw Error("PostgreSQL did not answer in time; the connection was closed", "", true);
  }
  return check(r);
}

Result Connection::exec(const std::string& sql, const std::vector<Param>& params,
                        std::optional<std::chrono::milliseconds> bound) {
  if (!conn_) throw Error("PostgreSQL: this connection was closed after a call got no answer in time", "", true);
  auto limit = bound.value_or(settings_.answerBound());
  bool was_idle = idle();
  try {
    return run(sql, params, limit);
  } catch (const Error&) {
    // A pooled connection found dead while idle (PostgreSQL restarted, or a proxy
    // dropped it) is reopened and the statement sent once more. Outside a
    // transaction nothing of it can be half-done, and the store's statements are
    // safe to repeat (creates are keyed, updates set absolute values). Not so
    // for one that got no answer in time (conn_ is gone): the statement may be running still.
    if (!was_idle || !conn_ || usable()) throw;
    open();  // a new session, its settings applied again; throws while the server is away
    return run(sql, params, limit);
  }
}

void Connection::script(const std::string& sql) {
  if (!conn_) throw Error("PostgreSQL: this connection was closed after a call got no answer in time", "", true);
  answer(PQsendQuery(conn_.get(), sql.c_str()), std::chrono::steady_clock::now() + settings_.answerBound());
}

Result Connection::run(const std::string& sql, const std::vector<Param>& params, std::chrono::milliseconds bound) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = "osago_" + std::to_string(prepared_.size() + 1);
    answer(PQsendPrepare(conn_.get(), name.c_str(), sql.c_str(), static_cast<int>(params.size()), nullptr), deadline);
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  return answer(PQsendQueryPrepared(conn_.get(), it->second.c_str(), static_cast<int>(values.size()), values.data(),
                                    nullptr, nullptr, 0),
                deadline);
}

Result Connection::check(PGresult* raw) {
  Result result(raw);
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

Pool::Lease Pool::acquire(std::optional<std::chrono::milliseconds> wait) {
  auto limit = wait.value_or(wait_);
  auto asked = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  bool free = freed_.wait_for(lock, limit, [this] { return !idle_.empty() || open_ < size_; });
  if (wait_observer_)
    wait_observer_(std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - asked));
  if (!free)
    throw Error("no free PostgreSQL connection within " + std::to_string(limit.count()) + " ms (pool of " +
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
