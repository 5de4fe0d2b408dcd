// Hostile clients against the real binaries (issue 16): a slowloris on each
// service, a body sent a byte at a time. The attackers connect from
// 127.0.0.2, the normal client from 127.0.0.1, so that a cap per client
// address bites the one and not the other. Timings are printed, not asserted.
#include "flow_helpers.hpp"

#include <osago/common/http_client.hpp>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/WebSocket.h>
#include <Poco/URI.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <functional>
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
  int closed_in_time = 0;  ///< closed by the server before the attack ended (its duration is the deadline and a margin)
  std::chrono::milliseconds last_close{0};  ///< the longest a socket closed by the server had lived (measured, not asserted)
};

/// How the attackers connect: all from 127.0.0.2, or each from one of 200
/// addresses (127.0.0.2…201: a cap per address cannot tell them apart), and
/// whether they trickle a header line every 300 ms or send nothing at all.
struct Attack {
  bool many_addresses = false;
  bool silent = false;
};

/// `count` connections sending headers a line every 300 ms (or nothing),
/// never finishing them, for `duration`; while `probe` runs meanwhile.
Slowloris slowloris(int port, int count, std::chrono::milliseconds duration, const std::function<void()>& probe,
                    Attack how = {}) {
  Slowloris result{count, 0, 0, {}};
  struct Attacker {
    int fd;
    Clock::time_point started;
    bool closed = false;
    Clock::time_point closed_at{};
    /// Whether the server has closed it by now (noted the first time it is seen).
    bool seenClosed() {
      if (!closed && closedByServer(fd)) {
        closed = true;
        closed_at = Clock::now();
      }
      return closed;
    }
  };
  std::vector<Attacker> attackers;
  for (int i = 0; i < count; ++i) {
    std::string source = how.many_addresses ? "127.0.0." + std::to_string(2 + i % 200) : "127.0.0.2";
    int fd = connectFrom(source.c_str(), port);
    if (fd < 0) continue;
    ++result.connected;
    std::string start = "GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    if (!how.silent) [[maybe_unused]] auto n = ::send(fd, start.data(), start.size(), MSG_NOSIGNAL);
    attackers.push_back({fd, Clock::now(), false, {}});
  }
  std::thread trickle([&] {
    auto until = Clock::now() + duration;
    while (Clock::now() < until) {
      for (auto& a : attackers)
        if (!a.seenClosed() && !how.silent) [[maybe_unused]] auto n = ::send(a.fd, "X-Slow: 1\r\n", 11, MSG_NOSIGNAL);
      std::this_thread::sleep_for(300ms);
    }
  });
  probe();
  trickle.join();
  for (auto& a : attackers) {
    if (a.seenClosed() && a.closed_at - a.started <= duration) {
      ++result.closed_in_time;
      result.last_close = std::max(result.last_close, std::chrono::duration_cast<std::chrono::milliseconds>(a.closed_at - a.started));
    }
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
/// What the server sends on `fd` until `until_text` has arrived, it closes, or
/// `limit` passes; `between` runs after each wait of at most 200 ms (a slow sender's next byte).
std::string readAnswer(int fd, const std::string& until_text, std::chrono::milliseconds limit,
                       const std::function<void()>& between = [] {}) {
  std::string answer;
  char buffer[4096];
  auto until = Clock::now() + limit;
  while (Clock::now() < until && (until_text.empty() || answer.find(until_text) == std::string::npos)) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 200) > 0) {
      ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
      if (got <= 0) break;
      answer.append(buffer, static_cast<std::size_t>(got));
    }
    between();
  }
  return answer;
}
/// The status of an HTTP answer (0 when there is none).
int statusOf(const std::string& answer) { return answer.rfind("HTTP/1.1 ", 0) == 0 ? std::atoi(answer.c_str() + 9) : 0; }

/// Sends `request` on a new connection from 127.0.0.1 to `port`; the socket (-1 when it cannot connect).
int sendOnANewConnection(int port, const std::string& request) {
  int fd = connectFrom("127.0.0.1", port);
  if (fd >= 0) [[maybe_unused]] auto n = ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  return fd;
}

