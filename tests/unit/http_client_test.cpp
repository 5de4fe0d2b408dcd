// The HTTP client (libcurl) against a real server on loopback: what it refuses
// before sending, what it never does on its own (follow a redirect), where it
// stops reading, and that it keeps connections.
#include <osago/common/http_client.hpp>
#include <osago/common/http_server.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <set>

namespace {

using osago::http::ClientError;
using osago::http::ClientRequest;

class HttpClient : public ::testing::Test {
 protected:
  void SetUp() override {
    auto* router = new osago::http::Router;
    router->add("GET", "/hello", [this](auto& req, auto& resp, const auto&) {
      seen(req);
      osago::http::sendJson(resp, 200, {{"hello", "world"}});
    });
    router->add("GET", "/moved", [this](auto& req, auto& resp, const auto&) {
      seen(req);
      resp.set("Location", "/elsewhere");
      resp.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_FOUND);
      resp.setContentLength(0);
      resp.send();
    });
    router->add("GET", "/big", [this](auto& req, auto& resp, const auto&) {
      seen(req);
      resp.setChunkedTransferEncoding(true);  // no length announced: the cap must hold while reading
      resp.setContentType("application/json");
      std::ostream& out = resp.send();
      for (int i = 0; i < 100; ++i) out << std::string(1024, 'a');
    });
    server_ = osago::http::makeServer(router, "127.0.0.1", 0, {});
    server_->start();
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override { server_->stop(); }

  void seen(const Poco::Net::HTTPServerRequest& req) {
    std::lock_guard lock(mutex_);
    ++requests_;
    peers_.insert(req.clientAddress().toString());
  }
  ClientRequest get(const std::string& path) {
    ClientRequest r;
    r.url = base_ + path;
    r.timeout = std::chrono::seconds(5);
    return r;
  }
  int requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

  std::unique_ptr<osago::http::Server> server_;
  std::string base_;
  std::mutex mutex_;
  int requests_ = 0;
  std::set<std::string> peers_;
};

TEST_F(HttpClient, AHeaderThatWouldSmuggleAnotherIsRefusedBeforeAnythingIsSent) {
  auto r = get("/hello");
  r.headers = {{"X-Api-Key", "k\r\nX-Injected: 1"}};
  try {
    osago::http::call(r);
    ADD_FAILURE() << "sent";
  } catch (const ClientError& e) {
    EXPECT_EQ(e.kind(), ClientError::Kind::kFailed);
    EXPECT_NE(std::string(e.what()).find("line break"), std::string::npos) << e.what();
  }
  r.headers = {{"Bad Name", "v"}};
  EXPECT_THROW(osago::http::call(r), ClientError);
  r.headers = {};
  r.content_type = "application/json\r\nX-Injected: 1";
  r.method = "POST";
  EXPECT_THROW(osago::http::call(r), ClientError);
  EXPECT_EQ(requests(), 0);
  // And the pool lost no handle to the refusals: a good call still works.
  EXPECT_EQ(osago::http::call(get("/hello")).status, 200);
}

TEST_F(HttpClient, ARedirectIsAnAnswerNotFollowed) {
  auto r = osago::http::call(get("/moved"));
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(r.location, "/elsewhere");
  EXPECT_EQ(requests(), 1) << "the client went nowhere else";
}

TEST_F(HttpClient, AnAnswerOverTheCapEndsTheCallAsTooLarge) {
  auto r = get("/big");
  r.max_body_bytes = 10 * 1024;
  try {
    osago::http::call(r);
    ADD_FAILURE() << "100 KiB passed a 10 KiB cap";
  } catch (const ClientError& e) {
    EXPECT_TRUE(e.tooLarge()) << e.what();
  }
  r.max_body_bytes = 200 * 1024;
  EXPECT_EQ(osago::http::call(r).body.size(), 100u * 1024);
}

TEST_F(HttpClient, KeptAliveConnectionsAreReused) {
  for (int i = 0; i < 10; ++i) EXPECT_EQ(osago::http::call(get("/hello")).body, R"({"hello":"world"})");
  std::lock_guard lock(mutex_);
  EXPECT_EQ(requests_, 10);
  EXPECT_EQ(peers_.size(), 1u) << "ten calls, one connection";
}

TEST_F(HttpClient, OnlyHttpAndHttpsAreSpokenAndNothingIsUnbounded) {
  auto r = get("/hello");
  r.url = "file:///etc/passwd";
  EXPECT_THROW(osago::http::call(r), ClientError);
  r.url = "gopher://127.0.0.1/";
  EXPECT_THROW(osago::http::call(r), ClientError);
  r = get("/hello");
  r.timeout = std::chrono::milliseconds(0);
  try {
    osago::http::call(r);
    ADD_FAILURE() << "a call without time left went out";
  } catch (const ClientError& e) {
    EXPECT_TRUE(e.timedOut());
  }
  EXPECT_EQ(requests(), 0);
}

}  // namespace
