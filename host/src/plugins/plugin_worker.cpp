#include "plugins/plugin_worker.hpp"

#include "plugins/plugin_library.hpp"

#include <osago/common/civil_date.hpp>
#include <osago/common/metrics.hpp>

#include <Poco/Logger.h>
#include <Poco/Timestamp.h>

#include <seccomp.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <filesystem>
#include <future>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace osago::host {
namespace {

using Steady = std::chrono::steady_clock;
using SystemClock = std::chrono::system_clock;

constexpr int kExitOutOfMemory = 86;  // plugin_worker_main.cpp
constexpr int kExitProtocol = 87;
constexpr std::size_t kStderrTail = 2048;
/// What a worker may write to the host each second over its control socket, fault pipe and
/// stderr together; beyond it the host stops reading until the next second (the worker's
/// writes block), so a flood costs the host no CPU.
constexpr std::size_t kOutputBytesPerSecond = 512 * 1024;
constexpr int kLinesPerSecond = 20;

std::string signalName(int signo) {
  const char* abbrev = ::sigabbrev_np(signo);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(signo);
}

std::string syscallName(long nr) {
  char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, static_cast<int>(nr));
  std::string out = name ? name : "system call " + std::to_string(nr);
  std::free(name);
  return out;
}

prometheus::Family<prometheus::Counter>& restartsMetric() {
  static auto& f = metrics::counter("osago_plugin_worker_restarts_total",
                                    "Plugin worker deaths by company and reason (crash, hung, out_of_memory, exit, "
                                    "protocol_error); each is followed by a restart");
  return f;
}

/// Forks every worker from one thread that lives as long as the process:
/// PR_SET_PDEATHSIG fires when the *thread* that forked exits, so a worker
/// forked from a short-lived thread would be killed with it.
class Spawner {
 public:
  static Spawner& instance() {
    static Spawner* s = new Spawner();  // never destroyed: workers may be spawned until exit
    return *s;
  }

  pid_t spawn(std::function<pid_t()> fork_and_exec) {
    std::packaged_task<pid_t()> task(std::move(fork_and_exec));
    auto result = task.get_future();
    {
      std::lock_guard lock(mutex_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
    return result.get();
  }

 private:
  Spawner() {
    std::thread([this] {
      while (true) {
        std::packaged_task<pid_t()> task;
        {
          std::unique_lock lock(mutex_);
          cv_.wait(lock, [this] { return !tasks_.empty(); });
          task = std::move(tasks_.front());
          tasks_.pop_front();
        }
        task();
      }
    }).detach();
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::packaged_task<pid_t()>> tasks_;
};

}  // namespace

void countDenied(const std::string& company, const std::string& kind) {
  static auto& f = metrics::counter("osago_plugin_denied_total",
                                    "What partner code tried and was refused, by company and kind (syscall: "
                                    "the worker's sandbox; egress: an HTTP host outside its manifest)");
  f.Add({{"company", company}, {"kind", kind}}).Increment();
}

std::string defaultWorkerBinary() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto beside = self.parent_path() / "osago-plugin-worker";
    if (std::filesystem::exists(beside, ec)) return beside.string();
  }
  return "/usr/lib/osago-aggregator/osago-plugin-worker";
}

/// One running worker process and the host's ends of its descriptors.
struct PluginWorker::Process {
  pid_t pid = -1;
  int sock = -1;   // control: kInit, kReady/kLoadFailed, kLog; its end is the worker's end
  int fault = -1;  // kFault / kDenied from the worker's signal handlers
  int err = -1;    // the worker's stderr and stdout
  std::vector<int> channels;       // one per call thread of the worker
  std::vector<int> free_channels;  // not in use by a call (PluginWorker::mutex_)
  std::size_t max_frame = 0;
  std::string kill_reason;            // set when the host killed it
  std::uint64_t hung_call = 0;        // the call whose overrun got it killed
  std::uint64_t fault_call = 0;       // the call the worker said it was dying in
  int fault_signal = -1;              // -1: no fault report
  std::string stderr_tail;
  std::string stderr_line;
  Steady::time_point started = Steady::now();
  Steady::time_point budget_second = Steady::now();
  std::size_t output_bytes_this_second = 0;  // control socket, fault pipe and stderr
  int lines_this_second = 0;
  long lines_dropped = 0;
  wire::FrameAssembler frames;
  wire::FrameAssembler faults{64};
  explicit Process(std::size_t max) : max_frame(max), frames(1u << 20) {}
  ~Process() {
    for (int fd : {sock, fault, err})
      if (fd >= 0) ::close(fd);
    for (int fd : channels) ::close(fd);
  }
};

/// A call in flight; `ended` (with `death`) when the worker died under it.
struct PluginWorker::PendingCall {
  std::uint64_t id = 0;
  std::shared_ptr<Process> process;
  std::mutex mutex;
  std::condition_variable cv;
  bool ended = false;
  WorkerCallResult death;  // filled when ended
};