int getOnANewConnection(int port, const std::string& path) {
  int fd = sendOnANewConnection(port, "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  if (fd < 0) return 0;
  std::string answer = readAnswer(fd, "", 5s);  // to the server's close
  ::close(fd);
  return statusOf(answer);
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
            << " closed by the server within the attack's 6 s (deadline " << kDeadlineMs << " ms; the last after "
            << attack.last_close.count() << " ms); a normal client's GET /health/live: median "
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

/// Many more slow or silent connections than threads, from 200 addresses and
/// with no cap per address: they wait for their heads in the server's gate,
/// on no thread, so the normal client is served at once.
void expectNoThreadIsHeld(const std::string& what, const std::string& url, Attack how, int sockets) {
  auto before = scrape(url);
  Probe probe;
  auto attack = slowloris(portOf(url), sockets, 5s, [&] { probe = probeWhile(portOf(url), "/health/live", 16); }, how);
  auto after = scrape(url);
  std::cout << "[ " << (how.silent ? "silent" : "slowloris") << ", 200 addresses ] " << what << ": " << attack.connected
            << " sockets against " << kThreads << " threads, " << attack.closed_in_time
            << " closed by the server within the attack's 5 s (deadline " << kDeadlineMs << " ms; the last after "
            << attack.last_close.count() << " ms); a normal client's GET /health/live: median " << probe.median.count()
            << " ms, slowest " << probe.slowest.count() << " ms over " << probe.statuses.size() << " calls\n";
  EXPECT_EQ(attack.connected, sockets);
  for (int status : probe.statuses) EXPECT_EQ(status, 200) << what << ": the normal client was not answered";
  EXPECT_EQ(attack.closed_in_time, attack.connected) << what << ": connections were held past the deadline";
  EXPECT_GE(after.sum("osago_http_requests_cut_total", {"phase=\"headers\""}) -
                before.sum("osago_http_requests_cut_total", {"phase=\"headers\""}),
            attack.connected)
      << what << ": the gate did not cut them";
}

TEST(Hostile, ManyMoreSlowOrSilentConnectionsThanThreadsHoldNoThread) {
  std::map<std::string, std::string> aggregator_bounds{{"OSAGO_AGGREGATOR__LISTEN__MAX_CONNECTIONS", std::to_string(kThreads)},
                                                       {"OSAGO_AGGREGATOR__LISTEN__REQUEST_TIMEOUT_MS", std::to_string(kDeadlineMs)}};
  std::string aggregator = stack().startExtraAggregator("aggregator-gate", aggregator_bounds);
  expectNoThreadIsHeld("osago-aggregator", aggregator, {.many_addresses = true}, 40 * kThreads);
  expectNoThreadIsHeld("osago-aggregator", aggregator, {.many_addresses = true, .silent = true}, 40 * kThreads);
  std::string core = stack().startExtraCore("core-gate", stack().aggregatorUrl(),
                                            {{"OSAGO_CORE__LISTEN__MAX_CONNECTIONS", std::to_string(kThreads)},
                                             {"OSAGO_CORE__LISTEN__REQUEST_TIMEOUT_MS", std::to_string(kDeadlineMs)}});
  expectNoThreadIsHeld("core-app", core, {.many_addresses = true}, 40 * kThreads);
  stack().stop("core-gate", SIGTERM);
  stack().stop("aggregator-gate", SIGTERM);
}

TEST(Hostile, ABodySentAByteAtATimeIsAnswered408AtTheDeadline) {
  std::string core = stack().startExtraCore("core-slow-body", stack().aggregatorUrl(), bounds("OSAGO_CORE"));
  std::string token = stack().issueToken("slow-body", 600s);
  std::string head = "POST /api/osago/requests HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     "Authorization: Bearer " + token + "\r\nContent-Length: 4000\r\n\r\n{";
  int fd = sendOnANewConnection(portOf(core), head);
  ASSERT_GE(fd, 0);
  auto start = Clock::now();
  // One byte of the body after each wait: far slower than the 4000 bytes announced.
  std::string answer = readAnswer(fd, "\r\n\r\n", 8s, [&] { [[maybe_unused]] auto sent = ::send(fd, " ", 1, MSG_NOSIGNAL); });
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  ::close(fd);
  std::cout << "[ slow body ] answered after " << took.count() << " ms: " << answer.substr(0, answer.find("\r\n")) << "\n";
  EXPECT_EQ(answer.rfind("HTTP/1.1 408", 0), 0u) << answer.substr(0, 300);
  EXPECT_LT(took, std::chrono::milliseconds(kDeadlineMs) + 2s) << "the body was awaited past the deadline";
  stack().stop("core-slow-body", SIGTERM);
}

/// Opens `path` as an SSE stream from 127.0.0.1 and reads its answer's status line; the socket stays open (or -1).
int openStream(int port, const std::string& path, const std::string& token, int& status) {
  int fd = sendOnANewConnection(port, "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token + "\r\n\r\n");
  status = fd < 0 ? 0 : statusOf(readAnswer(fd, "\r\n", 5s));
  return fd;
}

TEST(Hostile, AUserOverTheStreamCapIsRefused429) {
  std::string core = stack().startExtraCore("core-stream-cap", stack().aggregatorUrl(),
                                            {{"OSAGO_CORE__STREAMS__MAX_STREAMS_PER_USER", "4"}});
  std::string token = login("many-tabs");
  auto created = httpJson("POST", core + "/api/osago/requests", quote(), token);
  ASSERT_EQ(created.status, 201) << created.body.dump();
  const std::string path = "/api/osago/requests/" + created.body["osagoRequestId"].get<std::string>() + "/stream";
  std::vector<int> open;
  for (int i = 0; i < 4; ++i) {
    int status = 0;
    open.push_back(openStream(portOf(core), path, token, status));
    EXPECT_EQ(status, 200) << "stream " << i;
  }
  auto refused = httpJson("GET", core + path, nullptr, token);
  EXPECT_EQ(refused.status, 429) << refused.body.dump();
  EXPECT_EQ(refused.body.value("error", ""), "TOO_MANY_USER_STREAMS") << refused.body.dump();
  std::string other = login("another-user");
  EXPECT_EQ(httpJson("GET", core + path, nullptr, other).status, 404) << "another user's stream of this request";
  auto own = httpJson("POST", core + "/api/osago/requests", quote(), other);
  ASSERT_EQ(own.status, 201) << own.body.dump();
  int other_status = 0;
  int other_fd = openStream(portOf(core), "/api/osago/requests/" + own.body["osagoRequestId"].get<std::string>() + "/stream",
                            other, other_status);
  EXPECT_EQ(other_status, 200) << "another user is held to this one's count";
  ::close(other_fd);
  ::close(open.back());
  open.pop_back();
  bool admitted = false;
  for (int i = 0; i < 50 && !admitted; ++i) {
    int status = 0;
    int fd = openStream(portOf(core), path, token, status);
    admitted = status == 200;
    if (admitted) open.push_back(fd);
    else {
      ::close(fd);
      std::this_thread::sleep_for(100ms);
    }
  }
  EXPECT_TRUE(admitted) << "a closed stream did not free its place";
  for (int fd : open) ::close(fd);
  stack().stop("core-stream-cap", SIGTERM);
}

/// A WebSocket client that sends empty masked pings as fast as its socket takes them (48 KiB
/// at a time, written past Poco's framing) and reads nothing, until `stop`; the pings sent.
std::size_t flood(const std::string& url, const std::string& token, const std::atomic<bool>& stop) {
  Poco::URI uri(url);
  Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
  Poco::Net::HTTPRequest req("GET", uri.getPathEtc(), Poco::Net::HTTPMessage::HTTP_1_1);
  req.set("Authorization", "Bearer " + token);
  Poco::Net::HTTPResponse resp;
  std::size_t frames = 0;
  try {
    Poco::Net::WebSocket ws(session, req, resp);
    const char ping[] = {'\x89', '\x80', 0x11, 0x22, 0x33, 0x44};  // final, masked, empty
    std::string chunk;
    for (int i = 0; i < 8192; ++i) chunk.append(ping, sizeof ping);
    int fd = ws.impl()->sockfd();
    std::size_t at = 0, bytes = 0;  // a partial send goes on where it stopped: the frames stay whole
    while (!stop) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      ssize_t n = ::send(fd, chunk.data() + at, chunk.size() - at, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) break;
      if (n > 0) {
        bytes += static_cast<std::size_t>(n);
        at = (at + static_cast<std::size_t>(n)) % chunk.size();
      }
    }
    frames = bytes / sizeof ping;
  } catch (const std::exception&) {
    // Closed or blocked by the server: the flood ends.
  }
  return frames;
}

/// Five streams of one quote read by a watching user; how long until each saw its end, and its live events.
struct Watch {
  std::vector<std::chrono::milliseconds> to_end;
  std::size_t live_events = 0;
  int ended = 0;
  std::vector<long long> delay_ms;  ///< each live event: from its occurredAtMs (made, before commit) to its arrival
  /// "p50 X, max Y ms" of the delays.
  std::string delays() {
    if (delay_ms.empty()) return "none";
    std::sort(delay_ms.begin(), delay_ms.end());
    return "p50 " + std::to_string(delay_ms[delay_ms.size() / 2]) + ", max " + std::to_string(delay_ms.back()) + " ms";
  }
};
Watch watchAQuote(const std::string& core) {
  std::string token = login("watcher");
  auto start = Clock::now();
  auto created = httpJson("POST", core + "/api/osago/requests", quote(), token);
  EXPECT_EQ(created.status, 201) << created.body.dump();
  std::string id = created.body.value("osagoRequestId", "");
  Watch w;
  std::vector<std::pair<int, std::vector<SseEvent>>> results(5);
  std::vector<std::chrono::milliseconds> took(5);
  std::vector<std::thread> readers;
  for (std::size_t i = 0; i < results.size(); ++i)
    readers.emplace_back([&, i] {
      results[i] = readEventStream(core + "/api/osago/requests/" + id + "/stream", token,
                                   std::chrono::seconds(TestStack::kDeadlineSeconds + 15));
      took[i] = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    });
  for (auto& r : readers) r.join();
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& events = results[i].second;
    if (!events.empty() && events.back().type == "end") ++w.ended;
    for (const auto& e : events) {
      if (e.type != "company") continue;
      ++w.live_events;
      if (e.data.is_object() && e.data.contains("occurredAtMs") && e.data["occurredAtMs"].is_number_integer())
        w.delay_ms.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(e.received.time_since_epoch()).count() -
                             e.data["occurredAtMs"].get<long long>());
    }
    w.to_end.push_back(took[i]);
  }
  std::sort(w.to_end.begin(), w.to_end.end());
  return w;
}

TEST(Hostile, AWebSocketFloodingPingsNeitherStallsOtherStreamsNorGrowsTheInstance) {
  std::string core = stack().startExtraCore("core-flood", stack().aggregatorUrl());
  Watch calm = watchAQuote(core);

  std::string flooder = login("flooder");
  auto created = httpJson("POST", core + "/api/osago/requests", quote(), flooder);
  ASSERT_EQ(created.status, 201) << created.body.dump();
  auto before = scrape(core);
  std::atomic<bool> stop{false};
  std::size_t frames = 0;
  std::thread attacker([&] {
    frames = flood(core + "/api/osago/requests/" + created.body["osagoRequestId"].get<std::string>() + "/ws", flooder, stop);
  });
  std::this_thread::sleep_for(500ms);
  Watch flooded = watchAQuote(core);
  auto during = scrape(core);
  stop = true;
  attacker.join();

  std::cout << "[ frame flood ] " << frames << " pings sent by one client; five streams of another quote saw their end after "
            << calm.to_end.front().count() << "–" << calm.to_end.back().count() << " ms without the flood, "
            << flooded.to_end.front().count() << "–" << flooded.to_end.back().count() << " ms during it; each live event from "
            << "its making to a stream: " << calm.delays() << " without the flood (" << calm.delay_ms.size() << " events), "
            << flooded.delays() << " during it (" << flooded.delay_ms.size() << " events); "
            << during.sum("osago_core_stream_unsent_bytes") << " bytes unsent on the instance\n";
  EXPECT_GT(frames, 10000u) << "the flood was too small to show anything";
  EXPECT_EQ(flooded.ended, 5) << "streams of the instance did not get their end during the flood";
  EXPECT_GE(flooded.live_events, 5u) << "no live events reached the other streams during the flood";
  EXPECT_GT(during.sum("osago_core_stream_limits_total", {"limit=\"read_budget\""}) -
                before.sum("osago_core_stream_limits_total", {"limit=\"read_budget\""}),
            0)
      << "the flooding client's reads were never cut at its budget";
  EXPECT_LE(during.sum("osago_core_stream_unsent_bytes"), 64 * 1024) << "the flooder's pongs piled up";
  EXPECT_EQ(during.sum("osago_core_stream_limits_total", {"limit=\"protocol\""}) -
                before.sum("osago_core_stream_limits_total", {"limit=\"protocol\""}),
            0)
      << "the flood broke its own framing and was closed for it, not held";
  stack().stop("core-flood", SIGTERM);
}

/// Resident memory of a process in KiB (VmRSS), 0 when it cannot be read.
long residentKib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return 0;
}

