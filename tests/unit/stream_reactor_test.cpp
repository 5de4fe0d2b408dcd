// The stream reactor with real sockets on loopback (no other process): what a
// browser sees on SSE and WebSocket streams, and the reactor's bounds — one
// read of the stored state per request, a client that does not read is
// dropped, the instance's stream cap, closing on stop.
#include "streaming/stream_framing.hpp"
#include "streaming/stream_reactor.hpp"

#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <sys/socket.h>
#include <thread>

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using osago::core::StreamReactor;
using Protocol = StreamReactor::Protocol;

/// A connected pair: `client` is the browser's end, `server` goes to the reactor.
struct Connection {
  Poco::Net::StreamSocket client;
  Poco::Net::StreamSocket server;
};

class ReactorTest : public ::testing::Test {
 protected:
  void SetUp() override { listener_.bind(Poco::Net::SocketAddress("127.0.0.1", 0)), listener_.listen(); }

  Connection connect() {
    Connection c;
    c.client.connect(listener_.address());
    c.server = listener_.acceptConnection();
    c.client.setReceiveTimeout(Poco::Timespan(5, 0));  // a test never waits longer for a byte
    return c;
  }

  static json view(const std::string& status = "IN_PROGRESS", long long last_seq = 1) {
    return {{"userId", "u1"}, {"lastSeq", last_seq}, {"status", status}, {"companies", json::array()}};
  }
  static json event(long long seq, const std::string& request_status = "IN_PROGRESS", std::size_t padding = 0) {
    return {{"osagoRequestId", "r1"}, {"seq", seq}, {"requestStatus", request_status}, {"pad", std::string(padding, 'x')}};
  }

  /// Reads from the client's end until `text` has arrived (or the peer closed / 5 s passed).
  static std::string readUntil(Poco::Net::StreamSocket& s, const std::string& text, std::string& got) {
    char buf[4096];
    while (got.find(text) == std::string::npos) {
      int n = 0;
      try {
        n = s.receiveBytes(buf, sizeof buf);
      } catch (const Poco::TimeoutException&) {
        break;
      }
      if (n <= 0) break;
      got.append(buf, static_cast<std::size_t>(n));
    }
    return got;
  }
  /// True when the peer closed its side within 5 s (after whatever it still sent).
  static bool closedByPeer(Poco::Net::StreamSocket& s) {
    char buf[4096];
    try {
      for (;;) {
        int n = s.receiveBytes(buf, sizeof buf);
        if (n <= 0) return true;
      }
    } catch (const Poco::TimeoutException&) {
      return false;
    } catch (const Poco::Net::NetException&) {
      return true;  // reset
    }
  }
  template <typename Pred>
  static bool eventually(Pred pred, std::chrono::milliseconds limit = 5000ms) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(5ms);
    }
    return true;
  }

  /// A frame as a browser sends it: final, masked.
  static std::string clientFrame(std::uint8_t opcode, const std::string& payload, bool masked = true) {
    std::string f;
    f.push_back(static_cast<char>(0x80 | opcode));
    f.push_back(static_cast<char>((masked ? 0x80 : 0) | payload.size()));
    const char mask[4] = {0x12, 0x34, 0x56, 0x78};
    if (masked) f.append(mask, 4);
    for (std::size_t i = 0; i < payload.size(); ++i) f.push_back(masked ? static_cast<char>(payload[i] ^ mask[i % 4]) : payload[i]);
    return f;
  }

  /// A stream of user u1 on request r1 whose token lasts `ttl`, attached with view(); for a
  /// WebSocket, its snapshot has been read.
  Connection attached(StreamReactor& reactor, Protocol protocol, std::chrono::milliseconds ttl = 1h) {
    auto c = connect();
    reactor.attach(reactor.open("r1", "u1", std::chrono::system_clock::now() + ttl, protocol, -1), c.server, view());
    if (protocol == Protocol::WebSocket) {
      std::string got;
      readUntil(c.client, R"("type":"snapshot")", got);
      EXPECT_NE(got.find(R"("type":"snapshot")"), std::string::npos) << got;
    }
    return c;
  }
  static void send(Connection& c, const std::string& bytes) { c.client.sendBytes(bytes.data(), static_cast<int>(bytes.size())); }

  Poco::Net::ServerSocket listener_;
  StreamReactor::Options options_;
};