namespace {

std::atomic<std::uint64_t> g_next_call_id{1};

/// The worker's descriptor of its library: after 0–4 and the call channels.
int libraryFdInWorker(int threads) { return 5 + threads; }

/// Starts osago-plugin-worker with an empty environment, its limits, fds 0–4,
/// a call channel per thread (5…) and the verified library after them.
pid_t forkWorker(const WorkerLimits& limits, int child_sock, int child_fault, int child_err,
                 const std::vector<int>& child_channels, int library_fd) {
  std::string binary = limits.binary;
  std::vector<char*> argv{binary.data(), nullptr};
  char* envp[] = {nullptr};
  rlimit data{limits.memory_bytes, limits.memory_bytes};
  // Its own descriptors (0–4, a call channel per thread, the library) do not count against the plugin's.
  auto files = static_cast<rlim_t>(limits.max_open_files) + 6 + child_channels.size();
  int channels = static_cast<int>(child_channels.size());
  int library_target = libraryFdInWorker(channels);
  const int* channel_fds = child_channels.data();
  rlimit nofile{files, files};
  rlimit core{0, 0};
  pid_t parent = ::getpid();
  return Spawner::instance().spawn([&]() -> pid_t {
    pid_t pid = ::fork();
    if (pid != 0) return pid;
    // The child: only async-signal-safe calls until execve.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    // When memory runs short (a pod's limit), the kernel kills a runaway worker, not its host.
    int oom = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (oom >= 0) {
      ssize_t ignored = ::write(oom, "1000", 4);
      (void)ignored;
      ::close(oom);
    }
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(child_err, 1);
    ::dup2(child_err, 2);
    ::dup2(child_sock, 3);
    ::dup2(child_fault, 4);
    for (int i = 0; i < channels; ++i) ::dup2(channel_fds[i], 5 + i);
    if (library_fd >= 0) ::dup2(library_fd, library_target);  // dup2 clears close-on-exec on the copy
    ::close_range(static_cast<unsigned>(library_target + 1), ~0U, 0);
#ifndef OSAGO_SANITIZED
    ::setrlimit(RLIMIT_DATA, &data);  // a sanitizer's shadow memory (terabytes of address space) cannot live under it
#else
    (void)data;
#endif
    ::setrlimit(RLIMIT_NOFILE, &nofile);
    ::setrlimit(RLIMIT_CORE, &core);
    ::prctl(PR_SET_DUMPABLE, 0);
    ::execve(argv[0], argv.data(), envp);
    ::_exit(127);
  });
}

}  // namespace