/// A WebSocket of `path` from a socket whose receive buffer is as small as the
/// kernel allows, upgraded, then never read again: the socket (-1 when the upgrade failed).
int openNeverReadingWebSocket(int port, const std::string& path, const std::string& token) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int tiny = 1;  // the kernel raises it to its minimum
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &tiny, sizeof tiny);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    return -1;
  }
  std::string upgrade = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                        "Authorization: Bearer " + token + "\r\n\r\n";
  [[maybe_unused]] auto n = ::send(fd, upgrade.data(), upgrade.size(), MSG_NOSIGNAL);
  // Only the answer's head (the snapshot behind it stays unread with everything after).
  std::string head;
  char c;
  auto until = Clock::now() + 5s;
  while (head.find("\r\n\r\n") == std::string::npos && Clock::now() < until) {
    pollfd p{fd, POLLIN, 200};
    if (::poll(&p, 1, 200) > 0 && ::recv(fd, &c, 1, 0) == 1) head.push_back(c);
  }
  if (statusOf(head) != 101) {
    ::close(fd);
    return -1;
  }
  return fd;
}

TEST(Hostile, AClientThatNeverReadsIsDroppedAndItsPlaceAndMemoryReturned) {
  std::string core = stack().startExtraCore("core-never-reads", stack().aggregatorUrl(),
                                            {{"OSAGO_CORE__STREAMS__WRITE_STALL_MS", "3000"},
                                             {"OSAGO_CORE__STREAMS__SEND_BUFFER_KB", "4"},
                                             {"OSAGO_CORE__STREAMS__MAX_STREAMS_PER_USER", "2"}});
  pid_t pid = stack().pidOf("core-never-reads");
  std::string token = login("never-reads");
  auto created = httpJson("POST", core + "/api/osago/requests", quote(), token);
  ASSERT_EQ(created.status, 201) << created.body.dump();
  const std::string base = "/api/osago/requests/" + created.body["osagoRequestId"].get<std::string>();
  auto before = scrape(core);
  long rss_before = residentKib(pid);

  // Both of the user's places, each taken by a client that asks for pongs
  // (largest pings) as fast as it can and reads none: the kernel's buffers
  // fill, then a pong waits in core-app and nothing of it ever leaves.
  std::vector<int> clients;
  for (int i = 0; i < 2; ++i) {
    int fd = openNeverReadingWebSocket(portOf(core), base + "/ws", token);
    ASSERT_GE(fd, 0) << "the upgrade was refused";
    clients.push_back(fd);
  }
  std::string ping = {'\x89', static_cast<char>(0x80 | 125), 0x11, 0x22, 0x33, 0x44};
  ping += std::string(125, 'p');
  std::string burst;
  for (int i = 0; i < 128; ++i) burst += ping;
  std::size_t sent = 0;
  std::vector<std::size_t> at(clients.size(), 0);  // where each client's partial send stopped: frames stay whole
  auto flood_until = Clock::now() + 1000ms;
  while (Clock::now() < flood_until) {
    for (std::size_t i = 0; i < clients.size(); ++i) {
      ssize_t n = ::send(clients[i], burst.data() + at[i], burst.size() - at[i], MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
        at[i] = (at[i] + static_cast<std::size_t>(n)) % burst.size();
      }
    }
    std::this_thread::sleep_for(1ms);
  }
  auto during = scrape(core);
  long rss_during = residentKib(pid);
  EXPECT_EQ(httpJson("GET", core + base + "/stream", nullptr, token).status, 429) << "the user's two places are taken";

  // Dropped at the write stall (3 s, checked every 0.5 s), though its bytes are far below every byte bound.
  bool dropped = false;
  Scrape after;
  for (int i = 0; i < 50 && !dropped; ++i) {
    std::this_thread::sleep_for(200ms);
    after = scrape(core);
    dropped = after.sum("osago_core_stream_limits_total", {"limit=\"write_stall\""}) -
                  before.sum("osago_core_stream_limits_total", {"limit=\"write_stall\""}) >= 2;
  }
  long rss_after = residentKib(pid);
  std::cout << "[ never reads ] " << sent / ping.size() << " pings sent by two clients that read nothing; waiting in core-app: "
            << during.sum("osago_core_stream_unsent_bytes") << " bytes during, " << after.sum("osago_core_stream_unsent_bytes")
            << " after the drop; open streams " << during.sum("osago_core_open_streams") << " -> "
            << after.sum("osago_core_open_streams") << "; core-app resident " << rss_before << " KiB before, " << rss_during
            << " during, " << rss_after << " after\n";
  EXPECT_GT(during.sum("osago_core_stream_unsent_bytes"), 0) << "nothing waited: the test shows nothing";
  EXPECT_TRUE(dropped) << "the clients that never read were not dropped";
  EXPECT_EQ(after.sum("osago_core_stream_limits_total", {"limit=\"protocol\""}) -
                before.sum("osago_core_stream_limits_total", {"limit=\"protocol\""}),
            0)
      << "the pings broke their framing: the clients were closed for that";
  EXPECT_EQ(after.sum("osago_core_stream_unsent_bytes"), 0) << "their bytes were kept";
  EXPECT_EQ(after.sum("osago_core_open_streams"), 0) << "their streams were kept";
  int status = 0;
  int fd = openStream(portOf(core), base + "/stream", token, status);
  EXPECT_EQ(status, 200) << "the user's places were not given back";
  ::close(fd);
  for (int c : clients) ::close(c);
  stack().stop("core-never-reads", SIGTERM);
}

}  // namespace