TEST_F(ReactorTest, AnSseStreamGetsTheSnapshotThenEachEventAndEndsWithItsRequest) {
  StreamReactor reactor(options_, [](const std::string&) { return std::nullopt; });
  reactor.start();
  auto c = connect();
  auto ticket = reactor.open("r1", "u1", std::chrono::system_clock::now() + 1h, Protocol::Sse, -1);
  reactor.attach(std::move(ticket), c.server, view());
  std::string got;
  readUntil(c.client, "event: snapshot", got);
  EXPECT_NE(got.find("retry: 2000"), std::string::npos) << got;
  EXPECT_EQ(got.find("u1"), std::string::npos) << "the owner's id is not shown: " << got;
  reactor.deliver(event(2));
  reactor.deliver(event(2));  // a copy
  reactor.deliver(event(3, "COMPLETED"));
  readUntil(c.client, "event: end", got);
  EXPECT_NE(got.find("id: 2\nevent: company"), std::string::npos) << got;
  EXPECT_EQ(got.find("id: 2\nevent: company"), got.rfind("id: 2\nevent: company")) << "seq 2 once: " << got;
  EXPECT_NE(got.find("id: 3\nevent: company"), std::string::npos) << got;
  EXPECT_TRUE(closedByPeer(c.client)) << "the server half-closes after the end";
  c.client.close();
  EXPECT_TRUE(eventually([&] { return reactor.openStreams() == 0; }));
  reactor.stop();
}

TEST_F(ReactorTest, AWebSocketPingGetsAPongAndACloseGetsACloseBack) {
  StreamReactor reactor(options_, [](const std::string&) { return std::nullopt; });
  reactor.start();
  auto c = attached(reactor, Protocol::WebSocket);
  std::string got;
  send(c, clientFrame(osago::core::kWsPing, "hi"));
  readUntil(c.client, osago::core::wsFrame(osago::core::kWsPong, "hi"), got);
  EXPECT_NE(got.find(osago::core::wsFrame(osago::core::kWsPong, "hi")), std::string::npos);
  got.clear();
  send(c, clientFrame(osago::core::kWsClose, std::string("\x03\xe8", 2)));
  readUntil(c.client, osago::core::wsCloseFrame(1000, ""), got);
  EXPECT_NE(got.find(osago::core::wsCloseFrame(1000, "")), std::string::npos);
  EXPECT_TRUE(closedByPeer(c.client));
  c.client.close();
  EXPECT_TRUE(eventually([&] { return reactor.openStreams() == 0; }));
}

TEST_F(ReactorTest, AnUnmaskedClientFrameIsAProtocolErrorClosedWith1002) {
  StreamReactor reactor(options_, [](const std::string&) { return std::nullopt; });
  reactor.start();
  auto c = attached(reactor, Protocol::WebSocket);
  send(c, clientFrame(osago::core::kWsText, "hello", false));
  std::string got;
  readUntil(c.client, "protocol error", got);
  EXPECT_NE(got.find(osago::core::wsCloseFrame(1002, "protocol error")), std::string::npos);
  EXPECT_TRUE(closedByPeer(c.client));
}

