// Who may call what: the aggregator's /osago/* API takes only a service token of
// its key (core-app's), and a rotation of that key keeps quotes flowing.
#include "flow_helpers.hpp"

#include <osago/common/http_client.hpp>
#include <osago/common/ids.hpp>

#include <Poco/DigestEngine.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/URI.h>
#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>
#include <Poco/SHA2Engine.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <iterator>
#include <thread>

namespace {

using namespace osago::testing;
using nlohmann::json;
using namespace std::chrono_literals;

/// A JWT of `key` with the claims given, as someone holding (or guessing) a key could mint.
std::string mint(const std::string& key, const std::string& audience, long issued_ago_s, long expires_in_s) {
  Poco::JWT::Token token;
  token.setType("JWT");
  token.setSubject("core-app");
  token.setAudience(audience);
  Poco::Timestamp now;
  token.setIssuedAt(now - Poco::Timespan(issued_ago_s, 0));
  token.setExpiration(now + Poco::Timespan(expires_in_s, 0));
  return Poco::JWT::Signer(key).sign(token, Poco::JWT::Signer::ALGO_HS256);
}

json directBody() {
  json body = quote();
  body["userId"] = "security-test";
  body["correlationId"] = osago::newUuid();
  return body;
}

std::string fileText(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

/// Creates a quote through the core-app at `core` and reads it back through it until it is
/// final; the final status ("" when the create failed, with `why` set).
std::string quoteThroughCore(const std::string& core, std::string& why) {
  std::string token = login("rotation");
  auto created = httpJson("POST", core + "/api/osago/requests", quote(), token);
  if (created.status != 201) {
    why = "create: " + std::to_string(created.status) + " " + created.body.dump();
    return "";
  }
  std::string id = created.body["osagoRequestId"];
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(TestStack::kDeadlineSeconds + 10);
  std::string status;
  while (std::chrono::steady_clock::now() < until) {
    auto view = httpJson("GET", core + "/api/osago/requests/" + id, nullptr, token);
    if (view.status != 200) {
      why = "get: " + std::to_string(view.status) + " " + view.body.dump();
      return "";
    }
    status = view.body.value("status", "");
    if (status == "COMPLETED") break;
    std::this_thread::sleep_for(200ms);
  }
  return status;
}

std::string sha256(const std::string& text) {
  Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
  engine.update(text);
  return Poco::DigestEngine::digestToHex(engine.digest());
}

/// The stack's polisnet manifest, replaced for one test and put back at its end.
class PolisnetManifest {
 public:
  PolisnetManifest() : file_(stack().pluginDir() + "/osago_plugin_polisnet.yaml"), original_(fileText(file_)) {}
  ~PolisnetManifest() { serve(original_); }
  const std::string& original() const { return original_; }

  /// Installs `text` (renamed into place) and waits until the aggregator serves it; its listing.
  json serve(const std::string& text) {
    std::ofstream(file_ + ".tmp") << text;
    std::filesystem::rename(file_ + ".tmp", file_);
    json polisnet;
    for (int i = 0; i < 100; ++i) {
      polisnet = pluginNamed(admin("GET", "/admin/plugins").body, "polisnet");
      if (polisnet.is_object() && polisnet.value("manifestSha256", "") == sha256(text)) return polisnet;
      std::this_thread::sleep_for(100ms);
    }
    ADD_FAILURE() << "the aggregator did not pick up the new manifest: " << polisnet.dump();
    return polisnet;
  }
  /// The original with severny-shchit's base URL on `base` instead of the stack's simulator.
  std::string withSevernyAt(const std::string& base) const {
    std::string text = original_;
    std::string from = stack().simulatorTlsUrl() + "/severny-shchit";
    auto at = text.find(from);
    if (at != std::string::npos) text.replace(at, from.size(), base + "/severny-shchit");
    return text;
  }

 private:
  std::string file_;
  std::string original_;
};

/// Sets the stack simulator's behaviour of `insurer` for one test, back to normal at its end.
class PartnerBehaviour {
 public:
  PartnerBehaviour(std::string insurer, const json& behaviour) : insurer_(std::move(insurer)) { put(behaviour); }
  ~PartnerBehaviour() { put({{"mode", "normal"}}); }

 private:
  void put(const json& behaviour) {
    auto r = httpJson("PUT", stack().simulatorUrl() + "/control/insurers/" + insurer_ + "/behaviour", behaviour);
    EXPECT_EQ(r.status, 200) << r.body.dump();
  }
  std::string insurer_;
};

/// Creates a request directly at the aggregator and waits until it is final; its companies.
std::map<std::string, json> quoteDirectly() {
  auto created = aggregatorJson("POST", stack().aggregatorUrl() + "/osago/requests", directBody());
  EXPECT_EQ(created.status, 201) << created.body.dump();
  return byCompany(waitFinal(created.body.value("osagoRequestId", ""))["insuranceCompanies"]);
}

TEST(Security, TheAggregatorRefusesOsagoCallsWithoutAValidServiceToken) {
  const std::string url = stack().aggregatorUrl();
  const std::string key = stack().serviceSecret();
  const std::string before = stack().query("SELECT count(*) FROM quote_requests")[0];
  struct Case {
    std::string what;
    std::string bearer;  // the Authorization value, "" for none
    std::string reason;  // what the 401's message must say
  };
  const std::vector<Case> cases = {
      {"no token", "", "no service token"},
      {"not a JWT", "Bearer not-a-token", "invalid token"},
      {"another key", "Bearer " + mint(std::string(40, 'x'), "osago-aggregator", 0, 60), "invalid token"},
      {"expired", "Bearer " + mint(key, "osago-aggregator", 120, -60), "expired"},
      {"for another service", "Bearer " + mint(key, "core-app", 0, 60), "not addressed to osago-aggregator"},
      {"a week long", "Bearer " + mint(key, "osago-aggregator", 0, 7 * 86400), "lives longer"},
      {"a user's token of core-app", "Bearer " + stack().issueToken("alice", 600s), "invalid token"},
      {"the admin token", "Bearer " + stack().adminToken(), "invalid token"},
  };
  for (const auto& c : cases) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!c.bearer.empty()) headers.emplace_back("Authorization", c.bearer);
    auto create = httpJson("POST", url + "/osago/requests", directBody(), "", headers);
    EXPECT_EQ(create.status, 401) << c.what << ": " << create.body.dump();
    EXPECT_EQ(create.body.value("error", ""), "UNAUTHORIZED") << c.what;
    EXPECT_NE(create.body.value("message", "").find(c.reason), std::string::npos) << c.what << ": " << create.body.dump();
    auto read = httpJson("GET", url + "/osago/requests/" + osago::newUuid(), nullptr, "", headers);
    EXPECT_EQ(read.status, 401) << c.what << " may not even learn that a request is missing";
  }
  EXPECT_EQ(stack().query("SELECT count(*) FROM quote_requests")[0], before) << "nothing refused was stored";

