// osago-plugin-worker: runs one insurer plugin for one company outside the
// aggregator's process (docs/architecture.md, "Plugin workers").
//
// Started by the aggregator with an empty environment and three descriptors:
//   2  stderr (a pipe the host reads; its tail goes to the host's log)
//   3  the control socket: kInit from the host; kReady/kLoadFailed and kLog
//      from the worker; its end means the host is gone
//   4  the fault pipe: kFault/kDenied frames written from signal handlers
//      (a pipe write under PIPE_BUF is atomic, so they never interleave)
//   5… one call channel per call thread: kCall, then kHttp/kHttpResult, then
//      kDone, all on the thread's own socket, so a call's frames go straight
//      between the host's calling thread and this worker's call thread
// The first frame is kInit. In "probe" mode the worker loads the library,
// reports what it is and exits; in "serve" mode it also creates the
// company's instance, starts its call threads, locks itself in the sandbox
// and runs calls until the host closes the sockets.
//
// Plugin code here may crash, hang, allocate without end or misbehave in any
// way; the host contains it. This file's job is to keep the protocol honest
// and to say, when the worker dies, which call it died in.
#include "plugins/worker_protocol.hpp"

#include <osago/plugin_abi.h>

#include <atomic>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <deque>
#include <dlfcn.h>
#include <map>
#include <malloc.h>
#include <memory>
#include <mutex>
#include <new>
#include <pthread.h>
#include <seccomp.h>
#include <string>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <vector>

