#pragma once

// A thin layer over libpq: one round trip per statement (prepared once per
// connection, text parameters), every wait bounded, a bounded connection pool
// and a scoped transaction. The aggregator's only way to talk to PostgreSQL.

#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace osago::host::pg {

/// A failed database call. `unavailable()` says the server could not be
/// reached, the connection broke or no pooled connection came free: worth
/// retrying later. Otherwise the statement itself failed (a bug or a constraint).
class Error : public std::runtime_error {
 public:
  Error(const std::string& message, std::string sqlstate, bool unavailable)
      : std::runtime_error(message), sqlstate_(std::move(sqlstate)), unavailable_(unavailable) {}
  const std::string& sqlstate() const { return sqlstate_; }
  bool unavailable() const { return unavailable_; }

 private:
  std::string sqlstate_;
  bool unavailable_;
};

/// The time bounds of a connection. The server enforces the first three on
/// its side; the client bounds each round trip itself as well (a stopped
/// server or a half-open socket answers nothing, not even an error), and TCP
/// keepalives and the TCP user timeout find a dead peer while idle or sending.
struct Settings {
  std::chrono::milliseconds statement_timeout{10000};   ///< 0: none (migrations)
  std::chrono::milliseconds lock_timeout{3000};          ///< 0: none
  std::chrono::milliseconds idle_in_transaction{10000};  ///< a session idle inside a transaction this long is ended
  std::chrono::seconds connect_timeout{3};
  /// A round trip gets statement_timeout plus this before the client gives
  /// up on the connection; with no statement timeout (migrations), `unbounded_answer`.
  std::chrono::milliseconds answer_margin{5000};
  std::chrono::milliseconds unbounded_answer{std::chrono::minutes(10)};

  std::chrono::milliseconds answerBound() const {
    return statement_timeout.count() > 0 ? statement_timeout + answer_margin : unbounded_answer;
  }
  /// For schema migrations: no statement or lock timeout, the rest as usual.
  static Settings forMigrations();
};

/// One statement parameter in text form; nullopt is SQL NULL.
using Param = std::optional<std::string>;

inline Param param(const std::string& s) { return s; }
inline Param param(const char* s) { return std::string(s); }
inline Param param(long long v) { return std::to_string(v); }
inline Param param(long v) { return std::to_string(v); }
inline Param param(int v) { return std::to_string(v); }
inline Param param(std::nullopt_t) { return std::nullopt; }
inline Param param(const Param& p) { return p; }

/// The rows of a statement, read as text.
class Result {
 public:
  explicit Result(PGresult* r) : r_(r, &PQclear) {}
  int rows() const { return PQntuples(r_.get()); }
  int columns() const { return PQnfields(r_.get()); }
  bool isNull(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  /// The value as text; empty for NULL.
  std::string text(int row, int col) const {
    return std::string(PQgetvalue(r_.get(), row, col), static_cast<std::size_t>(PQgetlength(r_.get(), row, col)));
  }
  long long int64(int row, int col) const;
  /// Rows inserted, updated or deleted by the statement.
  long long affected() const;

 private:
  std::unique_ptr<PGresult, decltype(&PQclear)> r_;
};

/// One server connection. Not thread-safe: one user at a time (the pool sees to it).
class Connection {
 public:
  /// Connects and sets the session's timeouts; throws an unavailable Error
  /// when the server cannot be reached or does not answer in time.
  explicit Connection(const std::string& dsn, Settings settings = {});

  /// Runs one statement with $1… parameters in one round trip. Each distinct
  /// SQL text is prepared once per connection (the first use costs one more
  /// round trip), so the server neither parses nor plans it again. A connection
  /// found dead while idle (the server restarted) is reopened and the statement
  /// sent once more. An answer that does not come within `bound` (default: the
  /// settings' answerBound()) closes the connection for good (the statement may
  /// still run: it is not sent again) and throws an unavailable Error.
  Result exec(const std::string& sql, const std::vector<Param>& params = {},
              std::optional<std::chrono::milliseconds> bound = std::nullopt);
  /// Runs a multi-statement SQL text without parameters (a migration), within
  /// the settings' answerBound(). Throws Error like exec().
  void script(const std::string& sql);

  template <typename... Args>
  Result query(const std::string& sql, const Args&... args) {
    return exec(sql, std::vector<Param>{param(args)...});
  }

  /// False once the connection broke or was given up: the pool drops it.
  bool usable() const { return conn_ && PQstatus(conn_.get()) == CONNECTION_OK; }
  bool idle() const { return conn_ && PQtransactionStatus(conn_.get()) == PQTRANS_IDLE; }
  /// For waiting on notifications (LISTEN); null once the connection was given up.
  PGconn* native() { return conn_.get(); }

 private:
  Result check(PGresult* raw);
  Result run(const std::string& sql, const std::vector<Param>& params, std::chrono::milliseconds bound);
  /// The answer to what was just sent (`sent`: the libpq send call's result),
  /// waited for until `deadline`. No answer in time gives the connection up.
  Result answer(int sent, std::chrono::steady_clock::time_point deadline);
  /// Null when the connection broke (PQstatus says so) or the deadline passed (timed_out_).
  PGresult* await(std::chrono::steady_clock::time_point deadline);
  void open();

  std::string dsn_;
  Settings settings_;
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn_;
  bool timed_out_ = false;  ///< the last round trip got no answer in time
  std::unordered_map<std::string, std::string> prepared_;  ///< SQL text → statement name
};

/// At most `size` connections, opened on demand; a broken one is replaced
/// on the next acquire. Thread-safe.
class Pool {
 public:
  Pool(std::string dsn, int size, Settings settings = {}, std::chrono::milliseconds wait = std::chrono::seconds(5));
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  /// A connection lent until the lease ends.
  class Lease {
   public:
    Lease(Pool& pool, std::unique_ptr<Connection> c) : pool_(&pool), c_(std::move(c)) {}
    Lease(Lease&& o) noexcept : pool_(o.pool_), c_(std::move(o.c_)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (c_) pool_->giveBack(std::move(c_));
    }
    Connection& operator*() { return *c_; }
    Connection* operator->() { return c_.get(); }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> c_;
  };

  /// Waits up to `wait` (default: the pool's) for a free connection; throws
  /// an unavailable Error when none comes free or the server cannot be reached.
  Lease acquire(std::optional<std::chrono::milliseconds> wait = std::nullopt);

  /// Called after every acquire with how long it waited for a free connection
  /// (e.g. admission control). Set before the pool is used.
  void observeWaits(std::function<void(std::chrono::microseconds)> observer) { wait_observer_ = std::move(observer); }

 private:
  void giveBack(std::unique_ptr<Connection> c);

  std::string dsn_;
  int size_;
  Settings settings_;
  std::chrono::milliseconds wait_;
  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;  ///< connections lent out or idle
  std::function<void(std::chrono::microseconds)> wait_observer_;
};

/// Rolls back unless committed: the one way a transaction ends on an exception.
class Transaction {
 public:
  explicit Transaction(Connection& c) : c_(c) { c_.exec("BEGIN"); }
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Connection& c_;
  bool done_ = false;
};

/// Opens a libpq connection to `dsn` with the settings' connect timeout, TCP
/// keepalives and TCP user timeout (the DSN's own values of these win);
/// the caller checks PQstatus.
PGconn* connectWithBounds(const std::string& dsn, const Settings& settings);

}  // namespace osago::host::pg