  // With the service token the same calls work; a request made through core-app reads back.
  auto created = aggregatorJson("POST", url + "/osago/requests", directBody());
  ASSERT_EQ(created.status, 201) << created.body.dump();
  EXPECT_EQ(aggregatorJson("GET", url + "/osago/requests/" + created.body["osagoRequestId"].get<std::string>()).status, 200);
  std::string why;
  EXPECT_EQ(quoteThroughCore(stack().coreUrl(), why), "COMPLETED") << why;
  // Health and metrics stay open for probes and Prometheus (their reach is the network's to limit).
  EXPECT_EQ(httpJson("GET", url + "/health/live").status, 200);
}

TEST(Security, RotatingTheServiceKeyKeepsQuotesFlowing) {
  const std::string old_key = stack().serviceSecret();
  const std::string new_key = "rotated-service-key-" + osago::newUuid();
  // Phase 1: the aggregators sign nothing but verify both keys; core-app still signs with the old one.
  std::string aggregator = stack().startExtraAggregator(
      "aggregator-rotating", {{"OSAGO_SERVICE_TOKEN_SECRET", new_key}, {"OSAGO_SERVICE_TOKEN_SECRET_ACCEPTED", old_key}});
  std::string core = stack().startExtraCore("core-rotating", aggregator);
  std::string why;
  EXPECT_EQ(quoteThroughCore(core, why), "COMPLETED") << "old key, rotating aggregator: " << why;
  // Phase 2: core-app restarted with the new key.
  stack().stop("core-rotating", SIGTERM);
  core = stack().startExtraCore("core-rotating", aggregator, {{"OSAGO_SERVICE_TOKEN_SECRET", new_key}});
  EXPECT_EQ(quoteThroughCore(core, why), "COMPLETED") << "new key, rotating aggregator: " << why;
  // Phase 3: the old key is dropped; the new one alone works, the old one is refused.
  stack().stop("aggregator-rotating", SIGTERM);
  aggregator = stack().startExtraAggregator("aggregator-rotating", {{"OSAGO_SERVICE_TOKEN_SECRET", new_key}});
  stack().stop("core-rotating", SIGTERM);
  core = stack().startExtraCore("core-rotating", aggregator, {{"OSAGO_SERVICE_TOKEN_SECRET", new_key}});
  EXPECT_EQ(quoteThroughCore(core, why), "COMPLETED") << "new key only: " << why;

  // A core-app left with the old key is told the aggregator is unavailable, never "sign in again",
  // and its log says why.
  std::string stale = stack().startExtraCore("core-stale", aggregator);
  auto refused = httpJson("POST", stale + "/api/osago/requests", quote(), login("rotation"));
  EXPECT_EQ(refused.status, 503) << refused.body.dump();
  EXPECT_EQ(refused.body.value("error", ""), "AGGREGATOR_UNAVAILABLE") << refused.body.dump();
  EXPECT_NE(fileText(stack().logDir() + "/core-stale.log").find("refused core-app's service token"), std::string::npos);

  stack().stop("core-stale", SIGTERM);
  stack().stop("core-rotating", SIGTERM);
  stack().stop("aggregator-rotating", SIGTERM);
}