namespace {

using namespace osago::host;

constexpr int kHostFd = 3;
constexpr int kFaultFd = 4;
constexpr int kFirstChannelFd = 5;
constexpr int kExitOutOfMemory = 86;
constexpr int kExitProtocol = 87;
constexpr std::size_t kMaxFrame = 16u << 20;
constexpr std::size_t kMaxLogBytes = 4096;

/// The call running on this thread (0: none), read by the signal handlers.
thread_local std::uint64_t t_call_id = 0;
/// System calls the sandbox refused during this thread's call (written by the SIGSYS handler).
constexpr int kMaxDenied = 8;
thread_local int t_denied_count = 0;
thread_local long t_denied[kMaxDenied];

std::mutex g_write_mutex;

void send(wire::FrameWriter& frame) {
  std::lock_guard lock(g_write_mutex);
  if (!wire::writeAll(kHostFd, frame.bytes())) ::_exit(0);  // the host is gone: so are we
}

// ---- signal handlers (async-signal-safe: stack buffer, write(2), no locks) ----

void writeSignalFrame(wire::Type type, std::uint64_t call_id, std::int64_t value) {
  char buf[wire::kHeaderSize + 12];
  std::uint32_t length = 12;
  for (int i = 0; i < 4; ++i) buf[i] = static_cast<char>((length >> (8 * i)) & 0xff);
  buf[4] = static_cast<char>(type);
  for (int i = 0; i < 8; ++i) buf[5 + i] = static_cast<char>((call_id >> (8 * i)) & 0xff);
  buf[13] = 8;
  buf[14] = buf[15] = buf[16] = 0;
  auto u = static_cast<std::uint64_t>(value);
  for (int i = 0; i < 8; ++i) buf[17 + i] = static_cast<char>((u >> (8 * i)) & 0xff);
  ssize_t ignored = ::write(kFaultFd, buf, sizeof buf);
  (void)ignored;
}

void onFatalSignal(int signo, siginfo_t*, void*) {
  // SA_RESETHAND restored the default action: a fault re-executes and kills,
  // a raised signal (abort) is raised again once this handler returns.
  writeSignalFrame(wire::Type::kFault, t_call_id, signo);
  if (signo == SIGABRT) ::raise(signo);
}

void onDeniedSyscall(int, siginfo_t* info, void* context) {
  if (t_denied_count < kMaxDenied) t_denied[t_denied_count] = info->si_syscall;
  ++t_denied_count;
  writeSignalFrame(wire::Type::kDenied, t_call_id, info->si_syscall);
  // The system call fails with EPERM instead of running.
  auto* uc = static_cast<ucontext_t*>(context);
  uc->uc_mcontext.gregs[REG_RAX] = -EPERM;
}

void installSignalHandlers() {
  struct sigaction sa {};
  sa.sa_sigaction = &onFatalSignal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  for (int s : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP}) ::sigaction(s, &sa, nullptr);
  struct sigaction sys {};
  sys.sa_sigaction = &onDeniedSyscall;
  sys.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sys.sa_mask);
  ::sigaction(SIGSYS, &sys, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

/// A stack for the signal handlers of this thread, so a stack overflow is reported too.
void useAlternateStack() {
  constexpr std::size_t kSize = 64 * 1024;
  void* mem = ::mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return;
  stack_t ss{};
  ss.ss_sp = mem;
  ss.ss_size = kSize;
  ::sigaltstack(&ss, nullptr);
}

// ---- the sandbox ----

/// After it, the worker cannot open files or sockets, start programs or new
/// processes; a forbidden call fails with EPERM and is reported to the host.
bool lockDown(std::string& error) {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    error = "prctl(PR_SET_NO_NEW_PRIVS) failed";
    return false;
  }
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (!ctx) {
    error = "seccomp_init failed";
    return false;
  }
  int rc = 0;
  auto deny = [&](const char* name) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr != __NR_SCMP_ERROR && rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_TRAP, nr, 0);
  };
  for (const char* name : {"open", "openat", "openat2", "creat", "open_by_handle_at", "name_to_handle_at",
                           "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
                           "execve", "execveat", "fork", "vfork", "ptrace", "process_vm_readv", "process_vm_writev",
                           "mknod", "mknodat", "link", "linkat", "symlink", "symlinkat", "unlink", "unlinkat",
                           "rename", "renameat", "renameat2", "mkdir", "mkdirat", "rmdir", "truncate",
                           "chmod", "fchmodat", "chown", "lchown", "fchownat", "mount", "umount2", "chroot",
                           "pivot_root", "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid",
                           "tkill", "memfd_create", "userfaultfd", "perf_event_open", "bpf",
                           "io_uring_setup", "keyctl", "add_key", "request_key", "init_module", "finit_module",
                           "delete_module", "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff", "setns",
                           "unshare", "pidfd_open", "pidfd_getfd", "pidfd_send_signal", "process_madvise", "kcmp",
                           "move_pages", "migrate_pages", "inotify_init", "inotify_init1", "fanotify_init",
                           "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
                           "quotactl", "acct", "sethostname", "setdomainname", "settimeofday", "clock_settime",
                           "clock_adjtime", "adjtimex", "iopl", "ioperm", "syslog", "vhangup", "uselib"})
    deny(name);
  // Signals only to itself (abort() raises SIGABRT with tgkill): the worker runs as the host's user.
  auto self = static_cast<scmp_datum_t>(::getpid());
  if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(kill), 1, SCMP_A0(SCMP_CMP_NE, self));
  if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(tgkill), 1, SCMP_A0(SCMP_CMP_NE, self));
  if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(rt_sigqueueinfo), 1, SCMP_A0(SCMP_CMP_NE, self));
  if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(rt_tgsigqueueinfo), 1, SCMP_A0(SCMP_CMP_NE, self));
  // Threads may be started (clone with CLONE_THREAD), processes may not.
  if (rc == 0)
    rc = seccomp_rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
  // clone3's flags are behind a pointer a filter cannot read: ENOSYS makes glibc fall back to clone.
  if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
  if (rc == 0) rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);  // every thread, not only this one
  if (rc == 0) rc = seccomp_load(ctx);
  seccomp_release(ctx);
  if (rc != 0) {
    error = std::string("seccomp: ") + std::strerror(-rc);
    return false;
  }
  return true;
}

// ---- calls ----

struct HttpResult {
  std::int64_t status = OSAGO_STATUS_TRANSIENT;
  std::int64_t status_code = 0;
  std::string body, content_type, retry_after;
};

/// One call, on the thread that runs it and its channel to the host.
struct CallSlot {
  int channel = -1;
  std::uint64_t id = 0;
  std::string operation, correlation_id, argument, traceparent;
  std::int64_t deadline_ms = 0;
  std::deque<HttpResult> kept;  // responses the plugin may still point into
  int replies = 0;
  std::string reply;
  std::size_t reply_size = 0;   // of the first reply, also when it was too large to keep
};

/// Writes a frame on a call's own channel; the host gone, so are we.
void sendOn(int channel, wire::FrameWriter& frame) {
  if (!wire::writeAll(channel, frame.bytes())) ::_exit(0);
}

struct Worker {
  const osago_plugin_api* api = nullptr;
  void* instance = nullptr;
  std::string company_id;
  std::map<std::string, std::string> secrets;
  std::size_t max_reply_bytes = 1 << 20;
  std::size_t max_http_body_bytes = 1 << 20;
  osago_host_api host{};
};

Worker g_worker;

