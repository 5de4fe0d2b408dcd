#include "resilience/retry_budget.hpp"

#include <algorithm>
#include <cmath>

namespace osago::host {

void RetryBudget::onSuccess() {
  std::lock_guard lock(mutex_);
  tokens_ = std::min(config_.max_tokens, tokens_ + config_.token_ratio);
}

void RetryBudget::onFailure() {
  std::lock_guard lock(mutex_);
  tokens_ = std::max(0.0, tokens_ - 1);
}

bool RetryBudget::allowsRetry() const {
  std::lock_guard lock(mutex_);
  return tokens_ > config_.max_tokens / 2;
}

void RetryBudget::reconfigure(RetryBudgetConfig config) {
  std::lock_guard lock(mutex_);
  config_ = config;
  tokens_ = std::min(tokens_, config_.max_tokens);
}

nlohmann::json RetryBudget::describe() const {
  std::lock_guard lock(mutex_);
  return {{"tokens", std::round(tokens_ * 100) / 100},
          {"maxTokens", config_.max_tokens},
          {"retriesAllowed", tokens_ > config_.max_tokens / 2}};
}

}  // namespace osago::host