// The services reach Kafka as the production overlay makes them: over mutual
// TLS, each as its own user with its ACLs (packaging/dev/stack.sh start_kafka).
// Offers reach the browser's stream through it; a core-app whose client
// certificate is of another CA never becomes ready and its log says why.
TEST(Security, TheServicesReachKafkaOverMutualTlsAsTheirOwnUsers) {
  auto aggregator_env = TestStack::kafkaTlsEnv("osago-aggregator");
  aggregator_env["OSAGO_AGGREGATOR__KAFKA__CREATE_TOPIC"] = "false";  // its user may not create topics
  std::string aggregator = stack().startExtraAggregator("aggregator-kafka-tls", aggregator_env);
  auto ready = httpJson("GET", aggregator + "/health/ready");
  EXPECT_EQ(ready.status, 200) << ready.body.dump();
  EXPECT_EQ(ready.body.value("kafka", ""), "UP") << ready.body.dump();
  std::string core = stack().startExtraCore("core-kafka-tls", aggregator, TestStack::kafkaTlsEnv("osago-core-app"));

  std::string token = login("kafka-tls");
  auto created = httpJson("POST", core + "/api/osago/requests", quote(), token);
  ASSERT_EQ(created.status, 201) << created.body.dump();
  std::string id = created.body["osagoRequestId"];
  auto [status, events] = readEventStream(core + "/api/osago/requests/" + id + "/stream", token,
                                          std::chrono::seconds(TestStack::kDeadlineSeconds + 15));
  ASSERT_EQ(status, 200);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.front().type, "snapshot");
  EXPECT_EQ(events.back().type, "end");
  EXPECT_EQ(events.back().data.value("reason", ""), "COMPLETED");
  // What came after the snapshot came from the topic, read over TLS as osago-core-app.
  auto live = std::count_if(events.begin(), events.end(), [](const SseEvent& e) { return e.type == "company"; });
  EXPECT_GE(live, 1) << "no event reached the stream through Kafka";

  std::string rogue = stack().spawnExtraCore("core-kafka-rogue", aggregator, TestStack::kafkaTlsEnv("rogue"));
  const std::string log = stack().logDir() + "/core-kafka-rogue.log";
  auto until = std::chrono::steady_clock::now() + 40s;
  while (std::chrono::steady_clock::now() < until && fileText(log).find("Kafka not ready yet") == std::string::npos)
    std::this_thread::sleep_for(250ms);
  std::string text = fileText(log);
  EXPECT_NE(text.find("Kafka not ready yet"), std::string::npos) << text.substr(0, 2000);
  EXPECT_NE(text.find("ssl with the certificate"), std::string::npos) << text.substr(0, 2000);
  EXPECT_NE(text.find("last error:"), std::string::npos) << text.substr(0, 2000);
  int probe_status = 0;
  try {
    osago::http::ClientRequest probe;
    probe.url = rogue + "/health/ready";
    probe.timeout = 500ms;
    probe_status = osago::http::call(probe).status;
  } catch (const osago::http::ClientError&) {
  }
  EXPECT_NE(probe_status, 200) << "a core-app without a trusted certificate says it is ready";

  stack().stop("core-kafka-rogue", SIGTERM);
  stack().stop("core-kafka-tls", SIGTERM);
  stack().stop("aggregator-kafka-tls", SIGTERM);
}