std::string str(osago_str s) { return s.data ? std::string(s.data, s.len) : std::string(); }

void hostLog(void*, osago_log_level level, osago_str message) {
  std::string text = str(message);
  if (text.size() > kMaxLogBytes) text.resize(kMaxLogBytes);
  wire::FrameWriter f(wire::Type::kLog, t_call_id);
  f.i64(level).str(text);
  send(f);
}

std::int64_t hostNow(void*) {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

osago_status hostSecret(void*, osago_str name, osago_str* value) {
  if (!value) return OSAGO_STATUS_INVALID_INPUT;
  auto it = g_worker.secrets.find(str(name));
  if (it == g_worker.secrets.end()) return OSAGO_STATUS_INVALID_INPUT;
  *value = osago_str{it->second.data(), it->second.size()};
  return OSAGO_STATUS_OK;
}

osago_status hostHttp(void* call_ctx, const osago_http_request* request, osago_http_response* response) {
  auto* slot = static_cast<CallSlot*>(call_ctx);
  if (!slot || !request || !response) return OSAGO_STATUS_INVALID_INPUT;
  if (request->body.len > g_worker.max_http_body_bytes) return OSAGO_STATUS_INVALID_INPUT;
  if (request->header_count > 64) return OSAGO_STATUS_INVALID_INPUT;
  wire::FrameWriter f(wire::Type::kHttp, slot->id);
  f.str(str(request->method)).str(str(request->url)).i64(static_cast<std::int64_t>(request->header_count));
  for (std::size_t i = 0; i < request->header_count; ++i)
    f.str(str(request->headers[i].name)).str(str(request->headers[i].value));
  f.str(str(request->body)).i64(request->timeout_ms);
  sendOn(slot->channel, f);
  // The host always answers on this channel, or kills us.
  wire::Frame answer;
  if (!wire::readFrame(slot->channel, answer, kMaxFrame)) ::_exit(0);
  if (answer.type != wire::Type::kHttpResult || answer.call_id != slot->id) ::_exit(kExitProtocol);
  wire::FrameReader r(answer.payload);
  HttpResult result;
  result.status = r.i64();
  result.status_code = r.i64();
  result.body = std::string(r.str());
  result.content_type = std::string(r.str());
  result.retry_after = std::string(r.str());
  slot->kept.push_back(std::move(result));
  const HttpResult& k = slot->kept.back();
  if (k.status != OSAGO_STATUS_OK) return static_cast<osago_status>(k.status);
  response->status_code = static_cast<std::int32_t>(k.status_code);
  response->body = osago_str{k.body.data(), k.body.size()};
  if (response->struct_size >= offsetof(osago_http_response, retry_after) + sizeof(osago_str)) {
    response->content_type = osago_str{k.content_type.data(), k.content_type.size()};
    response->retry_after = osago_str{k.retry_after.data(), k.retry_after.size()};
  }
  return OSAGO_STATUS_OK;
}

void onReply(void* ctx, osago_str json) {
  auto* slot = static_cast<CallSlot*>(ctx);
  if (++slot->replies > 1) return;  // the host refuses a call that replied twice
  slot->reply_size = json.len;
  if (json.len <= g_worker.max_reply_bytes) slot->reply = str(json);
}

void runCall(CallSlot& slot) {
  osago_call c{};
  c.struct_size = sizeof(c);
  c.correlation_id = osago_str{slot.correlation_id.data(), slot.correlation_id.size()};
  c.traceparent = osago_str{slot.traceparent.data(), slot.traceparent.size()};
  c.deadline_unix_ms = slot.deadline_ms;
  c.host_call_ctx = &slot;
  c.reply = &onReply;
  osago_str arg{slot.argument.data(), slot.argument.size()};
  osago_status status = OSAGO_STATUS_INTERNAL;
  std::string note;
  try {
    const osago_plugin_api* api = g_worker.api;
    if (slot.operation == "submit")
      status = api->submit(g_worker.instance, &c, arg);
    else if (slot.operation == "poll")
      status = api->poll(g_worker.instance, &c, arg);
    else if (slot.operation != "issue" && slot.operation != "issue_poll")
      note = "unknown operation '" + slot.operation.substr(0, 32) + "'";
    else if (!OSAGO_PLUGIN_PURCHASABLE(api))
      note = "the plugin has no purchase entries (ABI 1.2 issue and issue_poll)";  // the host never asks: it read kReady
    else if (slot.operation == "issue")
      status = api->issue(g_worker.instance, &c, arg);
    else
      status = api->issue_poll(g_worker.instance, &c, arg);
  } catch (const std::bad_alloc&) {
    throw;
  } catch (...) {
    // Not allowed by the ABI; contained as an internal error of the plugin.
    status = OSAGO_STATUS_INTERNAL;
    note = "the plugin threw a C++ exception through the C ABI";
  }
  if (slot.replies > 1)
    note = "the plugin called reply " + std::to_string(slot.replies) + " times (exactly once is allowed)";
  else if (slot.replies == 1 && slot.reply_size > g_worker.max_reply_bytes)
    note = "the plugin's reply of " + std::to_string(slot.reply_size) + " bytes is over the limit of " +
           std::to_string(g_worker.max_reply_bytes);
  wire::FrameWriter f(wire::Type::kDone, slot.id);
  f.i64(status).i64(slot.replies).str(slot.reply).str(note);
  int denied = std::min(t_denied_count, kMaxDenied);
  f.i64(denied);
  for (int i = 0; i < denied; ++i) f.i64(t_denied[i]);
  sendOn(slot.channel, f);
}

/// Runs the calls that arrive on `channel`, one at a time, until the host closes it.
void callThread(int channel) {
  useAlternateStack();
  try {
    wire::Frame frame;
    while (wire::readFrame(channel, frame, kMaxFrame)) {
      if (frame.type != wire::Type::kCall) ::_exit(kExitProtocol);
      CallSlot slot;
      slot.channel = channel;
      slot.id = frame.call_id;
      wire::FrameReader r(frame.payload);
      slot.operation = std::string(r.str());
      slot.correlation_id = std::string(r.str());
      slot.deadline_ms = r.i64();
      slot.argument = std::string(r.str());
      slot.traceparent = std::string(r.str());
      t_call_id = slot.id;
      t_denied_count = 0;
      runCall(slot);
      t_call_id = 0;
    }
    ::_exit(0);  // the host closed the channel: it is stopping us
  } catch (const std::bad_alloc&) {
    // The memory limit: nothing here can go on safely. The host restarts us.
    writeSignalFrame(wire::Type::kFault, t_call_id, 0);
    ::_exit(kExitOutOfMemory);
  } catch (const wire::ProtocolError&) {
    ::_exit(kExitProtocol);
  }
}

void loadFailed(const std::string& message) {
  wire::FrameWriter f(wire::Type::kLoadFailed, 0);
  f.str(message);
  send(f);
  ::_exit(0);
}

std::string abiText(unsigned major, unsigned minor) { return std::to_string(major) + "." + std::to_string(minor); }

const osago_plugin_api* loadLibrary(const std::string& path) {
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) loadFailed(std::string("cannot be loaded: ") + ::dlerror());
  void* sym = ::dlsym(handle, OSAGO_PLUGIN_ENTRY_SYMBOL);
  if (!sym) loadFailed("not an osago plugin: it does not export " OSAGO_PLUGIN_ENTRY_SYMBOL);
  auto entry = reinterpret_cast<osago_plugin_entry_fn>(sym);
  const osago_plugin_api* api = entry(OSAGO_PLUGIN_ABI_MAJOR, OSAGO_PLUGIN_ABI_MINOR);
  std::string host_abi = abiText(OSAGO_PLUGIN_ABI_MAJOR, OSAGO_PLUGIN_ABI_MINOR);
  if (!api) loadFailed("the plugin refused to work with host ABI " + host_abi);
  if (api->abi_major != OSAGO_PLUGIN_ABI_MAJOR || api->abi_minor > OSAGO_PLUGIN_ABI_MINOR)
    loadFailed("plugin built for ABI " + abiText(api->abi_major, api->abi_minor) + ", host supports " +
               abiText(OSAGO_PLUGIN_ABI_MAJOR, 0) + " to " + host_abi +
               " (rebuild the plugin against this host's plugin-api, or upgrade the host)");
  constexpr std::size_t kMinSize = offsetof(osago_plugin_api, destroy) + sizeof(api->destroy);
  if (api->struct_size < kMinSize)
    loadFailed("plugin table is too small (" + std::to_string(api->struct_size) + " bytes)");
  auto bounded = [](const char* s) { return s && ::strnlen(s, 256) > 0 && ::strnlen(s, 256) < 256; };
  if (!bounded(api->plugin_id) || !bounded(api->plugin_name) || !bounded(api->plugin_version) || !api->create ||
      !api->submit || !api->poll || !api->destroy)
    loadFailed("plugin table has empty or over-long fields (id, name, version and every function are required)");
  return api;
}

}  // namespace

