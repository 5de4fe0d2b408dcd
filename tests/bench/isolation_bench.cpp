// What process isolation of plugins costs: partner calls per second through
// one company's adapter, and the latency of each call, with the plugin in a
// worker process (the default) against the same plugin in process, in
// alternating rounds of the same run. Prints one JSON object per round.
//
//   osago-bench-isolation --plugin <so> --manifest <yaml> [--company id] [--external-id id | --submit]
//                         [--threads 16] [--seconds 10] [--rounds 3]
//
// With a plugin that makes no HTTP request (tests/unit/loader_plugins'
// "normal" one) the difference is the isolation's own cost per call; with a
// bundled plugin against the insurer simulator it is that cost beside a real
// (local) HTTP call.
#include "plugins/insurer_adapter.hpp"
#include "plugins/plugin_library.hpp"
#include "plugins/plugin_manifest.hpp"

#include <osago/common/civil_date.hpp>
#include <osago/common/ids.hpp>
#include <osago/common/quote_input.hpp>

#include <Poco/AutoPtr.h>
#include <Poco/ConsoleChannel.h>
#include <Poco/Logger.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>
#include <vector>

using namespace osago::host;
using namespace std::chrono_literals;

namespace {

struct Round {
  double calls_per_second = 0;
  long calls = 0, failures = 0;
  double p50_us = 0, p90_us = 0, p99_us = 0;
};

Round drive(InsurerAdapter& adapter, const std::string& external_id, bool submit, const std::string& quote, int threads,
            std::chrono::seconds duration) {
  std::atomic<bool> go{true};
  std::vector<std::vector<double>> latencies(static_cast<std::size_t>(threads));
  std::vector<long> failures(static_cast<std::size_t>(threads), 0);
  std::vector<std::thread> pool;
  auto started = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      auto& mine = latencies[static_cast<std::size_t>(t)];
      mine.reserve(1 << 20);
      while (go) {
        CallContext ctx{"bench", std::chrono::system_clock::now() + 30s, {}};
        auto t0 = std::chrono::steady_clock::now();
        auto out = submit ? adapter.submit(ctx, quote) : adapter.poll(ctx, external_id);
        auto t1 = std::chrono::steady_clock::now();
        mine.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
        if (out.kind == PartnerOutcome::Kind::Failed) ++failures[static_cast<std::size_t>(t)];
      }
    });
  }
  std::this_thread::sleep_for(duration);
  go = false;
  for (auto& th : pool) th.join();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::vector<double> all;
  Round r;
  for (std::size_t t = 0; t < latencies.size(); ++t) {
    all.insert(all.end(), latencies[t].begin(), latencies[t].end());
    r.failures += failures[t];
  }
  std::sort(all.begin(), all.end());
  auto q = [&](double p) { return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<std::size_t>(p * all.size()))]; };
  r.calls = static_cast<long>(all.size());
  r.calls_per_second = static_cast<double>(all.size()) / elapsed;
  r.p50_us = q(0.50);
  r.p90_us = q(0.90);
  r.p99_us = q(0.99);
  return r;
}

std::string arg(const std::map<std::string, std::string>& args, const std::string& key, const std::string& def) {
  auto it = args.find(key);
  return it == args.end() ? def : it->second;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) continue;
    if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0)
      args[a.substr(2)] = argv[++i];
    else
      args[a.substr(2)] = "1";
  }
  if (!args.count("plugin") || !args.count("manifest")) {
    std::cerr << "usage: osago-bench-isolation --plugin <so> --manifest <yaml> [--company id] [--external-id id | --submit]\n"
                 "                             [--threads 16] [--seconds 10] [--rounds 3]\n";
    return 2;
  }
  Poco::Logger::root().setLevel("error");
  int threads = std::stoi(arg(args, "threads", "16"));
  auto seconds = std::chrono::seconds(std::stoi(arg(args, "seconds", "10")));
  int rounds = std::stoi(arg(args, "rounds", "3"));
  bool submit = args.count("submit") > 0;

  auto manifest = PluginManifest::load(args["manifest"]);
  CompanyConfig company = manifest.companies.front();
  for (const auto& c : manifest.companies)
    if (c.id == arg(args, "company", company.id)) company = c;
  company.max_concurrent_calls = threads;
  company.max_queued_calls = threads;
  company.breaker.minimum_calls = 1000000;  // measure calls, not the breaker

  auto cache = std::filesystem::temp_directory_path() / ("osago-bench-isolation-" + osago::newUuid());
  WorkerLimits limits;
  limits.binary = arg(args, "worker", OSAGO_BENCH_WORKER_BIN);
  PluginLibrary::Admission isolated{cache, {}, {}, limits};
  auto worker_lib = PluginLibrary::load(args["plugin"], isolated);
  PluginLibrary::Admission trusted{cache, {}, {worker_lib->id()}, limits};
  auto in_process_lib = PluginLibrary::load(args["plugin"], trusted);
  company.plugin = worker_lib->id();
  InsurerAdapter in_worker(company, worker_lib);
  InsurerAdapter in_process(company, in_process_lib);

  std::string quote = R"({"v":1})";
  if (args.count("quote-file")) {
    // A driver's quote input, normalised as the aggregator hands it to plugins.
    std::ifstream in(args["quote-file"]);
    auto raw = nlohmann::json::parse(in);
    quote = osago::quote::validateQuoteInput(raw, osago::CivilDate::todayUtc()).input.dump();
  }
  std::string external_id = arg(args, "external-id", "1-app");
  if (args.count("submit-first")) {
    CallContext ctx{"bench", std::chrono::system_clock::now() + 30s, {}};
    auto first = in_process.submit(ctx, quote);
    if (first.kind == PartnerOutcome::Kind::Failed) {
      std::cerr << "the first submit failed: " << first.failure << ": " << first.message << "\n";
      return 1;
    }
    external_id = first.external_id;
  }
  // Warm both (connections, the worker's threads), then alternate.
  drive(in_process, external_id, submit, quote, threads, 1s);
  drive(in_worker, external_id, submit, quote, threads, 1s);
  for (int round = 1; round <= rounds; ++round) {
    for (bool isolated_mode : {false, true}) {
      auto r = drive(isolated_mode ? in_worker : in_process, external_id, submit, quote, threads, seconds);
      std::cout << nlohmann::json{{"round", round},
                                  {"mode", isolated_mode ? "process" : "in_process"},
                                  {"threads", threads},
                                  {"seconds", seconds.count()},
                                  {"calls", r.calls},
                                  {"failures", r.failures},
                                  {"callsPerSecond", std::round(r.calls_per_second)},
                                  {"p50us", std::round(r.p50_us * 10) / 10},
                                  {"p90us", std::round(r.p90_us * 10) / 10},
                                  {"p99us", std::round(r.p99_us * 10) / 10}}
                       .dump()
                << std::endl;
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(cache, ec);
  return 0;
}