std::shared_ptr<PluginWorker::Process> PluginWorker::startProcess(const WorkerLimits& limits, int threads, int library_fd) {
  auto fail = [](const std::string& what) {
    return PluginLoadError("cannot create " + what + " for the plugin worker: " + std::string(std::strerror(errno)));
  };
  std::size_t max_frame = std::max(limits.max_reply_bytes, limits.max_http_body_bytes) + (256u << 10);
  auto p = std::make_shared<Process>(max_frame);
  // The child's ends go above every descriptor number they are dup2'd to (2–4
  // and 5…), so none is overwritten before it is copied. Closed on every path.
  int floor = 5 + threads + 16;
  std::vector<int> child_ends;
  struct CloseAll {
    std::vector<int>& fds;
    ~CloseAll() {
      for (int fd : fds) ::close(fd);
    }
  } close_children{child_ends};
  auto child_end = [&](int fd) {
    int high = ::fcntl(fd, F_DUPFD_CLOEXEC, floor);
    ::close(fd);
    if (high < 0) throw fail("descriptors");
    child_ends.push_back(high);
    return high;
  };
  int sv[2], fault[2], err[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw fail("a socket");
  p->sock = sv[0];
  int child_sock = child_end(sv[1]);
  if (::pipe2(fault, O_CLOEXEC) != 0) throw fail("a pipe");
  p->fault = fault[0];
  int child_fault = child_end(fault[1]);
  if (::pipe2(err, O_CLOEXEC) != 0) throw fail("a pipe");
  p->err = err[0];
  int child_err = child_end(err[1]);
  std::vector<int> child_channels;
  timeval send_timeout{2, 0};  // a worker that stops reading its socket is broken
  for (int i = 0; i < threads; ++i) {
    int ch[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ch) != 0) throw fail("call channels");
    p->channels.push_back(ch[0]);
    ::setsockopt(ch[0], SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
    child_channels.push_back(child_end(ch[1]));
  }
  p->free_channels = p->channels;
  ::fcntl(p->fault, F_SETFL, O_NONBLOCK);
  ::fcntl(p->err, F_SETFL, O_NONBLOCK);
  ::setsockopt(p->sock, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
  // The library goes above the numbers it and the channels are dup2'd to, like the other ends.
  int child_library = -1;
  if (library_fd >= 0) {
    child_library = ::fcntl(library_fd, F_DUPFD_CLOEXEC, floor);
    if (child_library < 0) throw fail("descriptors");
    child_ends.push_back(child_library);
  }
  p->pid = forkWorker(limits, child_sock, child_fault, child_err, child_channels, child_library);
  if (p->pid < 0) throw fail("a process");
  return p;
}

namespace {

/// Reads what is there on a non-blocking `fd` into `out`, at most `limit` bytes; false at end of stream.
bool readSome(int fd, std::string& out, std::size_t limit) {
  char buf[65536];
  std::size_t total = 0;
  while (total < limit) {
    ssize_t r = ::recv(fd, buf, std::min(sizeof buf, limit - total), MSG_DONTWAIT);
    if (r < 0 && errno == ENOTSOCK) r = ::read(fd, buf, std::min(sizeof buf, limit - total));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
    if (r == 0) return false;
    out.append(buf, static_cast<std::size_t>(r));
    total += static_cast<std::size_t>(r);
  }
  return true;
}

std::string exitText(int status, const WorkerLimits& limits, std::string& reason, int& signal) {
  signal = 0;
  if (WIFSIGNALED(status)) {
    signal = WTERMSIG(status);
    reason = "crash";
    return "killed by " + signalName(signal);
  }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (code == kExitOutOfMemory) {
    reason = "out_of_memory";
    return "ran out of memory (limit " + std::to_string(limits.memory_bytes >> 20) + " MiB)";
  }
  if (code == kExitProtocol) {
    reason = "protocol_error";
    return "broke the worker protocol";
  }
  if (code == 127) {
    reason = "exit";
    return "could not be started: is " + limits.binary + " there (plugins.worker.binary)?";
  }
  reason = "exit";
  return "exited with status " + std::to_string(code);
}

}  // namespace

PluginWorker::PluginWorker(Spec spec) : spec_(std::move(spec)), log_name_("plugin." + spec_.company_id) {
  // Every reason's series from the start: a rate of restarts is 0, not absent (alerts and dashboards query it).
  if (!spec_.company_id.empty())
    for (const char* reason : {"crash", "hung", "out_of_memory", "exit", "protocol_error", "killed"})
      restartsMetric().Add({{"company", spec_.company_id}, {"reason", reason}});
  monitor_ = std::thread([this] { monitorLoop(); });
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return first_start_done_; });
  if (!load_error_.empty()) {
    lock.unlock();
    monitor_.join();
    throw PluginLoadError(load_error_);
  }
}

PluginWorker::~PluginWorker() {
  std::shared_ptr<Process> p;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    p = process_;
  }
  changed_.notify_all();
  if (p) killProcess(p, "stopped by the host");
  if (monitor_.joinable()) monitor_.join();
}

namespace {

/// The worker died before it said it was ready.
class WorkerDied : public PluginLoadError {
 public:
  using PluginLoadError::PluginLoadError;
};

/// Sends kInit and waits for kReady/kLoadFailed. Throws PluginLoadError.
PluginIdentity handshake(int sock, const std::string& mode, const PluginWorker::Spec& spec,
                         const std::function<void(wire::Frame&)>& on_log) {
  wire::FrameWriter init(wire::Type::kInit, 0);
  // The worker loads what the host verified: the descriptor it inherited, not a name.
  init.str(mode).str("/proc/self/fd/" + std::to_string(libraryFdInWorker(spec.threads))).str(spec.company_id)
      .str(spec.settings_json);
  init.i64(static_cast<std::int64_t>(spec.secrets.size()));
  for (const auto& [k, v] : spec.secrets) init.str(k).str(v);
  init.i64(spec.threads)
      .i64(static_cast<std::int64_t>(spec.limits.max_reply_bytes))
      .i64(static_cast<std::int64_t>(spec.limits.max_http_body_bytes))
      .i64(spec.limits.sandbox ? 1 : 0);
  if (!wire::writeAll(sock, init.bytes())) throw WorkerDied("the plugin worker died before it was set up");
  wire::FrameAssembler frames(1u << 20);
  auto until = Steady::now() + spec.limits.load_timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Steady::now()).count();
    if (left <= 0)
      throw PluginLoadError("did not finish loading within " + std::to_string(spec.limits.load_timeout.count()) +
                            " ms (plugins.worker.load_timeout_ms): its entry point or create() hangs");
    pollfd pfd{sock, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left)) <= 0) continue;
    std::string bytes;
    bool open = readSome(sock, bytes, 1u << 20);
    try {
      frames.feed(bytes.data(), bytes.size());
      wire::Frame f;
      while (frames.next(f)) {
        if (f.type == wire::Type::kReady) return readReady(f.payload);
        if (f.type == wire::Type::kLoadFailed) throw PluginLoadError(std::string(wire::FrameReader(f.payload).str()));
        if (f.type == wire::Type::kLog) on_log(f);
      }
    } catch (const wire::ProtocolError& e) {
      throw PluginLoadError(std::string("broke the worker protocol while loading: ") + e.what());
    }
    if (!open) throw WorkerDied("the plugin worker died while loading the plugin");
  }
}

