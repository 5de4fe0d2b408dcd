// Hostile clients against the real binaries (issue 16): a slowloris on each
// service, a body sent a byte at a time. The attackers connect from
// 127.0.0.2, the normal client from 127.0.0.1, so that a cap per client
// address bites the one and not the other. Timings are printed, not asserted.
#include "flow_helpers.hpp"

#include <osago/common/http_client.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <netinet/in.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using namespace osago::testing;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kThreads = 16;
constexpr int kPerAddress = 8;
constexpr int kDeadlineMs = 2000;

int portOf(const std::string& url) { return std::stoi(url.substr(url.rfind(':') + 1)); }

/// A TCP connection to 127.0.0.1:`port` from `source` (another loopback address), or -1.
int connectFrom(const char* source, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in from{};
  from.sin_family = AF_INET;
  ::inet_pton(AF_INET, source, &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

/// Whether the server has closed `fd` (end of stream or reset), without blocking.
bool closedByServer(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  char buffer[512];
  for (;;) {
    ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;
    // An answer (e.g. 503 TOO_MANY_CONNECTIONS): read on until the close.
  }
}

struct Slowloris {
  int sockets = 0;
  int connected = 0;
  int closed_in_time = 0;  ///< closed by the server within the deadline and a margin of their start
};

/// `count` connections from 127.0.0.2 sending headers a line every 300 ms,
/// never finishing them, for `duration`; while `probe` runs meanwhile.
Slowloris slowloris(int port, int count, std::chrono::milliseconds duration, const std::function<void()>& probe) {
  Slowloris result{count, 0, 0};
  struct Attacker {
    int fd;
    Clock::time_point started;
    bool closed = false;
    Clock::time_point closed_at;
  };
  std::vector<Attacker> attackers;
  for (int i = 0; i < count; ++i) {
    int fd = connectFrom("127.0.0.2", port);
    if (fd < 0) continue;
    ++result.connected;
    std::string start = "GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    [[maybe_unused]] auto n = ::send(fd, start.data(), start.size(), MSG_NOSIGNAL);
    attackers.push_back({fd, Clock::now()});
  }
  std::atomic<bool> done{false};
  std::thread trickle([&] {
    auto until = Clock::now() + duration;
    while (Clock::now() < until) {
      for (auto& a : attackers) {
        if (a.closed) continue;
        if (closedByServer(a.fd)) {
          a.closed = true;
          a.closed_at = Clock::now();
          continue;
        }
        [[maybe_unused]] auto n = ::send(a.fd, "X-Slow: 1\r\n", 11, MSG_NOSIGNAL);
      }
      std::this_thread::sleep_for(300ms);
    }
    done = true;
  });
  probe();
  trickle.join();
  for (auto& a : attackers) {
    if (!a.closed && closedByServer(a.fd)) {
      a.closed = true;
      a.closed_at = Clock::now();
    }
    if (a.closed && a.closed_at - a.started <= std::chrono::milliseconds(kDeadlineMs) + 1500ms) ++result.closed_in_time;
    ::close(a.fd);
  }
  return result;
}

/// GET `path` on a new connection every 250 ms while the attack lasts (a kept-alive
/// connection would already hold a thread): the statuses (0: no answer within 5 s)
/// and how long the answers took.
struct Probe {
  std::vector<int> statuses;
  std::chrono::milliseconds slowest{0};
  std::chrono::milliseconds median{0};
};
int getOnANewConnection(int port, const std::string& path) {
  int fd = connectFrom("127.0.0.1", port);
  if (fd < 0) return 0;
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  [[maybe_unused]] auto n = ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string answer;
  char buffer[1024];
  auto until = Clock::now() + 5s;
  while (Clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
    if (got <= 0) break;
    answer.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(fd);
  return answer.rfind("HTTP/1.1 ", 0) == 0 ? std::atoi(answer.c_str() + 9) : 0;
}
Probe probeWhile(int port, const std::string& path, int times) {
  Probe p;
  std::vector<std::chrono::milliseconds> took;
  for (int i = 0; i < times; ++i) {
    std::this_thread::sleep_for(250ms);
    auto start = Clock::now();
    p.statuses.push_back(getOnANewConnection(port, path));
    took.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start));
  }
  std::sort(took.begin(), took.end());
  p.slowest = took.back();
  p.median = took[took.size() / 2];
  return p;
}

void expectTheServiceHeld(const std::string& what, const std::string& url) {
  auto before = scrape(url);
  Probe probe;
  auto attack = slowloris(portOf(url), 4 * kThreads, 6s, [&] { probe = probeWhile(portOf(url), "/health/live", 20); });
  std::cout << "[ slowloris ] " << what << ": " << attack.connected << " attacking sockets, " << attack.closed_in_time
            << " closed within the deadline + 1.5 s; a normal client's GET /health/live: median "
            << probe.median.count() << " ms, slowest " << probe.slowest.count() << " ms over " << probe.statuses.size()
            << " calls\n";
  for (int status : probe.statuses) EXPECT_EQ(status, 200) << what << ": the normal client was not answered";
  EXPECT_EQ(attack.closed_in_time, attack.connected) << what << ": slow sockets were held past the deadline";
  auto after = scrape(url);
  EXPECT_GE(after.sum("osago_http_requests_cut_total", {"phase=\"headers\""}) -
                before.sum("osago_http_requests_cut_total", {"phase=\"headers\""}),
            1)
      << what << ": no request was cut at its deadline";
  EXPECT_GE(after.sum("osago_http_connections_refused_total") - before.sum("osago_http_connections_refused_total"), 1)
      << what << ": the cap per address never bit";
}

std::map<std::string, std::string> bounds(const std::string& prefix) {
  return {{prefix + "__LISTEN__MAX_CONNECTIONS", std::to_string(kThreads)},
          {prefix + "__LISTEN__REQUEST_TIMEOUT_MS", std::to_string(kDeadlineMs)},
          {prefix + "__LISTEN__MAX_CONNECTIONS_PER_ADDRESS", std::to_string(kPerAddress)}};
}

TEST(Hostile, ASlowlorisHoldsNeitherServicesThreads) {
  std::string aggregator = stack().startExtraAggregator("aggregator-slowloris", bounds("OSAGO_AGGREGATOR"));
  expectTheServiceHeld("osago-aggregator", aggregator);
  std::string core = stack().startExtraCore("core-slowloris", stack().aggregatorUrl(), bounds("OSAGO_CORE"));
  expectTheServiceHeld("core-app", core);
  stack().stop("core-slowloris", SIGTERM);
  stack().stop("aggregator-slowloris", SIGTERM);
}

TEST(Hostile, ABodySentAByteAtATimeIsAnswered408AtTheDeadline) {
  std::string core = stack().startExtraCore("core-slow-body", stack().aggregatorUrl(), bounds("OSAGO_CORE"));
  int fd = connectFrom("127.0.0.1", portOf(core));
  ASSERT_GE(fd, 0);
  std::string token = stack().issueToken("slow-body", 600s);
  std::string head = "POST /api/osago/requests HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     "Authorization: Bearer " + token + "\r\nContent-Length: 4000\r\n\r\n{";
  ASSERT_GT(::send(fd, head.data(), head.size(), MSG_NOSIGNAL), 0);
  auto start = Clock::now();
  std::string answer;
  char buffer[4096];
  while (Clock::now() - start < 8s && answer.find("\r\n\r\n") == std::string::npos) {
    [[maybe_unused]] auto sent = ::send(fd, " ", 1, MSG_NOSIGNAL);
    pollfd p{fd, POLLIN, 200};
    if (::poll(&p, 1, 200) > 0) {
      ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      answer.append(buffer, static_cast<std::size_t>(n));
    }
  }
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  ::close(fd);
  std::cout << "[ slow body ] answered after " << took.count() << " ms: " << answer.substr(0, answer.find("\r\n")) << "\n";
  EXPECT_EQ(answer.rfind("HTTP/1.1 408", 0), 0u) << answer.substr(0, 300);
  EXPECT_LT(took, std::chrono::milliseconds(kDeadlineMs) + 2s) << "the body was awaited past the deadline";
  stack().stop("core-slow-body", SIGTERM);
}

}  // namespace
