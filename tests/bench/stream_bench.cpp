// osago-bench-streams: holds N concurrent streams (SSE and WebSocket) of one
// quote request open on one core-app, samples core-app's memory and threads
// (/proc), then publishes events of that request to Kafka and measures how
// long each takes to reach every stream. Prints one JSON line.
//   osago-bench-streams --core 127.0.0.1:8480 --token T --request ID --streams 10000
//                       --pid PID --brokers 127.0.0.1:19292 --topic T [--ws-percent 50] [--events 5]
#include <osago/common/ids.hpp>

#include <librdkafka/rdkafkacpp.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string token, request, brokers, topic;
  int streams = 1000, ws_percent = 50, events = 5, parallel_opens = 32, pid = 0;
};

struct Conn {
  int fd = -1;
  bool ws = false;
  enum State { Connecting, Opening, Open, Failed } state = Connecting;
  std::string tail;           ///< the last bytes read, to find markers that span reads
  long long last_seq = -1;    ///< from the snapshot: what the stream has
  Clock::time_point got_at;   ///< when the awaited event arrived
  bool got = false;
};

std::map<std::string, long> procStatus(int pid) {
  std::map<std::string, long> out;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    for (const char* key : {"VmRSS:", "Threads:"})
      if (line.rfind(key, 0) == 0) out[key] = std::atol(line.c_str() + std::strlen(key));
  }
  return out;
}

long openFds(int pid) {
  std::error_code ec;
  auto fds = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
  return ec ? -1 : static_cast<long>(std::distance(fds, std::filesystem::directory_iterator{}));
}

std::string requestText(const Options& o, bool ws) {
  std::string path = "/api/osago/requests/" + o.request + (ws ? "/ws" : "/stream");
  std::string r = "GET " + path + " HTTP/1.1\r\nHost: " + o.host + "\r\nAuthorization: Bearer " + o.token + "\r\n";
  if (ws)
    r += "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "
         "dGhlIHNhbXBsZSBub25jZQ==\r\n";
  else
    r += "Accept: text/event-stream\r\n";
  return r + "\r\n";
}

/// Finds the seq of a snapshot in what a stream has read so far.
long long snapshotSeq(const std::string& text, bool ws) {
  if (ws) {
    auto at = text.find(R"({"type":"snapshot","seq":)");
    if (at == std::string::npos) return -1;
    return std::atoll(text.c_str() + at + 25);
  }
  auto at = text.find("event: snapshot");
  if (at == std::string::npos) return -1;
  auto id = text.rfind("id: ", at);
  return id == std::string::npos ? -1 : std::atoll(text.c_str() + id + 4);
}

class Producer {
 public:
  Producer(const std::string& brokers, std::string topic) : topic_(std::move(topic)) {
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    std::string err;
    conf->set("bootstrap.servers", brokers, err);
    conf->set("linger.ms", "0", err);
    producer_.reset(RdKafka::Producer::create(conf.get(), err));
    if (!producer_) throw std::runtime_error("kafka: " + err);
  }
  void send(const std::string& key, const std::string& value) {
    auto code = producer_->produce(topic_, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                                   const_cast<char*>(value.data()), value.size(), key.data(), key.size(), 0, nullptr);
    if (code != RdKafka::ERR_NO_ERROR) throw std::runtime_error("produce: " + RdKafka::err2str(code));
    producer_->flush(5000);
  }