/// Kills a worker's process group and reaps it; returns the wait status.
int killAndReap(pid_t pid) {
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

std::string lastLine(const std::string& tail) {
  auto end = tail.find_last_not_of('\n');
  if (end == std::string::npos) return "";
  auto start = tail.rfind('\n', end);
  return tail.substr(start == std::string::npos ? 0 : start + 1, end + 1 - (start == std::string::npos ? 0 : start + 1));
}

}  // namespace

PluginIdentity PluginWorker::probe(int library_fd, const std::string& library_path, const WorkerLimits& limits) {
  Spec spec;
  spec.library_fd = library_fd;
  spec.library_path = library_path;
  spec.threads = 0;
  spec.limits = limits;
  spec.limits.sandbox = false;  // it only loads the library, says what it is and exits
  auto p = startProcess(limits, 0, library_fd);
  try {
    auto id = handshake(p->sock, "probe", spec, [](wire::Frame&) {});
    killAndReap(p->pid);
    return id;
  } catch (const WorkerDied& e) {
    int status = killAndReap(p->pid);
    std::string reason, tail;
    int sig = 0;
    readSome(p->err, tail, 64u << 10);
    std::string message = std::string(e.what()) + ": " + exitText(status, limits, reason, sig);
    if (!lastLine(tail).empty()) message += "; its stderr ends: " + lastLine(tail).substr(0, 300);
    throw PluginLoadError(message);
  } catch (const PluginLoadError&) {
    killAndReap(p->pid);
    throw;
  }
}

void PluginWorker::monitorLoop() {
  try {
    monitor();
  } catch (const std::exception& e) {
    // The edge of the monitor's thread (a bug, or no memory for a thread or a pipe): the
    // company's calls then fail fast as PLUGIN_RESTARTING instead of the host ending.
    metrics::countBarrier("aggregator.plugin_worker_monitor");
    Poco::Logger::get(log_name_).error(std::string("the plugin worker's monitor stopped (a bug): ") + e.what());
    std::lock_guard lock(mutex_);
    if (process_ && process_->pid > 0) {
      ::kill(-process_->pid, SIGKILL);
      ::kill(process_->pid, SIGKILL);
    }
    process_.reset();
    state_ = State::kStopped;
    if (!first_start_done_) {
      first_start_done_ = true;
      load_error_ = std::string("the plugin worker's monitor failed: ") + e.what();
    }
    changed_.notify_all();
  }
}

void PluginWorker::monitor() {
  auto& log = Poco::Logger::get(log_name_);
  while (true) {
    std::shared_ptr<Process> p;
    std::string error;
    try {
      p = startProcess(spec_.limits, spec_.threads, spec_.library_fd);
      handshake(p->sock, "serve", spec_, [&](wire::Frame& f) { handleFrame(p, f); });
    } catch (const PluginLoadError& e) {
      error = e.what();
      if (p) {
        int status = killAndReap(p->pid);
        readStderr(p, true);
        if (dynamic_cast<const WorkerDied*>(&e)) {
          std::string reason;
          int sig = 0;
          error += ": " + exitText(status, spec_.limits, reason, sig);
        }
        if (!lastLine(p->stderr_tail).empty()) error += "; its stderr ends: " + lastLine(p->stderr_tail).substr(0, 300);
        p->pid = -1;
      }
    }
    {
      std::lock_guard lock(mutex_);
      if (!first_start_done_) {
        first_start_done_ = true;
        if (!error.empty()) {
          load_error_ = error;
          state_ = State::kStopped;
          changed_.notify_all();
          return;
        }
      }
      if (error.empty()) {
        process_ = p;
        state_ = State::kRunning;
      } else {
        ++restarts_["load_failed"];
        last_exit_ = {{"at", isoUtc(std::chrono::system_clock::now())}, {"reason", "load_failed"}, {"message", error}};
      }
    }
    changed_.notify_all();
    if (error.empty()) {
      log.information("plugin worker started (pid " + std::to_string(p->pid) + ")");
      serve(p);
      died(p);
    } else {
      log.error("cannot start the plugin worker again: " + error);
    }
    std::unique_lock lock(mutex_);
    process_.reset();
    if (stopping_) {
      state_ = State::kStopped;
      return;
    }
    state_ = State::kRestarting;
    if (p && error.empty() && Steady::now() - p->started > std::chrono::seconds(60)) deaths_in_a_row_ = 0;
    std::chrono::milliseconds delay = spec_.limits.restart_initial * (1LL << std::min(deaths_in_a_row_, 16));
    delay = std::min(delay, spec_.limits.restart_max);
    ++deaths_in_a_row_;
    next_start_ = Steady::now() + delay;
    changed_.wait_until(lock, next_start_, [this] { return stopping_; });
    if (stopping_) {
      state_ = State::kStopped;
      return;
    }
    state_ = State::kStarting;
  }
}