// One event to many streams is shared out between the loop and its helpers:
// every stream gets every event once and in order, SSE and WebSocket alike,
// and a stream dropped by a helper (its client went away) is reaped.
TEST_F(ReactorTest, AnEventToManyStreamsIsSharedOutAndEveryStreamGetsItOnceInOrder) {
  options_.fanout_threads = 2;
  options_.fanout_parallel_from = 4;
  options_.max_streams_per_user = 100;
  StreamReactor reactor(options_, [](const std::string&) { return std::nullopt; });
  reactor.start();
  std::vector<Connection> conns;
  for (int i = 0; i < 24; ++i) conns.push_back(attached(reactor, i % 2 ? Protocol::WebSocket : Protocol::Sse));
  ASSERT_TRUE(eventually([&] { return reactor.openStreams() == 24; }));
  conns.back().client.close();  // gone: its sends fail on whichever thread has it
  for (long long seq = 2; seq <= 6; ++seq) reactor.deliver(event(seq, seq == 6 ? "COMPLETED" : "IN_PROGRESS"));
  for (std::size_t i = 0; i + 1 < conns.size(); ++i) {
    std::string got;
    bool ws = i % 2;
    readUntil(conns[i].client, ws ? R"("type":"end")" : "event: end", got);
    std::size_t at = 0;
    for (long long seq = 2; seq <= 6; ++seq) {
      std::string mark = ws ? R"("type":"company","seq":)" + std::to_string(seq) : "id: " + std::to_string(seq) + "\nevent: company";
      auto found = got.find(mark, at);
      ASSERT_NE(found, std::string::npos) << "stream " << i << " lacks seq " << seq << " (or out of order): " << got;
      EXPECT_EQ(got.find(mark, found + 1), std::string::npos) << "stream " << i << " got seq " << seq << " twice";
      at = found;
    }
  }
  for (auto& c : conns) c.client.close();
  EXPECT_TRUE(eventually([&] { return reactor.openStreams() == 0; }));
  reactor.stop();
}

TEST_F(ReactorTest, SilenceReadsTheStoredStateOncePerRequestHoweverManyStreamsWatchIt) {
  options_.heartbeat = 100ms;
  std::mutex m;
  std::condition_variable cv;
  int calls = 0, running = 0, most_at_once = 0;
  bool release = false;
  StreamReactor reactor(options_, [&](const std::string&) -> std::optional<json> {
    std::unique_lock lock(m);
    ++calls;
    most_at_once = std::max(most_at_once, ++running);
    cv.wait_for(lock, 10s, [&] { return release; });
    --running;
    return view();
  });
  reactor.start();
  std::vector<Connection> conns;
  for (int i = 0; i < 5; ++i) {
    conns.push_back(connect());
    reactor.attach(reactor.open("r1", "u1", std::chrono::system_clock::now() + 1h, Protocol::Sse, -1), conns.back().server,
                   view());
  }
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(m);
    return calls >= 1;
  }));
  std::this_thread::sleep_for(1500ms);  // three more ticks of silence while the read is slow
  {
    std::lock_guard lock(m);
    EXPECT_EQ(calls, 1) << "five silent streams of one request, one read in flight";
    release = true;
  }
  cv.notify_all();
  reactor.stop();
  EXPECT_EQ(most_at_once, 1);
}

TEST_F(ReactorTest, AClientThatDoesNotReadIsDroppedAtTheUnsentBound) {
  options_.max_unsent_bytes = 64 * 1024;
  StreamReactor reactor(options_, [](const std::string&) { return std::nullopt; });
  reactor.start();
  auto c = connect();
  c.client.setReceiveBufferSize(4096);
  reactor.attach(reactor.open("r1", "u1", std::chrono::system_clock::now() + 1h, Protocol::Sse, -1), c.server, view());
  ASSERT_TRUE(eventually([&] { return reactor.openStreams() == 1; }));
  // ~20 MB offered to a client that reads nothing: the kernel's buffers take a
  // few MB at most, the reactor keeps up to 64 KiB more, then lets go.
  for (long long seq = 2; seq < 2000 && reactor.openStreams() == 1; ++seq) reactor.deliver(event(seq, "IN_PROGRESS", 10000));
  EXPECT_TRUE(eventually([&] { return reactor.openStreams() == 0; })) << "still held: the reactor would grow without a bound";
}

TEST_F(ReactorTest, TheInstanceCapRefusesAStreamAndACancelledOneFreesItsPlace) {
  options_.max_streams = 1;
  StreamReactor reactor(options_, [](const std::string&) { return std::nullopt; });
  reactor.start();
  {
    auto ticket = reactor.open("r1", "u1", std::chrono::system_clock::now() + 1h, Protocol::Sse, -1);
    EXPECT_THROW(reactor.open("r2", "u1", std::chrono::system_clock::now() + 1h, Protocol::Sse, -1), osago::core::StreamsFull);
  }  // dropped before attach(): the handler failed to answer
  ASSERT_TRUE(eventually([&] { return reactor.openStreams() == 0; }));
  EXPECT_NO_THROW(reactor.open("r2", "u1", std::chrono::system_clock::now() + 1h, Protocol::Sse, -1));
}

