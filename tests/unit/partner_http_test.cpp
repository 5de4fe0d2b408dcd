// The host's broker of a plugin's HTTP calls (brokerHttp) against a server on
// loopback: what it will send where, and how it treats redirects.
#include "plugins/insurer_adapter.hpp"

#include <osago/common/http_server.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <vector>

namespace {

using osago::host::brokerHttp;
using osago::host::CompanyConfig;
using osago::host::HttpAsk;

class PartnerHttp : public ::testing::Test {
 protected:
  void SetUp() override {
    auto* router = new osago::http::Router;
    auto redirect = [this](const std::string& path, const std::string& to) {
      return [this, path, to](auto&, auto& resp, const auto&) {
        seen(path);
        resp.set("Location", to);
        resp.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_FOUND);
        resp.setContentLength(0);
        resp.send();
      };
    };
    server_ = osago::http::makeServer(router, "127.0.0.1", 0, {});
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
    router->add("GET", "/offer", [this](auto&, auto& resp, const auto&) {
      seen("/offer");
      osago::http::sendJson(resp, 200, {{"status", "offer"}});
    });
    router->add("GET", "/to-plain", redirect("/to-plain", base_ + "/offer"));
    router->add("GET", "/to-elsewhere", redirect("/to-elsewhere", "https://elsewhere.example/offer"));
    server_->start();
    company_.id = "test-co";
    company_.allowed_hosts = {"127.0.0.1:" + std::to_string(server_->port())};
    company_.http.plain_http_to_loopback = true;  // a loopback test server speaks plain HTTP
  }
  void TearDown() override { server_->stop(); }

  osago::host::HttpAnswer ask(const std::string& url) {
    HttpAsk a;
    a.method = "GET";
    a.url = url;
    return brokerHttp(company_, std::chrono::system_clock::now() + std::chrono::seconds(5), a, "test");
  }
  void seen(const std::string& path) {
    std::lock_guard lock(mutex_);
    paths_.push_back(path);
  }
  std::vector<std::string> paths() {
    std::lock_guard lock(mutex_);
    return paths_;
  }

  std::unique_ptr<osago::http::Server> server_;
  std::string base_;
  CompanyConfig company_;
  std::mutex mutex_;
  std::vector<std::string> paths_;
};

TEST_F(PartnerHttp, ARedirectIsHandedToThePluginUnlessTheCompanyAllowsOne) {
  auto answer = ask(base_ + "/to-plain");
  EXPECT_EQ(answer.status, OSAGO_STATUS_OK);
  EXPECT_EQ(answer.status_code, 302) << "max_redirects 0: the plugin sees the redirect itself";
  EXPECT_EQ(paths(), std::vector<std::string>{"/to-plain"});
}

TEST_F(PartnerHttp, AnAllowedRedirectIsFollowedOnlyToHttpsAndTheCompanysHosts) {
  company_.http.max_redirects = 2;
  auto plain = ask(base_ + "/to-plain");
  EXPECT_TRUE(plain.refused) << "a redirect may not leave https, not even to loopback";
  auto away = ask(base_ + "/to-elsewhere");
  EXPECT_TRUE(away.refused) << "nor go to a host outside the company's manifest";
  EXPECT_EQ(paths(), (std::vector<std::string>{"/to-plain", "/to-elsewhere"})) << "neither target was called";
}

TEST_F(PartnerHttp, PlainHttpAndForeignHostsAreRefusedBeforeAnythingIsSent) {
  EXPECT_EQ(ask(base_ + "/offer").status_code, 200) << "loopback, allowed in development";
  company_.http.plain_http_to_loopback = false;
  auto plain = ask(base_ + "/offer");
  EXPECT_TRUE(plain.refused);
  EXPECT_FALSE(plain.sent);
  auto foreign = ask("https://elsewhere.example/offer");
  EXPECT_TRUE(foreign.refused);
  EXPECT_FALSE(foreign.sent);
  EXPECT_EQ(paths(), std::vector<std::string>{"/offer"}) << "only the first call reached the server";
}

}  // namespace