void PluginWorker::serve(const std::shared_ptr<Process>& p) {
  bool fault_open = true, err_open = true;
  while (true) {
    auto now = Steady::now();
    if (now - p->budget_second >= std::chrono::seconds(1)) {
      if (p->lines_dropped > 0)
        Poco::Logger::get(log_name_).warning(std::to_string(p->lines_dropped) +
                                             " lines of the plugin's output dropped (over " +
                                             std::to_string(kLinesPerSecond) + " a second)");
      p->budget_second = now;
      p->output_bytes_this_second = 0;
      p->lines_this_second = 0;
      p->lines_dropped = 0;
    }
    // Over its output budget the worker's writes block (full socket or pipe) instead of costing the
    // host CPU; its death, if it comes, is then noticed at the next second (its calls see it at once).
    std::size_t left = kOutputBytesPerSecond - std::min(kOutputBytesPerSecond, p->output_bytes_this_second);
    bool wanted = left > 0;
    pollfd fds[3] = {{wanted ? p->sock : -1, POLLIN, 0},
                     {wanted && fault_open ? p->fault : -1, POLLIN, 0},
                     {wanted && err_open ? p->err : -1, POLLIN, 0}};
    int n = ::poll(fds, 3, 250);
    if (n < 0 && errno != EINTR) return;
    if (n <= 0) continue;
    if (fds[1].revents) {
      std::string bytes;
      fault_open = readSome(p->fault, bytes, std::min<std::size_t>(4096, left));
      p->output_bytes_this_second += bytes.size();
      try {
        p->faults.feed(bytes.data(), bytes.size());
        readFaults(p);
      } catch (const wire::ProtocolError& e) {
        killProcess(p, std::string("wrote garbage to its fault pipe: ") + e.what());
        return;
      }
    }
    if (fds[2].revents) {
      std::string bytes;
      err_open = readSome(p->err, bytes, left);
      p->output_bytes_this_second += bytes.size();
      p->stderr_line += bytes;
      readStderr(p, false);
    }
    if (fds[0].revents) {
      std::string bytes;
      bool open = readSome(p->sock, bytes, left);
      p->output_bytes_this_second += bytes.size();
      try {
        p->frames.feed(bytes.data(), bytes.size());
        wire::Frame f;
        while (p->frames.next(f)) handleFrame(p, f);
      } catch (const wire::ProtocolError& e) {
        killProcess(p, std::string("broke the worker protocol: ") + e.what());
        return;
      }
      if (!open) return;
    }
  }
}

PluginIdentity readReady(std::string_view payload) {
  wire::FrameReader r(payload);
  PluginIdentity id;
  id.id = std::string(r.str());
  id.name = std::string(r.str());
  id.version = std::string(r.str());
  auto major = r.i64(), minor = r.i64();
  if (major < 0 || major > 0xFFFF || minor < 0 || minor > 0xFFFF) throw wire::ProtocolError("ABI version out of range");
  id.abi_major = static_cast<int>(major);
  id.abi_minor = static_cast<int>(minor);
  id.purchasable = !r.atEnd() && r.i64() == 1;
  return id;
}

HttpAsk readHttpAsk(std::string_view payload) {
  wire::FrameReader r(payload);
  HttpAsk ask;
  ask.method = std::string(r.str());
  ask.url = std::string(r.str());
  auto headers = r.i64();
  if (headers < 0 || headers > 64) throw wire::ProtocolError("too many headers");
  for (std::int64_t i = 0; i < headers; ++i) {
    std::string name(r.str());
    ask.headers.emplace_back(std::move(name), std::string(r.str()));
  }
  ask.body = std::string(r.str());
  ask.timeout_ms = static_cast<std::uint32_t>(std::clamp<std::int64_t>(r.i64(), 0, 600000));
  return ask;
}