TEST_F(ReactorTest, AUserOverTheStreamCapIsRefusedAndAClosedStreamFreesItsPlace) {
  options_.max_streams_per_user = 2;
  StreamReactor reactor(options_, [](const std::string&) { return std::nullopt; });
  reactor.start();
  auto until = std::chrono::system_clock::now() + 1h;
  auto first = reactor.open("r1", "u1", until, Protocol::Sse, -1);
  auto c = connect();
  reactor.attach(reactor.open("r1", "u1", until, Protocol::Sse, -1), c.server, view());
  EXPECT_THROW(reactor.open("r2", "u1", until, Protocol::Sse, -1), osago::core::UserStreamsFull);
  EXPECT_NO_THROW(reactor.open("r2", "u2", until, Protocol::Sse, -1)) << "another user is not held to u1's count";
  c.client.close();  // the browser tab closes: its place is free once the reactor sees it
  EXPECT_TRUE(eventually([&] {
    try {
      reactor.open("r2", "u1", until, Protocol::Sse, -1);
      return true;
    } catch (const osago::core::UserStreamsFull&) {
      return false;
    }
  }));
}

TEST_F(ReactorTest, AClientSendingDataFramesIsClosedWith1003) {
  StreamReactor reactor(options_, [](const std::string&) { return std::nullopt; });
  reactor.start();
  auto c = attached(reactor, Protocol::WebSocket);
  send(c, clientFrame(osago::core::kWsText, "hello"));
  std::string got;
  readUntil(c.client, "takes no messages", got);
  EXPECT_NE(got.find(osago::core::wsCloseFrame(1003, "this stream takes no messages")), std::string::npos) << got;
  EXPECT_TRUE(closedByPeer(c.client));
}

TEST_F(ReactorTest, PingsFromAClientThatDoesNotReadQueueAtMostOnePong) {
  options_.max_unsent_bytes = 64 * 1024;
  options_.socket_send_buffer_bytes = 4096;
  StreamReactor reactor(options_, [](const std::string&) { return std::nullopt; });
  reactor.start();
  // Small kernel buffers towards the client (its receive window, the server's
  // send buffer): past them, every pong would wait in the reactor.
  Poco::Net::StreamSocket client(Poco::Net::SocketAddress::IPv4);
  client.setReceiveBufferSize(64 * 1024);
  client.connect(listener_.address());
  Poco::Net::StreamSocket server = listener_.acceptConnection();
  reactor.attach(reactor.open("r1", "u1", std::chrono::system_clock::now() + 1h, Protocol::WebSocket, -1), server, view());
  ASSERT_TRUE(eventually([&] { return reactor.openStreams() == 1; }));
  // Pings with the largest payload a ping may have, nothing read, for up to
  // 3 s or 8 MB: one pong each would pass the 64 KiB bound after a few hundred.
  const std::string ping = clientFrame(osago::core::kWsPing, std::string(125, 'p'));
  std::string burst;
  for (int i = 0; i < 256; ++i) burst += ping;
  client.setBlocking(false);
  std::size_t sent = 0;
  auto until = std::chrono::steady_clock::now() + 3s;
  while (sent < 8u * 1024 * 1024 && std::chrono::steady_clock::now() < until) {
    int n = ::send(client.impl()->sockfd(), burst.data(), burst.size(), MSG_NOSIGNAL);
    if (n > 0) sent += static_cast<std::size_t>(n);
    else std::this_thread::sleep_for(1ms);
  }
  std::this_thread::sleep_for(300ms);
  std::cout << "[ pongs ] " << sent / ping.size() << " pings sent, " << reactor.unsentBytes() << " bytes waiting in the reactor\n";
  EXPECT_GT(sent, 1024u * 1024) << "too few pings to show anything";
  EXPECT_EQ(reactor.openStreams(), 1u) << "dropped: the pongs grew as the pings came";
  EXPECT_LE(reactor.unsentBytes(), 2 * 256u) << "more than one pong queued";
}

