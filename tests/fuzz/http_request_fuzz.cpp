// A request head as a client sends it, read by Poco as our servers read it,
// then the pieces our code takes from it: the path the router matches, the
// query parameters streams resume from (lastEventId, fromSeq), the seq they
// stand for, the bearer token and the session cookie. Properties: a bad head
// is a MessageException (Poco answers 400); a bad query is our HttpError 400
// BAD_URI and nothing else; a resume point is -1 or what the digits say; the
// bearer token is the tail of its header.
#include "fuzz_support.hpp"

#include "streaming/stream_relay.hpp"

#include <osago/common/http_server.hpp>

#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/NameValueCollection.h>
#include <Poco/Net/NetException.h>

#include <sstream>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::istringstream in(std::string(osago::fuzz::text(data, size)));
  Poco::Net::HTTPRequest request;
  try {
    request.read(in);
  } catch (const Poco::Net::MessageException&) {
    return 0;
  } catch (const Poco::Net::NoMessageException&) {
    return 0;
  }
  const std::string& uri = request.getURI();
  auto path = osago::http::requestPath(uri);
  for (const char* name : {"lastEventId", "fromSeq"}) {
    std::string value;
    try {
      value = osago::http::queryParameter(uri, name);
    } catch (const osago::http::HttpError& e) {
      OSAGO_FUZZ_CHECK(e.status() == 400 && e.code() == "BAD_URI", e.code());
      continue;
    }
    long long seq = osago::core::resumeSeq(value);
    OSAGO_FUZZ_CHECK(seq >= -1, value);
    if (seq >= 0) OSAGO_FUZZ_CHECK(std::to_string(seq).size() <= value.size(), value);
  }
  long long header_seq = osago::core::resumeSeq(request.get("Last-Event-ID", ""));
  OSAGO_FUZZ_CHECK(header_seq >= -1, request.get("Last-Event-ID", ""));

  std::string authorization = request.get("Authorization", "");
  std::string token = osago::http::bearerToken(authorization);
  if (!token.empty())
    OSAGO_FUZZ_CHECK(authorization.size() == token.size() + 7 && authorization.compare(7, std::string::npos, token) == 0,
                     authorization);
  Poco::Net::NameValueCollection cookies;
  request.getCookies(cookies);
  (void)cookies.get("osago_token", "");
  (void)path;
  return 0;
}
