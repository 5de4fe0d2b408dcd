#include "scheduling/retention_sweeper.hpp"

#include <osago/common/errors.hpp>

#include <Poco/Logger.h>

namespace osago::host {

void RetentionSweeper::start() {
  thread_.start([this] {
    while (thread_.running()) {
      sweep();
      thread_.waitFor(config_.sweep_interval);
    }
  });
}

void RetentionSweeper::sweep() {
  constexpr int kBatch = 1000;
  constexpr int kMaxBatchesPerSweep = 100;  // the rest waits for the next sweep
  auto& log = Poco::Logger::get("store");
  try {
    std::size_t requests = 0, events = 0;
    for (int i = 0; i < kMaxBatchesPerSweep && thread_.running(); ++i) {
      std::size_t n = store_.purgeFinished(config_.finished_requests, kBatch);
      requests += n;
      if (n < kBatch) break;
    }
    for (int i = 0; i < kMaxBatchesPerSweep && thread_.running(); ++i) {
      std::size_t n = store_.purgePublishedEvents(config_.published_events, kBatch);
      events += n;
      if (n < kBatch) break;
    }
    if (requests + events > 0)
      log.information("retention: removed " + std::to_string(requests) + " finished requests and " +
                      std::to_string(events) + " published events");
  } catch (const std::exception& e) {
    log.warning(std::string("retention sweep failed (retried next time): ") + errorText(e));
  }
}

}  // namespace osago::host
