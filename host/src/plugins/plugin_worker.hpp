#pragma once

#include "plugins/worker_protocol.hpp"

#include <nlohmann/json.hpp>

#include <osago/plugin_abi.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace osago::host {

/// The osago-plugin-worker next to this executable, else the packaged one.
std::string defaultWorkerBinary();

/// Counts what partner code tried and was refused in osago_plugin_denied_total
/// (`kind`: "syscall" from a worker's sandbox, "egress" from the host's HTTP allow-list).
void countDenied(const std::string& company, const std::string& kind);

/// How plugin worker processes are started and bounded (plugins.worker in the config).
struct WorkerLimits {
  std::string binary = defaultWorkerBinary();        ///< the osago-plugin-worker executable
  std::size_t memory_bytes = 512u << 20;             ///< RLIMIT_DATA of a worker
  int max_open_files = 64;                           ///< RLIMIT_NOFILE of a worker
  std::chrono::milliseconds load_timeout{5000};      ///< to load the library and create the instance
  std::chrono::milliseconds restart_initial{250};    ///< first restart delay after a death
  std::chrono::milliseconds restart_max{30000};      ///< restart delay cap (doubles per death in a row)
  std::size_t max_reply_bytes = 1u << 20;            ///< a plugin outcome larger than this is refused
  std::size_t max_http_body_bytes = 1u << 20;        ///< a request body a plugin may send
  bool sandbox = true;                               ///< seccomp: no files, sockets or processes of its own
};

/// What a plugin library says it is, as loaded by a worker.
struct PluginIdentity {
  std::string id, name, version;
  int abi_major = 0, abi_minor = 0;
  bool purchasable = false;  ///< its table has the purchase entries (OSAGO_PLUGIN_PURCHASABLE)
};

/// One HTTP request a plugin asked the host to make.
struct HttpAsk {
  std::string method, url, body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::uint32_t timeout_ms = 0;
};

/// What the host answers to an HttpAsk (body and headers only when status is OK).
struct HttpAnswer {
  osago_status status = OSAGO_STATUS_TRANSIENT;
  int status_code = 0;
  std::string body, content_type, retry_after;
  bool sent = false;     ///< the request went out (it may have reached the partner)
  bool refused = false;  ///< the host refused it: a host outside the company's manifest
};

/// How one call in a worker ended.
struct WorkerCallResult {
  enum class Kind {
    kReturned,     ///< the plugin returned: status, replies, reply
    kHung,         ///< it overran its budget: the worker was killed
    kCrashed,      ///< the worker died while the call ran
    kUnavailable,  ///< no worker was running (restarting after a death): nothing was sent
  };
  Kind kind = Kind::kUnavailable;
  osago_status status = OSAGO_STATUS_INTERNAL;
  int replies = 0;
  std::string reply;
  std::string note;               ///< what the worker found wrong with the call (two replies, too large, ...)
  std::string detail;             ///< kCrashed/kUnavailable: what happened, for people
  int signal = 0;                 ///< kCrashed: the signal that ended the worker (0: it exited)
  bool culprit = false;           ///< kCrashed: the worker died in this call (or could not say in which)
  bool sent_http = false;         ///< a request of this call went out to the partner
  std::vector<std::string> denied;  ///< system calls the sandbox refused during the call
};

/// The worker's messages as the host reads them; each throws
/// wire::ProtocolError for a payload that breaks the format (the worker is then
/// killed). Values are bounded here: a status the ABI does not define becomes
/// OSAGO_STATUS_INTERNAL with a note, counts and timeouts are clamped.
PluginIdentity readReady(std::string_view payload);  ///< kReady
HttpAsk readHttpAsk(std::string_view payload);       ///< kHttp
WorkerCallResult readDone(std::string_view payload); ///< kDone