WorkerCallResult readDone(std::string_view payload) {
  wire::FrameReader r(payload);
  WorkerCallResult done;
  done.kind = WorkerCallResult::Kind::kReturned;
  auto status = r.i64();
  auto replies = r.i64();
  done.reply = std::string(r.str());
  done.note = std::string(r.str());
  // The plugin's status as the worker saw it: one the ABI does not define is
  // the plugin's error, never an enum value out of range.
  if (status >= OSAGO_STATUS_OK && status <= OSAGO_STATUS_TIMEOUT) {
    done.status = static_cast<osago_status>(status);
  } else {
    done.status = OSAGO_STATUS_INTERNAL;
    done.note = "returned status " + std::to_string(status) + ", which the ABI does not define" +
                (done.note.empty() ? "" : "; " + done.note);
  }
  done.replies = static_cast<int>(std::clamp<std::int64_t>(replies, 0, 1000));
  auto denied = r.i64();
  if (denied < 0 || denied > 64) throw wire::ProtocolError("bad count of refused system calls");
  for (std::int64_t i = 0; i < denied; ++i) done.denied.push_back(syscallName(static_cast<long>(r.i64())));
  return done;
}

void PluginWorker::readFaults(const std::shared_ptr<Process>& p) {
  wire::Frame f;
  while (p->faults.next(f)) {
    wire::FrameReader r(f.payload);
    auto value = r.i64();
    if (f.type == wire::Type::kFault) {
      std::lock_guard lock(mutex_);
      p->fault_call = f.call_id;
      p->fault_signal = static_cast<int>(value);
    } else if (f.type == wire::Type::kDenied) {
      std::string name = syscallName(static_cast<long>(value));
      countDenied(spec_.company_id, "syscall");
      if (p->lines_this_second++ < kLinesPerSecond)
        Poco::Logger::get(log_name_).warning("the sandbox refused the plugin's system call " + name +
                                             " (plugins may not open files or sockets, or start processes)");
    } else {
      throw wire::ProtocolError("unexpected frame on the fault pipe");
    }
  }
}

void PluginWorker::readStderr(const std::shared_ptr<Process>& p, bool drain) {
  if (drain) {
    std::string bytes;
    readSome(p->err, bytes, 64u << 10);
    p->stderr_line += bytes;
  }
  auto& log = Poco::Logger::get(log_name_);
  std::size_t start = 0;
  while (true) {
    auto end = p->stderr_line.find('\n', start);
    bool whole = end != std::string::npos;
    if (!whole && !(drain || p->stderr_line.size() - start > 512)) break;
    if (!whole) end = std::min(p->stderr_line.size(), start + 512);
    if (end == start && !whole) break;
    std::string line = p->stderr_line.substr(start, std::min<std::size_t>(end - start, 512));
    start = whole ? end + 1 : end;
    p->stderr_tail += line + "\n";
    if (p->stderr_tail.size() > kStderrTail) p->stderr_tail.erase(0, p->stderr_tail.size() - kStderrTail);
    if (p->lines_this_second++ < kLinesPerSecond)
      log.warning("stderr: " + line);
    else
      ++p->lines_dropped;
  }
  p->stderr_line.erase(0, start);
}

void PluginWorker::handleFrame(const std::shared_ptr<Process>& p, wire::Frame& f) {
  switch (f.type) {
    case wire::Type::kLog: {
      wire::FrameReader r(f.payload);
      auto level = r.i64();
      std::string text(r.str().substr(0, 4096));  // the worker truncates too, but it is not trusted
      if (p->lines_this_second++ >= kLinesPerSecond) {
        ++p->lines_dropped;
        return;
      }
      auto& log = Poco::Logger::get(log_name_);
      switch (level) {
        case OSAGO_LOG_DEBUG: log.debug(text); break;
        case OSAGO_LOG_INFO: log.information(text); break;
        case OSAGO_LOG_WARNING: log.warning(text); break;
        default: log.error(text); break;
      }
      return;
    }
    default:
      throw wire::ProtocolError("unexpected frame type " + std::to_string(static_cast<int>(f.type)));
  }
}

void PluginWorker::killProcess(const std::shared_ptr<Process>& p, const std::string& reason) {
  std::lock_guard lock(mutex_);
  if (p->pid <= 0) return;  // already reaped
  if (p->kill_reason.empty()) p->kill_reason = reason;
  // New calls wait for the next process instead of going to one that is dying.
  if (process_ == p && state_ == State::kRunning) {
    state_ = State::kRestarting;
    next_start_ = Steady::now() + spec_.limits.restart_initial;
  }
  ::kill(-p->pid, SIGKILL);
  ::kill(p->pid, SIGKILL);
}

bool PluginWorker::sendFrame(const std::shared_ptr<Process>& p, int fd, wire::FrameWriter& frame) {
  const auto& bytes = frame.bytes();
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t w = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) killProcess(p, "stopped reading its socket");
      return false;
    }
    done += static_cast<std::size_t>(w);
  }
  return true;
}

