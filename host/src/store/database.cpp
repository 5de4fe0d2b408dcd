#include "store/database.hpp"

#include <Poco/Data/DataException.h>
#include <Poco/Data/PostgreSQL/Connector.h>

#include <chrono>
#include <thread>

namespace osago::host {

Database::Database(const std::string& dsn, int pool_size)
    : pool_((Poco::Data::PostgreSQL::Connector::registerConnector(), "PostgreSQL"), dsn, 1, pool_size, 60) {}

Poco::Data::Session Database::session() {
  // Under load every pooled connection may be busy for a moment: wait for one
  // (bounded) rather than fail the caller's work.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (true) {
    try {
      return pool_.get();
    } catch (const Poco::Data::SessionPoolExhaustedException&) {
      if (std::chrono::steady_clock::now() > deadline) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
}

Transaction::~Transaction() {
  if (!done_) {
    try {
      s_.rollback();
    } catch (const Poco::Exception&) {
      // The connection is broken; the server rolls back on its own.
    }
  }
}

void Transaction::commit() {
  s_.commit();
  done_ = true;
}

}  // namespace osago::host