TEST(Security, PartnerCallsGoOverVerifiedHttps) {
  PolisnetManifest manifest;
  ASSERT_NE(manifest.original().find("baseUrl: \"https://"), std::string::npos) << manifest.original();
  auto before = quoteDirectly();
  EXPECT_EQ(before["severny-shchit"]["status"], "COMPLETED") << "over HTTPS, verified with the stack's CA: "
                                                             << before["severny-shchit"].dump();

  // A partner whose certificate no trusted CA signed: nothing is sent, the company fails as unavailable.
  std::string rogue = stack().startExtraSimulator("rogue-simulator", stack().tlsDir() + "/rogue.pem",
                                                  stack().tlsDir() + "/rogue-key.pem");
  manifest.serve(manifest.withSevernyAt(rogue));
  auto rogue_view = quoteDirectly();
  EXPECT_EQ(rogue_view["severny-shchit"]["status"], "FAILED") << rogue_view["severny-shchit"].dump();
  EXPECT_EQ(rogue_view["severny-shchit"]["error"]["code"], "PARTNER_UNAVAILABLE") << rogue_view["severny-shchit"].dump();
  EXPECT_EQ(rogue_view["ural-polis"]["status"], "COMPLETED") << "the other companies are untouched";
  std::string log = fileText(stack().logDir() + "/osago-aggregator.log");
  auto port = rogue.substr(rogue.rfind(':'));
  auto tls_line = log.find("failed: TLS: ");
  EXPECT_NE(tls_line, std::string::npos) << "a log line names TLS";
  EXPECT_NE(log.find(port + "/severny-shchit/osago/applications failed: TLS: "), std::string::npos)
      << "…and the partner's address";
  stack().stop("rogue-simulator", SIGTERM);

  // Plain http:// to a partner is a manifest error, not a call.
  auto listing = manifest.serve(manifest.withSevernyAt(stack().simulatorUrl()));
  EXPECT_NE(listing.value("manifestError", "").find("plain http"), std::string::npos) << listing.dump();
  EXPECT_NE(listing.value("manifestError", "").find("severny-shchit"), std::string::npos) << listing.dump();
}

TEST(Security, APartnerTricklingItsAnswerIsCutAtTheWholeCallDeadline) {
  PartnerBehaviour trickle("severny-shchit", {{"mode", "trickle"}});
  // The client alone: each byte comes within any per-read timeout, so only a bound on the whole call ends it.
  osago::http::ClientRequest req;
  req.method = "POST";
  req.url = stack().simulatorTlsUrl() + "/severny-shchit/osago/applications";
  req.headers = {{"X-Api-Key", "k-severny"}};
  req.body = quote().dump();
  req.timeout = 1500ms;
  req.tls.ca_file = stack().tlsDir() + "/ca.pem";
  auto started = std::chrono::steady_clock::now();
  try {
    osago::http::call(req);
    ADD_FAILURE() << "a 12 s answer arrived within 1.5 s";
  } catch (const osago::http::ClientError& e) {
    EXPECT_TRUE(e.timedOut()) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, 6s) << "the answer trickles for 12 s";

  // In a quote: the submit is cut at the company's call budget (5 s), within the request's deadline.
  auto view = quoteDirectly();
  EXPECT_EQ(view["severny-shchit"]["status"], "FAILED") << view["severny-shchit"].dump();
  EXPECT_EQ(view["severny-shchit"]["error"]["code"], "PARTNER_TIMEOUT") << view["severny-shchit"].dump();
  EXPECT_EQ(view["ural-polis"]["status"], "COMPLETED");
}

TEST(Security, AnOversizedPartnerAnswerIsRefused) {
  PartnerBehaviour oversized("severny-shchit", {{"mode", "oversized"}});  // 8 MiB, over plugins.partner_http.max_response_kb
  auto view = quoteDirectly();
  EXPECT_EQ(view["severny-shchit"]["status"], "FAILED") << view["severny-shchit"].dump();
  EXPECT_EQ(view["severny-shchit"]["error"]["code"], "PARTNER_ERROR") << view["severny-shchit"].dump();
  EXPECT_NE(fileText(stack().logDir() + "/osago-aggregator.log").find("the response body is longer than 4194304 bytes"),
            std::string::npos);
  EXPECT_EQ(view["ural-polis"]["status"], "COMPLETED");
}