#ifdef OSAGO_SANITIZED
// A sanitizer build of the worker: a plugin that crashes must die of its own
// signal as in production (the host reports SIGSEGV, SIGABRT), not of the
// sanitizer's report; and no leak check at exit (workers are killed, and the
// sandbox refuses what LeakSanitizer needs). Its environment is empty, so
// these are the defaults compiled in.
extern "C" const char* __asan_default_options() {
  return "handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_abort=0:detect_leaks=0";
}
#endif

int main() {
  ::mallopt(M_ARENA_MAX, 2);  // the memory limit counts what malloc's arenas reserve
  installSignalHandlers();
  useAlternateStack();
  try {
    wire::Frame init;
    if (!wire::readFrame(kHostFd, init, kMaxFrame) || init.type != wire::Type::kInit) return kExitProtocol;
    wire::FrameReader in(init.payload);
    std::string mode(in.str());
    std::string path(in.str());
    g_worker.company_id = std::string(in.str());
    std::string settings(in.str());
    auto secret_count = in.i64();
    for (std::int64_t i = 0; i < secret_count; ++i) {
      std::string name(in.str());
      g_worker.secrets[name] = std::string(in.str());
    }
    auto threads = static_cast<int>(in.i64());
    g_worker.max_reply_bytes = static_cast<std::size_t>(in.i64());
    g_worker.max_http_body_bytes = static_cast<std::size_t>(in.i64());
    bool sandbox = in.i64() != 0;
    if (threads < 0 || threads > 256 || (mode != "probe" && threads < 1)) return kExitProtocol;

    const osago_plugin_api* api = loadLibrary(path);
    g_worker.api = api;
    auto ready = [&] {
      wire::FrameWriter f(wire::Type::kReady, 0);
      f.str(api->plugin_id).str(api->plugin_name).str(api->plugin_version).i64(api->abi_major).i64(api->abi_minor)
          .i64(OSAGO_PLUGIN_PURCHASABLE(api) ? 1 : 0);
      send(f);
    };
    if (mode == "probe") {
      ready();
      return 0;
    }

    g_worker.host.struct_size = sizeof(g_worker.host);
    g_worker.host.abi_major = OSAGO_PLUGIN_ABI_MAJOR;
    g_worker.host.abi_minor = OSAGO_PLUGIN_ABI_MINOR;
    g_worker.host.log = &hostLog;
    g_worker.host.now_unix_ms = &hostNow;
    g_worker.host.http_call = &hostHttp;
    g_worker.host.secret_get = &hostSecret;
    osago_status status = OSAGO_STATUS_INTERNAL;
    try {
      status = api->create(&g_worker.host, osago_str{settings.data(), settings.size()}, &g_worker.instance);
    } catch (...) {
      loadFailed("create() threw a C++ exception through the C ABI");
    }
    if (status != OSAGO_STATUS_OK || !g_worker.instance)
      loadFailed("refused its settings (status " + std::to_string(status) + "; see the plugin." + g_worker.company_id +
                 " log lines)");

    // Call threads with stacks of a known size (the memory limit counts them).
    pthread_attr_t attr;
    ::pthread_attr_init(&attr);
    ::pthread_attr_setstacksize(&attr, 4u << 20);
    ::pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (int i = 0; i < threads; ++i) {
      pthread_t t;
      auto* fd = new int(kFirstChannelFd + i);
      if (::pthread_create(&t, &attr, [](void* p) -> void* {
            int channel = *static_cast<int*>(p);
            delete static_cast<int*>(p);
            callThread(channel);
            return nullptr;
          }, fd) != 0)
        loadFailed("cannot start call threads");
    }
    ::pthread_attr_destroy(&attr);
    if (sandbox) {
      std::string error;
      if (!lockDown(error)) loadFailed("cannot enter the sandbox: " + error);
    }
    ready();

    // Nothing more comes on the control socket; its end means the host is gone.
    wire::Frame frame;
    if (wire::readFrame(kHostFd, frame, kMaxFrame)) return kExitProtocol;
  } catch (const std::bad_alloc&) {
    ::_exit(kExitOutOfMemory);
  } catch (const wire::ProtocolError& e) {
    std::fprintf(stderr, "osago-plugin-worker: protocol error: %s\n", e.what());
    ::_exit(kExitProtocol);
  }
  ::_exit(0);  // the host closed the socket; plugin threads may still run: they end with us
}
