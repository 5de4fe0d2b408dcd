#pragma once

#include <Poco/Data/Session.h>
#include <Poco/Data/SessionPool.h>

#include <string>

namespace osago::host {

/// The aggregator's PostgreSQL connection pool. Thread-safe.
class Database {
 public:
  Database(const std::string& dsn, int pool_size);

  /// A pooled session; waits up to 5 s for one to come free, then throws
  /// Poco::Data::SessionPoolExhaustedException. Other failures throw Poco::Data exceptions.
  Poco::Data::Session session();

 private:
  Poco::Data::SessionPool pool_;
};

/// Rolls back unless committed: the one way a transaction ends on an exception.
class Transaction {
 public:
  explicit Transaction(Poco::Data::Session& s) : s_(s) { s_.begin(); }
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Poco::Data::Session& s_;
  bool done_ = false;
};

}  // namespace osago::host
