#include <osago/common/http_client.hpp>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/StreamCopier.h>
#include <Poco/Timespan.h>
#include <Poco/Timestamp.h>
#include <Poco/URI.h>

#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <vector>

namespace osago::http {
namespace {

/// Idle keep-alive connections by host:port, so that a busy partner is not
/// paid a TCP handshake (and its server a new connection) per call.
class IdleConnections {
 public:
  using Session = std::unique_ptr<Poco::Net::HTTPClientSession>;

  /// A connection that was idle for less than kIdleLimit and that the server
  /// has not closed; nullptr when there is none.
  Session take(const std::string& key) {
    auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    auto& list = idle_[key];
    while (!list.empty()) {
      Idle idle = std::move(list.back());
      list.pop_back();
      // Readable while idle means the server closed it (or broke protocol): drop it.
      if (now - idle.since < kIdleLimit && !idle.session->socket().poll(0, Poco::Net::Socket::SELECT_READ))
        return std::move(idle.session);
    }
    return nullptr;
  }

  void giveBack(const std::string& key, Session session) {
    std::lock_guard lock(mutex_);
    auto& list = idle_[key];
    if (list.size() < kMaxIdlePerServer) list.push_back({std::move(session), std::chrono::steady_clock::now()});
  }

 private:
  // Below the keep-alive timeouts servers commonly use (Poco's is 10 s), so a
  // connection is rarely reused just as the server gives up on it.
  static constexpr std::chrono::seconds kIdleLimit{4};
  static constexpr std::size_t kMaxIdlePerServer = 64;
  struct Idle {
    Session session;
    std::chrono::steady_clock::time_point since;
  };
  std::mutex mutex_;
  std::map<std::string, std::vector<Idle>> idle_;
};

IdleConnections& idleConnections() {
  static IdleConnections pool;
  return pool;
}

}  // namespace

ClientResponse call(const ClientRequest& request) {
  Poco::URI uri;
  try {
    uri = Poco::URI(request.url);
  } catch (const Poco::Exception& e) {
    throw ClientError(false, "bad URL '" + request.url + "': " + e.displayText());
  }
  if (uri.getScheme() != "http") throw ClientError(false, "only http:// URLs are supported: " + request.url);
  try {
    std::string key = uri.getHost() + ":" + std::to_string(uri.getPort());
    Poco::Timespan timeout(std::chrono::duration_cast<std::chrono::microseconds>(request.timeout).count());
    auto connection = idleConnections().take(key);
    if (connection) {
      // The session's timeouts are applied to its socket only when it connects: set them on the open socket.
      connection->socket().setSendTimeout(timeout);
      connection->socket().setReceiveTimeout(timeout);
    } else {
      connection = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
    }
    Poco::Net::HTTPClientSession& session = *connection;
    session.setKeepAlive(true);
    session.setTimeout(timeout, timeout, timeout);
    std::string target = uri.getPathEtc().empty() ? "/" : uri.getPathEtc();
    Poco::Net::HTTPRequest req(request.method, target, Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& [name, value] : request.headers) req.set(name, value);
    if (!request.body.empty() || request.method == "POST" || request.method == "PUT") {
      req.setContentType(request.content_type);
      req.setContentLength(static_cast<std::streamsize>(request.body.size()));
    }
    session.sendRequest(req) << request.body;
    Poco::Net::HTTPResponse resp;
    std::istream& in = session.receiveResponse(resp);
    ClientResponse out;
    out.status = static_cast<int>(resp.getStatus());
    out.content_type = resp.getContentType();
    out.retry_after = resp.get("Retry-After", "");
    char chunk[65536];
    while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
      out.body.append(chunk, static_cast<std::size_t>(in.gcount()));
      if (request.max_body_bytes > 0 && out.body.size() > request.max_body_bytes)
        throw ClientError(false, request.method + " " + request.url + ": the response body is longer than " +
                                     std::to_string(request.max_body_bytes) + " bytes", true);
    }
    // Fully read and the server keeps it open: the next call to it may reuse it.
    if (resp.getKeepAlive()) idleConnections().giveBack(key, std::move(connection));
    return out;
  } catch (const Poco::TimeoutException& e) {
    throw ClientError(true, request.method + " " + request.url + " timed out after " +
                                std::to_string(request.timeout.count()) + " ms");
  } catch (const Poco::Exception& e) {
    throw ClientError(false, request.method + " " + request.url + " failed: " + e.displayText());
  }
}

}  // namespace osago::http
