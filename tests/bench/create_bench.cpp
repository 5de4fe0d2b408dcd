// osago-bench-create: POST /osago/requests at a fixed open-loop rate and
// report latency percentiles. Latency is measured from each request's
// scheduled start, so a slow server cannot hide its queueing (no
// coordinated omission). Prints one JSON line. Calls carry a service token
// signed with OSAGO_SERVICE_TOKEN_SECRET, as core-app's do.
//   osago-bench-create --url http://127.0.0.1:8281 --rate 200 --seconds 20 [--threads 32]
#include "bench_creates.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  std::string url = "http://127.0.0.1:8081";
  double rate = 100;
  int seconds = 10;
  int threads = 32;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--url") url = argv[i + 1];
    else if (a == "--rate") rate = std::stod(argv[i + 1]);
    else if (a == "--seconds") seconds = std::stoi(argv[i + 1]);
    else if (a == "--threads") threads = std::stoi(argv[i + 1]);
  }
  const char* key = std::getenv("OSAGO_SERVICE_TOKEN_SECRET");
  if (!key || !*key) {
    std::cerr << "osago-bench-create: set OSAGO_SERVICE_TOKEN_SECRET to the aggregator's service key\n";
    return 2;
  }
  osago::auth::ServiceTokenIssuer service_token(key, "osago-bench-create", "osago-aggregator");
  nlohmann::json body = osago::bench::benchQuote();

  const long total = std::lround(rate * seconds);
  const auto interval = std::chrono::duration<double>(1.0 / rate);
  const auto start = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
  std::atomic<long> next{0};
  std::atomic<long> failed{0};
  std::mutex mutex;
  std::vector<double> latencies_ms;
  latencies_ms.reserve(static_cast<std::size_t>(total));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      nlohmann::json mine = body;
      std::vector<double> local;
      for (long i = next++; i < total; i = next++) {
        auto scheduled = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(interval * i);
        std::this_thread::sleep_until(scheduled);
        try {
          if (osago::bench::createRequest(url, mine, service_token).status != 201) ++failed;
        } catch (const std::exception&) {
          ++failed;
        }
        local.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - scheduled).count());
      }
      std::lock_guard lock(mutex);
      latencies_ms.insert(latencies_ms.end(), local.begin(), local.end());
    });
  }
  for (auto& t : pool) t.join();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto pct = [&](double q) {
    if (latencies_ms.empty()) return 0.0;
    auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(latencies_ms.size())));
    return std::round(latencies_ms[std::clamp<std::size_t>(rank, 1, latencies_ms.size()) - 1] * 10) / 10;
  };
  nlohmann::json out{{"targetRate", rate},
                     {"achievedRate", std::round(static_cast<double>(latencies_ms.size()) / elapsed * 10) / 10},
                     {"requests", latencies_ms.size()},
                     {"failed", failed.load()},
                     {"p50ms", pct(0.5)},
                     {"p90ms", pct(0.9)},
                     {"p99ms", pct(0.99)},
                     {"maxMs", latencies_ms.empty() ? 0 : std::round(latencies_ms.back() * 10) / 10}};
  std::cout << out.dump() << std::endl;
  return failed.load() == 0 ? 0 : 1;
}
