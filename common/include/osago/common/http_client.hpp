#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace osago::http {

/// One outgoing HTTP call (plain http:// only).
struct ClientRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type = "application/json";
  std::chrono::milliseconds timeout{1000};
  std::size_t max_body_bytes = 0;  ///< a response body longer than this fails the call (0: no limit)
};

struct ClientResponse {
  int status = 0;
  std::string body;
  std::string content_type;
  std::string retry_after;
};

/// Why a call produced no response.
class ClientError : public std::runtime_error {
 public:
  ClientError(bool timed_out, const std::string& message, bool too_large = false)
      : std::runtime_error(message), timed_out_(timed_out), too_large_(too_large) {}
  bool timedOut() const { return timed_out_; }
  /// The response body was longer than ClientRequest::max_body_bytes.
  bool tooLarge() const { return too_large_; }

 private:
  bool timed_out_;
  bool too_large_;
};

/// Performs the call, on an idle keep-alive connection to the same server when
/// one is at hand (idle under 4 s and not closed by the server), else on a new
/// one; connect, send and receive are each bounded by `timeout`. Throws
/// ClientError when no response arrives; the connection is then dropped.
ClientResponse call(const ClientRequest& request);

}  // namespace osago::http
