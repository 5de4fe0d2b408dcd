#include <osago/common/http_client.hpp>

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <map>
#include <mutex>
#include <vector>

namespace osago::http {
namespace {

/// libcurl's global state and what every handle shares: TLS sessions (a new
/// connection to a partner resumes its session instead of a full handshake)
/// and name lookups. Connections themselves stay with their handle (HandlePool):
/// libcurl does not support sharing them between concurrent threads.
class CurlGlobal {
 public:
  CurlGlobal() {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    share_ = curl_share_init();
    curl_share_setopt(share_, CURLSHOPT_LOCKFUNC, &CurlGlobal::lock);
    curl_share_setopt(share_, CURLSHOPT_UNLOCKFUNC, &CurlGlobal::unlock);
    curl_share_setopt(share_, CURLSHOPT_USERDATA, this);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  }
  // Never torn down: handles of threads still running at exit may use it.
  CURLSH* share() const { return share_; }

 private:
  static void lock(CURL*, curl_lock_data data, curl_lock_access, void* self) {
    static_cast<CurlGlobal*>(self)->mutexes_[static_cast<std::size_t>(data) % kLocks].lock();
  }
  static void unlock(CURL*, curl_lock_data data, void* self) {
    static_cast<CurlGlobal*>(self)->mutexes_[static_cast<std::size_t>(data) % kLocks].unlock();
  }
  static constexpr std::size_t kLocks = CURL_LOCK_DATA_LAST;
  CURLSH* share_ = nullptr;
  std::array<std::mutex, kLocks> mutexes_;
};

CurlGlobal& curlGlobal() {
  static auto* global = new CurlGlobal();
  return *global;
}

/// Easy handles with a kept-alive connection each, idle by server: a call
/// takes one that last talked to the same server (with the same TLS set-up)
/// and gives it back when the answer was read in full, like a pool of
/// connections. A server's idle connections are bounded in number and age,
/// so that a thread-per-connection server (Poco's) is not left holding
/// threads for callers long gone.
class HandlePool {
 public:
  CURL* take(const std::string& key) {
    auto now = std::chrono::steady_clock::now();
    std::vector<CURL*> stale;
    CURL* found = nullptr;
    {
      std::lock_guard lock(mutex_);
      auto& list = idle_[key];
      // The oldest first: those idle too long go (the server may be closing them), then the newest is reused.
      auto fresh = std::find_if(list.begin(), list.end(), [&](const Idle& i) { return now - i.since < kIdleLimit; });
      for (auto it = list.begin(); it != fresh; ++it) stale.push_back(it->handle);
      list.erase(list.begin(), fresh);
      if (!list.empty()) {
        found = list.back().handle;
        list.pop_back();
      }
    }
    for (CURL* h : stale) curl_easy_cleanup(h);
    if (!found) found = curl_easy_init();
    if (found) curl_easy_reset(found);  // the last call's options, not its connection
    return found;
  }

  void giveBack(const std::string& key, CURL* handle) {
    {
      std::lock_guard lock(mutex_);
      auto& list = idle_[key];
      if (list.size() < kMaxIdlePerServer) {
        list.push_back({handle, std::chrono::steady_clock::now()});
        return;
      }
    }
    curl_easy_cleanup(handle);
  }

 private:
  // Below the keep-alive timeouts servers commonly use (Poco's is 10 s), so a
  // connection is rarely reused just as the server gives up on it.
  static constexpr std::chrono::seconds kIdleLimit{4};
  static constexpr std::size_t kMaxIdlePerServer = 64;
  struct Idle {
    CURL* handle;
    std::chrono::steady_clock::time_point since;
  };
  std::mutex mutex_;
  std::map<std::string, std::vector<Idle>> idle_;
};

HandlePool& handlePool() {
  static auto* pool = new HandlePool();  // never torn down: threads may call until exit
  return *pool;
}

/// Which connections a handle may reuse: same server, same TLS set-up.
std::string poolKey(const ClientRequest& r) {
  auto scheme_end = r.url.find("://");
  auto host_end = r.url.find_first_of("/?#", scheme_end == std::string::npos ? 0 : scheme_end + 3);
  return r.url.substr(0, host_end) + "|" + r.tls.ca_file + "|" + r.tls.client_cert + "|" + r.tls.client_key;
}

struct Received {
  ClientResponse response;
  std::size_t limit = 0;
  bool too_large = false;
};

std::size_t onBody(char* data, std::size_t size, std::size_t count, void* user) {
  auto* r = static_cast<Received*>(user);
  std::size_t n = size * count;
  if (r->limit > 0 && r->response.body.size() + n > r->limit) {
    r->too_large = true;
    return 0;  // libcurl ends the transfer with CURLE_WRITE_ERROR
  }
  r->response.body.append(data, n);
  return n;
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t start = 0;
  while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start]))) ++start;
  return s.substr(start);
}

