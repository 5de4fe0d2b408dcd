#include "store/pg.hpp"

#include <cstdlib>

namespace osago::host::pg {
namespace {

std::string trimmed(const char* text) {
  std::string s = text ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

/// Connection exceptions (class 08) and the server shutting down or starting
/// (57P01–57P03) mean "try again later", not a faulty statement.
bool isUnavailableState(const std::string& sqlstate) {
  return sqlstate.rfind("08", 0) == 0 || sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03";
}

}  // namespace

long long Result::int64(int row, int col) const { return std::strtoll(PQgetvalue(r_.get(), row, col), nullptr, 10); }

long long Result::affected() const {
  const char* n = PQcmdTuples(r_.get());
  return n && *n ? std::strtoll(n, nullptr, 10) : 0;
}

Connection::Connection(const std::string& dsn) : conn_(PQconnectdb(dsn.c_str()), &PQfinish) {
  if (!conn_) throw Error("cannot allocate a PostgreSQL connection", "", true);
  if (PQstatus(conn_.get()) != CONNECTION_OK)
    throw Error("cannot connect to PostgreSQL: " + trimmed(PQerrorMessage(conn_.get())), "", true);
}

Result Connection::exec(const std::string& sql, const std::vector<Param>& params) {
  bool idle = PQtransactionStatus(conn_.get()) == PQTRANS_IDLE;
  try {
    return run(sql, params);
  } catch (const Error&) {
    // A pooled connection found dead while idle (PostgreSQL restarted, or a proxy
    // dropped it) is reopened and the statement sent once more. Outside a
    // transaction nothing of it can be half-done, and the store's statements are
    // safe to repeat (creates are keyed, updates set absolute values).
    if (!idle || usable()) throw;
    PQreset(conn_.get());
    if (!usable()) throw;
    prepared_.clear();  // they lived in the old server session
    return run(sql, params);
  }
}

Result Connection::run(const std::string& sql, const std::vector<Param>& params) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = "osago_" + std::to_string(prepared_.size() + 1);
    check(PQprepare(conn_.get(), name.c_str(), sql.c_str(), static_cast<int>(params.size()), nullptr));
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  return check(PQexecPrepared(conn_.get(), it->second.c_str(), static_cast<int>(values.size()), values.data(), nullptr,
                              nullptr, 0));
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

Pool::Pool(std::string dsn, int size, std::chrono::milliseconds wait)
    : dsn_(withConnectTimeout(dsn, 3)), size_(size), wait_(wait) {}

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
    return Lease(*this, std::make_unique<Connection>(dsn_));
  } catch (...) {
    lock.lock();
    --open_;
    freed_.notify_one();
    throw;
  }
}

void Pool::giveBack(std::unique_ptr<Connection> c) {
  bool keep = c->usable() && PQtransactionStatus(c->native()) == PQTRANS_IDLE;
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

std::string withConnectTimeout(const std::string& dsn, int seconds) {
  if (dsn.find("connect_timeout") != std::string::npos) return dsn;
  std::string value = "connect_timeout=" + std::to_string(seconds);
  if (dsn.rfind("postgres://", 0) == 0 || dsn.rfind("postgresql://", 0) == 0)
    return dsn + (dsn.find('?') == std::string::npos ? "?" : "&") + value;
  return dsn.empty() ? value : dsn + " " + value;
}

}  // namespace osago::host::pg
