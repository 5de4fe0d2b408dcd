#include <osago/common/http_client.hpp>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/StreamCopier.h>
#include <Poco/Timespan.h>
#include <Poco/Timestamp.h>
#include <Poco/URI.h>

#include <sstream>

namespace osago::http {

ClientResponse call(const ClientRequest& request) {
  Poco::URI uri;
  try {
    uri = Poco::URI(request.url);
  } catch (const Poco::Exception& e) {
    throw ClientError(false, "bad URL '" + request.url + "': " + e.displayText());
  }
  if (uri.getScheme() != "http") throw ClientError(false, "only http:// URLs are supported: " + request.url);
  try {
    Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
    Poco::Timespan timeout(std::chrono::duration_cast<std::chrono::microseconds>(request.timeout).count());
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
    std::ostringstream body;
    Poco::StreamCopier::copyStream(in, body);
    out.body = body.str();
    return out;
  } catch (const Poco::TimeoutException& e) {
    throw ClientError(true, request.method + " " + request.url + " timed out after " +
                                std::to_string(request.timeout.count()) + " ms");
  } catch (const Poco::Exception& e) {
    throw ClientError(false, request.method + " " + request.url + " failed: " + e.displayText());
  }
}

}  // namespace osago::http