 private:
  std::string topic_;
  std::unique_ptr<RdKafka::Producer> producer_;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--core") {
      o.host = v.substr(0, v.find(':'));
      o.port = std::stoi(v.substr(v.find(':') + 1));
    } else if (a == "--token") o.token = v;
    else if (a == "--request") o.request = v;
    else if (a == "--streams") o.streams = std::stoi(v);
    else if (a == "--ws-percent") o.ws_percent = std::stoi(v);
    else if (a == "--events") o.events = std::stoi(v);
    else if (a == "--pid") o.pid = std::stoi(v);
    else if (a == "--brokers") o.brokers = v;
    else if (a == "--topic") o.topic = v;
    else if (a == "--parallel-opens") o.parallel_opens = std::stoi(v);
  }
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);

  auto before = procStatus(o.pid);
  long fds_before = openFds(o.pid);
  int ep = ::epoll_create1(0);
  std::vector<Conn> conns(static_cast<std::size_t>(o.streams));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(o.port));
  ::inet_pton(AF_INET, o.host.c_str(), &addr.sin_addr);

  std::size_t next = 0, opening = 0, open = 0, failed = 0, retries = 0;
  std::vector<std::size_t> retry;
  auto begin_open = [&](std::size_t i) {
    Conn& c = conns[i];
    c = Conn{};
    c.ws = static_cast<int>(i % 100) < o.ws_percent;
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ::connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    epoll_event ev{};
    ev.events = EPOLLOUT | EPOLLIN;
    ev.data.u64 = i;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
    ++opening;
  };
  auto fail = [&](Conn& c, std::size_t i, bool may_retry) {
    ::epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    c.fd = -1;
    if (c.state != Conn::Open) --opening;
    else --open;
    c.state = Conn::Failed;
    if (may_retry) retry.push_back(i);
    else ++failed;
  };
  long long awaited = -1;
  auto on_event = [&](std::size_t i, std::uint32_t events) {
    Conn& c = conns[i];
    if (c.state == Conn::Connecting && (events & EPOLLOUT)) {
      std::string req = requestText(o, c.ws);
      if (::send(c.fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) return fail(c, i, true);
      c.state = Conn::Opening;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = i;
      ::epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
    }
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
    char buf[8192];
    for (;;) {
      ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN)) return fail(c, i, c.state == Conn::Opening);
      if (n < 0) break;
      c.tail.append(buf, static_cast<std::size_t>(n));
      if (c.state == Conn::Opening) {
        if (c.tail.size() >= 12 && c.tail.compare(9, 3, c.ws ? "101" : "200") != 0) {
          bool busy = c.tail.compare(9, 3, "503") == 0 || c.tail.compare(9, 3, "429") == 0;
          return fail(c, i, busy);  // the service was busy: try this one again
        }
        long long seq = snapshotSeq(c.tail, c.ws);
        if (seq >= 0) {
          c.last_seq = seq;
          c.state = Conn::Open;
          --opening;
          ++open;
          c.tail.erase(0, c.tail.size() > 64 ? c.tail.size() - 64 : 0);
        }
      } else if (awaited > 0 && !c.got) {
        std::string marker = c.ws ? R"("seq":)" + std::to_string(awaited) + "," : "id: " + std::to_string(awaited) + "\n";
        if (c.tail.find(marker) != std::string::npos) {
          c.got = true;
          c.got_at = Clock::now();
        }
        c.tail.erase(0, c.tail.size() > 64 ? c.tail.size() - 64 : 0);
      } else {
        c.tail.erase(0, c.tail.size() > 64 ? c.tail.size() - 64 : 0);
      }
    }
  };
  std::vector<epoll_event> evs(1024);
  auto pump = [&](int timeout_ms) {
    int n = ::epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), timeout_ms);
    for (int k = 0; k < n; ++k) on_event(evs[static_cast<std::size_t>(k)].data.u64, evs[static_cast<std::size_t>(k)].events);
  };

  auto t0 = Clock::now();
  auto open_deadline = t0 + std::chrono::seconds(300);
  while ((open + failed < conns.size()) && Clock::now() < open_deadline) {
    while (opening < static_cast<std::size_t>(o.parallel_opens) && (next < conns.size() || !retry.empty())) {
      if (!retry.empty()) {
        begin_open(retry.back());
        retry.pop_back();
        ++retries;
      } else {
        begin_open(next++);
      }
    }
    pump(50);
  }
  double open_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  // Let core-app settle (handler threads return to the pool), then sample it.
  for (auto until = Clock::now() + std::chrono::seconds(3); Clock::now() < until;) pump(100);
  auto held = procStatus(o.pid);
  long fds_held = openFds(o.pid);

  long long base_seq = -1;
  for (auto& c : conns)
    if (c.state == Conn::Open) base_seq = std::max(base_seq, c.last_seq);
  Producer producer(o.brokers, o.topic);
  nlohmann::json rounds = nlohmann::json::array();
  std::vector<double> all_last;
  for (int e = 1; e <= o.events && open > 0; ++e) {
    awaited = base_seq + e;
    for (auto& c : conns) c.got = false;
    nlohmann::json event = {{"schemaVersion", 1},
                            {"eventId", osago::newUuid()},
                            {"type", "COMPANY_STATUS_CHANGED"},
                            {"osagoRequestId", o.request},
                            {"seq", awaited},
                            {"companyId", "bench"},
                            {"status", "PENDING"},
                            {"requestStatus", "IN_PROGRESS"}};
    auto sent_at = Clock::now();
    producer.send(o.request, event.dump());
    auto until = Clock::now() + std::chrono::seconds(30);
    std::size_t got = 0;
    while (got < open && Clock::now() < until) {
      pump(20);
      got = static_cast<std::size_t>(std::count_if(conns.begin(), conns.end(), [](const Conn& c) { return c.got; }));
    }
    std::vector<double> ms;
    for (auto& c : conns)
      if (c.got) ms.push_back(std::chrono::duration<double, std::milli>(c.got_at - sent_at).count());
    double first = ms.empty() ? 0 : *std::min_element(ms.begin(), ms.end());
    double last = ms.empty() ? 0 : *std::max_element(ms.begin(), ms.end());
    all_last.push_back(last);
    rounds.push_back({{"seq", awaited}, {"received", got}, {"of", open}, {"firstMs", std::round(first * 10) / 10},
                      {"p50Ms", std::round(percentile(ms, 0.5) * 10) / 10},
                      {"p99Ms", std::round(percentile(ms, 0.99) * 10) / 10}, {"lastMs", std::round(last * 10) / 10},
                      {"spreadMs", std::round((last - first) * 10) / 10}});
    for (auto until2 = Clock::now() + std::chrono::seconds(1); Clock::now() < until2;) pump(50);
  }
  auto after = procStatus(o.pid);
  nlohmann::json report = {
      {"streams", o.streams},
      {"open", open},
      {"failed", failed},
      {"retriedOpens", retries},
      {"webSocketPercent", o.ws_percent},
      {"openSeconds", std::round(open_seconds * 10) / 10},
      {"rssKbBefore", before["VmRSS:"]},
      {"rssKbHeld", held["VmRSS:"]},
      {"rssKbAfterEvents", after["VmRSS:"]},
      {"kbPerStream", open ? std::round(double(held["VmRSS:"] - before["VmRSS:"]) / double(open) * 10) / 10 : 0},
      {"threadsBefore", before["Threads:"]},
      {"threadsHeld", held["Threads:"]},
      {"fdsBefore", fds_before},
      {"fdsHeld", fds_held},
      {"events", rounds}};
  std::cout << report.dump() << std::endl;
  for (auto& c : conns)
    if (c.fd >= 0) ::close(c.fd);
  return open == conns.size() ? 0 : 1;
}