/// A request with `headers`; the status and the answer's headers (the body is read away).
std::pair<int, Poco::Net::NameValueCollection> rawCall(const std::string& method, const std::string& url,
                                                       const std::vector<std::pair<std::string, std::string>>& headers,
                                                       const std::string& body = {}) {
  Poco::URI uri(url);
  Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
  session.setTimeout(Poco::Timespan(5, 0));
  Poco::Net::HTTPRequest req(method, uri.getPathEtc(), Poco::Net::HTTPMessage::HTTP_1_1);
  for (const auto& [k, v] : headers) req.set(k, v);
  if (!body.empty()) {
    req.setContentType("application/json");
    req.setContentLength(static_cast<std::streamsize>(body.size()));
  }
  session.sendRequest(req) << body;
  Poco::Net::HTTPResponse resp;
  std::istream& in = session.receiveResponse(resp);
  if (resp.getStatus() != Poco::Net::HTTPResponse::HTTP_SWITCHING_PROTOCOLS) {
    std::string ignored((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  Poco::Net::NameValueCollection out;
  for (const auto& [k, v] : resp) out.add(k, v);
  return {static_cast<int>(resp.getStatus()), out};
}

TEST(Security, ThePageAllowsNoInlineScriptAndTheCookieIsSecureOverTls) {
  auto [status, page] = rawCall("GET", stack().coreUrl() + "/", {});
  ASSERT_EQ(status, 200);
  std::string csp = page.get("Content-Security-Policy", "");
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-eval"), std::string::npos) << csp;
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
  EXPECT_EQ(page.get("X-Frame-Options", ""), "DENY");
  EXPECT_FALSE(page.has("Strict-Transport-Security")) << "plain HTTP: no HSTS";
  // The page's own markup carries no inline script or handler that this policy would block.
  std::string html = fileText(OSAGO_TEST_SOURCE_DIR "/core-app/web/index.html");
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_EQ(html.find(" onclick="), std::string::npos);
  EXPECT_EQ(html.find(" style=\""), std::string::npos);

  const std::string login = R"({"userId": "tls-user"})";
  auto [plain_status, plain] = rawCall("POST", stack().coreUrl() + "/api/dev/login", {}, login);
  ASSERT_EQ(plain_status, 200);
  auto lower = [](std::string v) {
    std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
    return v;
  };
  EXPECT_EQ(lower(plain.get("Set-Cookie", "")).find("; secure"), std::string::npos) << plain.get("Set-Cookie", "");
  auto [tls_status, tls] = rawCall("POST", stack().coreUrl() + "/api/dev/login", {{"X-Forwarded-Proto", "https"}}, login);
  ASSERT_EQ(tls_status, 200);
  std::string cookie = lower(tls.get("Set-Cookie", ""));
  EXPECT_NE(cookie.find("; secure"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("; httponly"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("; samesite=strict"), std::string::npos) << cookie;
  EXPECT_NE(tls.get("Strict-Transport-Security", "").find("max-age="), std::string::npos);
}

TEST(Security, AWebSocketFromAnotherSitesPageIsRefused) {
  std::string token = login("origin-user");
  auto created = httpJson("POST", stack().coreUrl() + "/api/osago/requests", quote(), token);
  ASSERT_EQ(created.status, 201) << created.body.dump();
  std::string url = stack().coreUrl() + "/api/osago/requests/" + created.body["osagoRequestId"].get<std::string>() + "/ws";
  auto handshake = [&](const std::string& origin) {
    std::vector<std::pair<std::string, std::string>> h = {{"Upgrade", "websocket"}, {"Connection", "Upgrade"},
                                                           {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                                                           {"Sec-WebSocket-Version", "13"},
                                                           {"Authorization", "Bearer " + token}};
    if (!origin.empty()) h.emplace_back("Origin", origin);
    return rawCall("GET", url, h).first;
  };
  EXPECT_EQ(handshake("https://evil.example"), 403) << "another site's page riding on the driver's cookie";
  EXPECT_EQ(handshake("http://127.0.0.1:1"), 403) << "same host, another port: another origin";
  EXPECT_EQ(handshake(stack().coreUrl()), 101) << "the site's own page";
}

TEST(Security, MetricsAndHealthAreNotServedThroughTheIngress) {
  for (const char* path : {"/metrics", "/health/ready", "/health/live"}) {
    EXPECT_EQ(rawCall("GET", stack().coreUrl() + path, {}).first, 200) << path << " for probes and Prometheus";
    EXPECT_EQ(rawCall("GET", stack().coreUrl() + path, {{"X-Forwarded-For", "203.0.113.7"}}).first, 404) << path;
    EXPECT_EQ(rawCall("GET", stack().coreUrl() + path, {{"Forwarded", "for=203.0.113.7;proto=https"}}).first, 404)
        << path;
  }
  EXPECT_EQ(rawCall("GET", stack().coreUrl() + "/", {{"X-Forwarded-For", "203.0.113.7"}}).first, 200)
      << "the page itself is for the public";
}

}  // namespace
