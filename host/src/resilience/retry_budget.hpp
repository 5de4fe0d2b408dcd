#pragma once

#include <nlohmann/json.hpp>

#include <mutex>

namespace osago::host {

/// Settings of one company's retry budget (manifest key `retry_budget`).
struct RetryBudgetConfig {
  double max_tokens = 10;    ///< the bucket's size
  double token_ratio = 0.1;  ///< tokens a successful call earns back
};

/// How many failed calls of one company may be retried (the gRPC A6 / userver
/// model): the bucket starts full; each failed call takes a token, each
/// successful one gives back `token_ratio`; a retry is allowed only while more
/// than half the tokens are left. So retries stop when the partner keeps
/// failing (they would only add to its load) and come back as it recovers.
/// Thread-safe.
class RetryBudget {
 public:
  explicit RetryBudget(RetryBudgetConfig config) : config_(config), tokens_(config.max_tokens) {}

  void onSuccess();
  void onFailure();
  bool allowsRetry() const;
  /// Applies new settings, keeping the tokens (capped at the new size).
  void reconfigure(RetryBudgetConfig config);
  /// {"tokens", "maxTokens", "retriesAllowed"}
  nlohmann::json describe() const;

 private:
  mutable std::mutex mutex_;
  RetryBudgetConfig config_;
  double tokens_;
};

}  // namespace osago::host