/// One supervised osago-plugin-worker process running one company's plugin
/// instance (see docs/architecture.md, "Plugin workers"). A monitor thread
/// starts the process, reads its frames, stderr and fault reports, and when
/// it dies ends the calls in flight and starts it again after a capped
/// backoff. Calls run on the caller's thread, which also makes the HTTP
/// requests the plugin asks for. Thread-safe.
class PluginWorker {
 public:
  struct Spec {
    /// The admitted, content-addressed copy, open and verified (VerifiedFile::fd()):
    /// the worker inherits this descriptor and loads the library from it, never by name.
    int library_fd = -1;
    std::string library_path;   ///< its name, for messages
    std::string company_id;
    std::string settings_json;
    std::map<std::string, std::string> secrets;  ///< this company's only
    int threads = 8;            ///< calls at once (the company's bulkhead)
    WorkerLimits limits;
  };
  using HttpBroker = std::function<HttpAnswer(const HttpAsk&)>;

  /// Starts the worker and waits until its instance is created. Throws
  /// PluginLoadError when the library cannot be loaded, create() fails, or
  /// the worker crashes or hangs while loading.
  explicit PluginWorker(Spec spec);
  /// Stops the monitor and kills the process.
  ~PluginWorker();
  PluginWorker(const PluginWorker&) = delete;
  PluginWorker& operator=(const PluginWorker&) = delete;

  /// Runs submit/poll in the worker until it returns, dies, or `deadline` (+
  /// a grace) passes; HTTP requests of the call go through `broker`.
  /// `traceparent` reaches the plugin in its osago_call (ABI 1.1). Never throws.
  WorkerCallResult call(const std::string& operation, const std::string& correlation_id,
                        std::chrono::system_clock::time_point deadline, const std::string& argument,
                        const HttpBroker& broker, const std::string& traceparent = {});

  /// Loads the library in a short-lived worker (nothing of it runs in this
  /// process) and returns what it says it is. Throws PluginLoadError.
  static PluginIdentity probe(int library_fd, const std::string& library_path, const WorkerLimits& limits);

  /// pid, state, restarts by reason, last exit: for the admin API.
  nlohmann::json describe() const;
  /// Whether a worker is running and serving calls now.
  bool up() const;

 private:
  struct PendingCall;
  struct Process;
  void monitorLoop();  ///< monitor() behind a catch-all barrier
  void monitor();
  /// Spawns a worker process (not yet initialised). Throws PluginLoadError.
  static std::shared_ptr<Process> startProcess(const WorkerLimits& limits, int threads, int library_fd);
  /// Reads the process's frames, faults and stderr until it dies or the worker stops.
  void serve(const std::shared_ptr<Process>& process);
  void readStderr(const std::shared_ptr<Process>& process, bool drain);
  void readFaults(const std::shared_ptr<Process>& process);
  void handleFrame(const std::shared_ptr<Process>& process, wire::Frame& frame);
  void died(const std::shared_ptr<Process>& process);
  void killProcess(const std::shared_ptr<Process>& process, const std::string& reason);
  /// Writes a frame on one of the process's sockets; false (and the process killed if it stopped reading) on failure.
  bool sendFrame(const std::shared_ptr<Process>& process, int fd, wire::FrameWriter& frame);

  Spec spec_;
  std::string log_name_;
  mutable std::mutex mutex_;  // everything below
  std::condition_variable changed_;
  enum class State { kStarting, kRunning, kRestarting, kStopped } state_ = State::kStarting;
  std::shared_ptr<Process> process_;
  std::map<std::uint64_t, std::shared_ptr<PendingCall>> calls_;
  std::string load_error_;           // of the first start
  bool first_start_done_ = false;
  std::map<std::string, long> restarts_;  // by reason
  nlohmann::json last_exit_;
  std::chrono::steady_clock::time_point next_start_{};
  int deaths_in_a_row_ = 0;
  bool stopping_ = false;
  std::thread monitor_;
};

}  // namespace osago::host