/// Keeps the headers of the final response (a 100 Continue starts a new set).
std::size_t onHeader(char* data, std::size_t size, std::size_t count, void* user) {
  auto* r = static_cast<Received*>(user);
  std::size_t n = size * count;
  std::string line(data, n);
  if (line.rfind("HTTP/", 0) == 0) {
    r->response.retry_after.clear();
    r->response.location.clear();
    return n;
  }
  auto colon = line.find(':');
  if (colon == std::string::npos) return n;
  std::string name = line.substr(0, colon);
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  if (name == "retry-after") r->response.retry_after = trim(line.substr(colon + 1));
  if (name == "location") r->response.location = trim(line.substr(colon + 1));
  return n;
}

bool isTlsFailure(CURLcode code) {
  switch (code) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED:
      return true;
    default:
      return false;
  }
}

/// curl_slist with its owner.
struct HeaderList {
  curl_slist* list = nullptr;
  ~HeaderList() { curl_slist_free_all(list); }
  void add(const std::string& line) { list = curl_slist_append(list, line.c_str()); }
};

}  // namespace

ClientResponse call(const ClientRequest& request) {
  const std::string what = request.method + " " + request.url.substr(0, 200);
  if (request.url.rfind("http://", 0) != 0 && request.url.rfind("https://", 0) != 0)
    throw ClientError(ClientError::Kind::kFailed, "only http:// and https:// URLs are supported: " + request.url.substr(0, 200));
  if (request.timeout.count() <= 0) throw ClientError(ClientError::Kind::kTimedOut, what + ": no time left for the call");
  HeaderList headers;
  for (const auto& [name, value] : request.headers) {
    // A header line ends at CR/LF: a value carrying one would smuggle another header in.
    if (name.empty() || name.find_first_of("\r\n: ") != std::string::npos || value.find_first_of("\r\n") != std::string::npos)
      throw ClientError(ClientError::Kind::kFailed, what + ": header '" + name.substr(0, 64) + "' is malformed or holds a line break");
    headers.add(name + ": " + value);
  }
  bool has_body = !request.body.empty() || request.method == "POST" || request.method == "PUT" || request.method == "PATCH";
  if (request.content_type.find_first_of("\r\n") != std::string::npos)
    throw ClientError(ClientError::Kind::kFailed, what + ": the content type holds a line break");
  if (has_body) headers.add("Content-Type: " + request.content_type);
  headers.add("Expect:");  // no 100-continue round trip before the body
  const std::string key = poolKey(request);
  CURL* curl = handlePool().take(key);
  if (!curl) throw ClientError(ClientError::Kind::kFailed, what + ": libcurl could not make a handle");
  curl_easy_setopt(curl, CURLOPT_SHARE, curlGlobal().share());
  Received received;
  received.limit = request.max_body_bytes;
  char error[CURL_ERROR_SIZE] = {0};

  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM for lookups in threads
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &onBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &received);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &onHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &received);
  curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, nullptr);  // bodies as sent: a size cap means bytes we hold
  curl_easy_setopt(curl, CURLOPT_MAXCONNECTS, 1L);  // one connection a handle: the pool counts them
  if (request.max_body_bytes > 0)
    curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(request.max_body_bytes));
  if (request.method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  if (has_body) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }
  // TLS: always verified, TLS 1.2 at least.
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(curl, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  if (!request.tls.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, request.tls.ca_file.c_str());
  if (!request.tls.client_cert.empty()) {
    curl_easy_setopt(curl, CURLOPT_SSLCERT, request.tls.client_cert.c_str());
    curl_easy_setopt(curl, CURLOPT_SSLKEY, request.tls.client_key.c_str());
  }

  CURLcode code = curl_easy_perform(curl);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  if (code == CURLE_OK) {
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    char* type = nullptr;
    curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type);
    received.response.status = static_cast<int>(status);
    if (type) received.response.content_type = type;
  }
  // A complete answer leaves the connection reusable; after a failure it goes with its handle.
  if (code == CURLE_OK)
    handlePool().giveBack(key, curl);
  else
    curl_easy_cleanup(curl);
  if (code != CURLE_OK) {
    std::string detail = error[0] ? std::string(error) : curl_easy_strerror(code);
    if (received.too_large || code == CURLE_FILESIZE_EXCEEDED)
      throw ClientError(ClientError::Kind::kTooLarge, what + ": the response body is longer than " +
                                                         std::to_string(request.max_body_bytes) + " bytes");
    if (code == CURLE_OPERATION_TIMEDOUT)
      throw ClientError(ClientError::Kind::kTimedOut,
                        what + " timed out after " + std::to_string(request.timeout.count()) + " ms (" + detail + ")");
    if (isTlsFailure(code)) throw ClientError(ClientError::Kind::kTls, what + " failed: TLS: " + detail);
    throw ClientError(ClientError::Kind::kFailed, what + " failed: " + detail);
  }
  return std::move(received.response);
}

}  // namespace osago::http