void PluginWorker::died(const std::shared_ptr<Process>& p) {
  pid_t pid = p->pid;
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
  // Wait for the exit without reaping: until the pid is forgotten below, it cannot be
  // reused, so a late killProcess() can never signal a stranger.
  siginfo_t exited{};
  while (::waitid(P_PID, static_cast<id_t>(pid), &exited, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
  }
  {
    std::lock_guard lock(mutex_);
    p->pid = -1;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string more;
  readSome(p->fault, more, 4096);
  try {
    p->faults.feed(more.data(), more.size());
    readFaults(p);
  } catch (const wire::ProtocolError&) {
  }
  readStderr(p, true);
  std::string reason;
  int sig = 0;
  std::string what = exitText(status, spec_.limits, reason, sig);
  std::lock_guard lock(mutex_);
  bool stopped = stopping_ && !p->hung_call;
  if (!p->kill_reason.empty()) {
    what = "was killed by the host: " + p->kill_reason;
    reason = p->hung_call ? "hung" : (p->kill_reason.find("protocol") != std::string::npos ? "protocol_error" : "killed");
  } else if (p->fault_signal > 0) {
    what = "died of " + signalName(p->fault_signal);
  } else if (p->fault_signal == 0 && reason == "out_of_memory") {
    what = exitText(status, spec_.limits, reason, sig);
  }
  bool named = p->fault_signal >= 0 && p->fault_call != 0;
  int calls_cut = 0;
  for (auto it = calls_.begin(); it != calls_.end();) {
    auto pc = it->second;
    if (pc->process != p) {
      ++it;
      continue;
    }
    WorkerCallResult r;
    r.kind = WorkerCallResult::Kind::kCrashed;
    r.signal = p->fault_signal > 0 ? p->fault_signal : sig;
    r.culprit = p->hung_call ? false : (named ? pc->id == p->fault_call : true);
    r.detail = r.culprit ? "the plugin's worker " + what + (named ? " in this call" : " while this call ran")
                         : "the plugin's worker " + what + " in another call; this call was cut short";
    {
      std::lock_guard call_lock(pc->mutex);
      pc->death = std::move(r);
      pc->ended = true;
    }
    pc->cv.notify_all();
    ++calls_cut;
    it = calls_.erase(it);
  }
  if (stopped) return;
  ++restarts_[reason];
  restartsMetric().Add({{"company", spec_.company_id}, {"reason", reason}}).Increment();
  last_exit_ = {{"pid", pid},
                {"at", isoUtc(std::chrono::system_clock::now())},
                {"reason", reason},
                {"message", what},
                {"stderrTail", p->stderr_tail}};
  if (sig) last_exit_["signal"] = signalName(sig);
  if (WIFEXITED(status)) last_exit_["status"] = WEXITSTATUS(status);
  Poco::Logger::get(log_name_).error(
      "plugin worker (pid " + std::to_string(pid) + ") " + what + "; " + std::to_string(calls_cut) +
      " calls in flight ended" + (p->stderr_tail.empty() ? "" : "; its stderr ends: " + lastLine(p->stderr_tail).substr(0, 300)));
}

namespace {

enum class ChannelRead { kFrame, kTimeout, kClosed };

/// The next frame on a call's channel, by `until` at the latest. Throws wire::ProtocolError.
ChannelRead readChannel(int fd, wire::FrameAssembler& frames, Steady::time_point until, wire::Frame& frame) {
  while (!frames.next(frame)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Steady::now()).count();
    if (left <= 0) return ChannelRead::kTimeout;
    pollfd pfd{fd, POLLIN, 0};
    int n = ::poll(&pfd, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (n < 0 && errno != EINTR) return ChannelRead::kClosed;
    if (n <= 0) continue;
    std::string bytes;
    bool open = readSome(fd, bytes, 1u << 20);
    frames.feed(bytes.data(), bytes.size());
    if (!open && !frames.next(frame)) return ChannelRead::kClosed;
    if (!open) return ChannelRead::kFrame;
  }
  return ChannelRead::kFrame;
}

}  // namespace

WorkerCallResult PluginWorker::call(const std::string& operation, const std::string& correlation_id,
                                    SystemClock::time_point deadline, const std::string& argument,
                                    const HttpBroker& broker, const std::string& traceparent) {
  WorkerCallResult out;
  auto pc = std::make_shared<PendingCall>();
  int channel = -1;
  {
    std::lock_guard lock(mutex_);
    if (state_ != State::kRunning || !process_ || process_->free_channels.empty()) {
      out.kind = WorkerCallResult::Kind::kUnavailable;
      if (state_ == State::kRestarting) {
        auto in = std::chrono::duration_cast<std::chrono::milliseconds>(next_start_ - Steady::now()).count();
        out.detail = "the plugin's worker is restarting after it " +
                     (last_exit_.contains("message") ? last_exit_["message"].get<std::string>() : std::string("died")) +
                     " (next start in " + std::to_string(std::max<long long>(in, 0)) + " ms)";
      } else if (state_ == State::kRunning) {
        out.detail = "every call thread of the plugin's worker is busy";
      } else {
        out.detail = "the plugin's worker is starting";
      }
      return out;
    }
    pc->id = g_next_call_id++;
    pc->process = process_;
    channel = process_->free_channels.back();
    process_->free_channels.pop_back();
    calls_[pc->id] = pc;
  }
  auto p = pc->process;
  bool sent = false;
  // The call's end: it leaves the registry, and its channel is free again if it ended cleanly.
  auto finish = [&](WorkerCallResult r, bool channel_reusable) {
    std::lock_guard lock(mutex_);
    calls_.erase(pc->id);
    if (channel_reusable) p->free_channels.push_back(channel);
    r.sent_http = r.sent_http || sent;
    return r;
  };
  // The worker died under the call: its monitor says how, at once.
  auto death = [&] {
    std::unique_lock lock(pc->mutex);
    if (!pc->cv.wait_for(lock, std::chrono::seconds(5), [&] { return pc->ended; })) {
      lock.unlock();
      killProcess(p, "its call channel broke");
      WorkerCallResult r;
      r.kind = WorkerCallResult::Kind::kCrashed;
      r.culprit = true;
      r.detail = "the plugin's worker broke its call channel";
      return finish(r, false);
    }
    WorkerCallResult r = pc->death;
    lock.unlock();
    return finish(r, false);
  };
  auto deadline_ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline.time_since_epoch()).count();
  wire::FrameWriter request(wire::Type::kCall, pc->id);
  request.str(operation).str(correlation_id).i64(deadline_ms).str(argument).str(traceparent);
  if (!sendFrame(p, channel, request)) return death();
  auto hard = Steady::now() + std::chrono::duration_cast<Steady::duration>(deadline - SystemClock::now()) +
              std::chrono::milliseconds(500);
  wire::FrameAssembler frames(p->max_frame);
  try {
    while (true) {
      wire::Frame frame;
      auto got = readChannel(channel, frames, hard, frame);
      if (got == ChannelRead::kClosed) return death();
      if (got == ChannelRead::kTimeout) {
        {
          std::lock_guard guard(mutex_);
          if (!p->hung_call) p->hung_call = pc->id;
        }
        killProcess(p, "a call overran its budget");
        WorkerCallResult r;
        r.kind = WorkerCallResult::Kind::kHung;
        return finish(r, false);
      }
      if (frame.call_id != pc->id) throw wire::ProtocolError("a frame of another call on this call's channel");
      if (frame.type == wire::Type::kHttp) {
        HttpAsk ask = readHttpAsk(frame.payload);
        HttpAnswer answer = broker(ask);
        sent = sent || answer.sent;
        wire::FrameWriter reply(wire::Type::kHttpResult, pc->id);
        reply.i64(answer.status).i64(answer.status_code).str(answer.body).str(answer.content_type).str(answer.retry_after);
        if (!sendFrame(p, channel, reply)) return death();
      } else if (frame.type == wire::Type::kDone) {
        WorkerCallResult done = readDone(frame.payload);
        return finish(done, true);
      } else {
        throw wire::ProtocolError("unexpected frame type " + std::to_string(static_cast<int>(frame.type)) + " during a call");
      }
    }
  } catch (const wire::ProtocolError& e) {
    killProcess(p, std::string("broke the worker protocol: ") + e.what());
    return death();
  }
}

bool PluginWorker::up() const {
  std::lock_guard lock(mutex_);
  return state_ == State::kRunning;
}

nlohmann::json PluginWorker::describe() const {
  std::lock_guard lock(mutex_);
  static const char* kStates[] = {"STARTING", "RUNNING", "RESTARTING", "STOPPED"};
  nlohmann::json j{{"state", kStates[static_cast<int>(state_)]}};
  if (process_ && state_ == State::kRunning) {
    j["pid"] = process_->pid;
    j["upSeconds"] = std::chrono::duration_cast<std::chrono::seconds>(Steady::now() - process_->started).count();
  }
  if (state_ == State::kRestarting)
    j["nextStartInMs"] =
        std::max<long long>(0, std::chrono::duration_cast<std::chrono::milliseconds>(next_start_ - Steady::now()).count());
  long total = 0;
  nlohmann::json by_reason = nlohmann::json::object();
  for (const auto& [reason, n] : restarts_) {
    by_reason[reason] = n;
    total += n;
  }
  j["restarts"] = total;
  j["restartsByReason"] = std::move(by_reason);
  if (!last_exit_.is_null()) j["lastExit"] = last_exit_;
  j["memoryLimitMiB"] = spec_.limits.memory_bytes >> 20;
  j["openFilesLimit"] = spec_.limits.max_open_files;
  j["sandbox"] = spec_.limits.sandbox;
  return j;
}

}  // namespace osago::host