TEST_F(ReactorTest, TheInstanceBudgetOfUnsentBytesDropsTheStreamThatGrowsPastIt) {
  options_.max_unsent_bytes = 1024 * 1024;
  options_.max_total_unsent_bytes = 128 * 1024;  // less than two streams' own bound
  options_.socket_send_buffer_bytes = 4096;
  StreamReactor reactor(options_, [](const std::string&) { return std::nullopt; });
  reactor.start();
  std::vector<Connection> clients;
  for (int i = 0; i < 2; ++i) {
    auto c = connect();
    c.client.setReceiveBufferSize(4096);
    reactor.attach(reactor.open("r1", "u1", std::chrono::system_clock::now() + 1h, Protocol::Sse, -1), c.server, view());
    clients.push_back(std::move(c));
  }
  ASSERT_TRUE(eventually([&] { return reactor.openStreams() == 2; }));
  std::size_t peak = 0;
  for (long long seq = 2; seq < 400 && reactor.openStreams() == 2; ++seq) {
    reactor.deliver(event(seq, "IN_PROGRESS", 1000));
    peak = std::max(peak, reactor.unsentBytes());
  }
  EXPECT_TRUE(eventually([&] { return reactor.openStreams() < 2; })) << "both held past the instance's budget";
  EXPECT_LE(peak, 128 * 1024u + 2 * 1200u) << "the budget was passed by more than one event";
}

TEST_F(ReactorTest, AClientThatTakesNoByteIsDroppedAtTheWriteStallEvenWhenItsStreamHasEnded) {
  // Below every byte bound: without the stall bound, this stream's last bytes
  // waited for ever and the stream held its place and socket.
  options_.write_stall = 500ms;
  options_.socket_send_buffer_bytes = 4096;
  StreamReactor reactor(options_, [](const std::string&) { return std::nullopt; });
  reactor.start();
  auto stuck = connect();
  stuck.client.setReceiveBufferSize(4096);
  reactor.attach(reactor.open("r1", "u1", std::chrono::system_clock::now() + 1h, Protocol::Sse, -1), stuck.server, view());
  auto reading = attached(reactor, Protocol::WebSocket);
  ASSERT_TRUE(eventually([&] { return reactor.openStreams() == 2; }));
  EXPECT_EQ(stuck.server.getSendBufferSize(), 2 * 4096) << "the stream socket's kernel buffer is not the one set (Linux doubles it)";
  std::string got;
  std::thread reader([&] { readUntil(reading.client, R"("type":"end")", got); });
  for (long long seq = 2; seq < 60; ++seq) reactor.deliver(event(seq, "IN_PROGRESS", 1000));
  reactor.deliver(event(60, "COMPLETED"));
  reader.join();
  EXPECT_NE(got.find(R"("type":"end")"), std::string::npos) << "the client that reads got its stream to the end";
  reading.client.close();
  ASSERT_GT(reactor.unsentBytes(), 0u) << "nothing waits for the client that does not read: the test shows nothing";
  EXPECT_TRUE(eventually([&] { return reactor.openStreams() == 0 && reactor.unsentBytes() == 0; }, 3000ms))
      << reactor.openStreams() << " streams open, " << reactor.unsentBytes() << " bytes unsent";
}

TEST_F(ReactorTest, AnExpiredTokenEndsTheStreamAndStopClosesTheRestWith1001) {
  StreamReactor reactor(options_, [](const std::string&) { return std::nullopt; });
  reactor.start();
  auto expiring = attached(reactor, Protocol::Sse, 300ms);
  auto ws = attached(reactor, Protocol::WebSocket);
  EXPECT_TRUE(closedByPeer(expiring.client)) << "the token's expiry ends its stream";
  std::string got;
  reactor.stop();
  readUntil(ws.client, "reconnect", got);
  EXPECT_NE(got.find(osago::core::wsCloseFrame(1001, "server restarting; reconnect")), std::string::npos);
  EXPECT_EQ(reactor.openStreams(), 0u);
}

}  // namespace
