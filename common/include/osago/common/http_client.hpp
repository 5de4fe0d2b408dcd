#pragma once

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace osago::http {

/// How the server of an https:// call is verified, and how we prove who we are.
struct TlsOptions {
  std::string ca_file;      ///< PEM bundle the server's chain must lead to; empty: the system's CA store
  std::string client_cert;  ///< PEM client certificate for mutual TLS (empty: none)
  std::string client_key;   ///< its PEM private key
};

/// One outgoing HTTP(S) call.
struct ClientRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type = "application/json";
  /// The whole call: name lookup, connect, TLS handshake, sending, waiting and
  /// reading the last byte. A server that trickles its answer is cut here.
  std::chrono::milliseconds timeout{1000};
  std::size_t max_body_bytes = 0;  ///< a response body longer than this fails the call (0: no limit)
  TlsOptions tls;
};

struct ClientResponse {
  int status = 0;
  std::string body;
  std::string content_type;
  std::string retry_after;
  std::string location;  ///< the Location header (redirects are never followed here)
};

/// Why a call produced no response.
class ClientError : public std::runtime_error {
 public:
  enum class Kind {
    kFailed,    ///< no connection, reset, malformed answer, bad URL
    kTimedOut,  ///< the whole-call timeout passed
    kTooLarge,  ///< the body was longer than ClientRequest::max_body_bytes
    kTls,       ///< the TLS handshake or the server's certificate failed
  };
  ClientError(Kind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  Kind kind() const { return kind_; }
  bool timedOut() const { return kind_ == Kind::kTimedOut; }
  bool tooLarge() const { return kind_ == Kind::kTooLarge; }

 private:
  Kind kind_;
};

/// Performs the call with libcurl (http:// and https:// only, redirects never
/// followed: a 3xx is an answer like any other). Connections are kept alive
/// and reused by any thread (at most 64 idle per server, none idle over 4 s);
/// TLS sessions and name lookups are shared. https:// verifies the server's
/// certificate and host name, always. Throws ClientError when no complete response arrives within `timeout`.
ClientResponse call(const ClientRequest& request);

}  // namespace osago::http
