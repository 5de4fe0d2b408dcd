/*
 * A plugin written in plain C from plugin_abi.h alone, as a partner engineer
 * without the SDK would, that misbehaves in one way chosen at build time
 * (OSAGO_FAULT). Faults that depend on the input strike only when the quote
 * names the vehicle VIN "FAULT000000000000"; any other quote is served
 * normally (submit → PENDING, poll → OFFER 1000.00), so a test can tell that a
 * restarted worker serves the next request. Faults "at load" strike always.
 * Compiled as C, and once as C++ (fault_throw.cpp) for an exception thrown
 * through the raw ABI.
 */
#include <osago/plugin_abi.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FAULT_STR2(x) #x
#define FAULT_STR(x) FAULT_STR2(x)
#define FAULT_IS(name) (strcmp(FAULT_STR(OSAGO_FAULT), name) == 0)

#ifdef __cplusplus
#include <stdexcept>
extern "C" {
#endif

static const osago_host_api* g_host;

static int triggered(osago_str quote) {
  static const char marker[] = "FAULT000000000000";
  size_t n = sizeof marker - 1;
  for (size_t i = 0; i + n <= quote.len; ++i)
    if (memcmp(quote.data + i, marker, n) == 0) return 1;
  return 0;
}

static void reply(const osago_call* call, const char* json) {
  osago_str s = {json, strlen(json)};
  call->reply(call->host_call_ctx, s);
}

static volatile int g_sink;

static int recurse(int depth) {
  volatile char frame[4096];
  frame[0] = (char)depth;
  return recurse(depth + 1) + frame[0];
}

/* The fault of this build; returns a status, or -1 to go on normally. */
static int misbehave(const osago_call* call) {
  if (FAULT_IS("segfault")) {
    *(volatile int*)0 = 1;
  } else if (FAULT_IS("abort")) {
    abort();
  } else if (FAULT_IS("cxx_throw")) {
#ifdef __cplusplus
    throw std::runtime_error("thrown through the C ABI");
#endif
  } else if (FAULT_IS("stack_overflow")) {
    g_sink = recurse(0);
  } else if (FAULT_IS("endless_loop")) {
    for (;;) g_sink = g_sink + 1;
  } else if (FAULT_IS("alloc_limit")) {
    for (;;) {
      char* p = (char*)malloc(1 << 20);
      if (!p) break;
      memset(p, 1, 1 << 20);  /* leaked on purpose */
    }
    reply(call, "{\"message\":\"out of memory\"}");
    return OSAGO_STATUS_INTERNAL;
  } else if (FAULT_IS("fd_leak")) {
    int fds[2];
    while (pipe(fds) == 0) {
    } /* leaked on purpose until the limit */
    reply(call, "{\"message\":\"no descriptors left\"}");
    return OSAGO_STATUS_INTERNAL;
  } else if (FAULT_IS("stderr_flood")) {
    for (;;) fputs("flooding stderr flooding stderr flooding stderr flooding stderr\n", stderr);
  } else if (FAULT_IS("null_field")) {
    reply(call, "{\"v\":1,\"outcome\":\"DECLINED\",\"reason\":null}");
    return OSAGO_STATUS_OK;
  } else if (FAULT_IS("number_field")) {
    reply(call, "{\"v\":1,\"outcome\":5}");
    return OSAGO_STATUS_OK;
  } else if (FAULT_IS("array_field")) {
    reply(call, "{\"v\":1,\"outcome\":\"PENDING\",\"externalId\":[\"x\"]}");
    return OSAGO_STATUS_OK;
  } else if (FAULT_IS("invalid_json")) {
    reply(call, "{\"v\":1,\"outcome\":\"PEND");
    return OSAGO_STATUS_OK;
  } else if (FAULT_IS("no_reply")) {
    return OSAGO_STATUS_OK;
  } else if (FAULT_IS("two_replies")) {
    reply(call, "{\"v\":1,\"outcome\":\"PENDING\",\"externalId\":\"a\"}");
    reply(call, "{\"v\":1,\"outcome\":\"PENDING\",\"externalId\":\"b\"}");
    return OSAGO_STATUS_OK;
  } else if (FAULT_IS("huge_reply")) {
    size_t n = 64u << 20;
    char* big = (char*)malloc(n + 64);
    if (!big) return OSAGO_STATUS_INTERNAL;
    memset(big, 'a', n + 64);
    const char* head = "{\"v\":1,\"outcome\":\"PENDING\",\"externalId\":\"";
    memcpy(big, head, strlen(head));
    memcpy(big + n - 2, "\"}", 2);
    osago_str s = {big, n};
    call->reply(call->host_call_ctx, s);
    free(big);
    return OSAGO_STATUS_OK;
  } else if (FAULT_IS("connect_pg")) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0) {
      struct sockaddr_in a;
      memset(&a, 0, sizeof a);
      a.sin_family = AF_INET;
      a.sin_port = htons(5432);
      a.sin_addr.s_addr = htonl(0x7f000001);
      if (connect(fd, (struct sockaddr*)&a, sizeof a) == 0) {
        reply(call, "{\"message\":\"connected to PostgreSQL\"}");
        return OSAGO_STATUS_INTERNAL;
      }
    }
    reply(call, "{\"message\":\"could not connect to PostgreSQL\"}");
    return OSAGO_STATUS_INTERNAL;
  } else if (FAULT_IS("read_passwd")) {
    int fd = open("/etc/passwd", O_RDONLY);
    if (fd >= 0) {
      char buf[64];
      ssize_t n = read(fd, buf, sizeof buf);
      (void)n;
      reply(call, "{\"v\":1,\"outcome\":\"OFFER\",\"externalId\":\"stolen\",\"offer\":{\"premium\":{\"amount\":\"1.00\"}}}");
      return OSAGO_STATUS_OK;
    }
    reply(call, "{\"message\":\"could not read /etc/passwd\"}");
    return OSAGO_STATUS_INTERNAL;
  } else if (FAULT_IS("kill_host")) {
    /* The worker runs as the aggregator's user: try to end it. */
    if (kill(getppid(), SIGKILL) == 0) {
      reply(call, "{\"message\":\"signalled the host\"}");
      return OSAGO_STATUS_INTERNAL;
    }
    reply(call, "{\"message\":\"could not signal the host\"}");
    return OSAGO_STATUS_INTERNAL;
  } else if (FAULT_IS("egress")) {
    osago_http_request req;
    osago_http_response resp;
    memset(&req, 0, sizeof req);
    memset(&resp, 0, sizeof resp);
    req.struct_size = sizeof req;
    req.method.data = "GET";
    req.method.len = 3;
    req.url.data = "http://127.0.0.1:1/steal";
    req.url.len = strlen(req.url.data);
    resp.struct_size = sizeof resp;
    osago_status st = g_host->http_call(call->host_call_ctx, &req, &resp);
    if (st == OSAGO_STATUS_OK) {
      reply(call, "{\"message\":\"reached a host outside the manifest\"}");
      return OSAGO_STATUS_INTERNAL;
    }
    reply(call, "{\"message\":\"the host refused the request\"}");
    return OSAGO_STATUS_PERMANENT;
  }
  return -1;
}

static osago_status create(const osago_host_api* host, osago_str config, void** instance) {
  (void)config;
  g_host = host;
  if (FAULT_IS("create_hangs"))
    for (;;) sleep(1);
  if (FAULT_IS("create_crashes")) *(volatile int*)0 = 1;
  *instance = (void*)&g_host;
  return OSAGO_STATUS_OK;
}

static osago_status submit(void* instance, const osago_call* call, osago_str quote) {
  (void)instance;
  if (triggered(quote)) {
    int status = misbehave(call);
    if (status >= 0) return (osago_status)status;
  }
  reply(call, "{\"v\":1,\"outcome\":\"PENDING\",\"externalId\":\"ok-1\"}");
  return OSAGO_STATUS_OK;
}

static osago_status poll_call(void* instance, const osago_call* call, osago_str external_id) {
  (void)instance;
  (void)external_id;
  reply(call, "{\"v\":1,\"outcome\":\"OFFER\",\"externalId\":\"ok-1\",\"offer\":{\"premium\":{\"amount\":\"1000.00\",\"currency\":\"RUB\"}}}");
  return OSAGO_STATUS_OK;
}

static void destroy(void* instance) { (void)instance; }

__attribute__((visibility("default"))) const osago_plugin_api* osago_plugin_entry(uint16_t major, uint16_t minor) {
  static osago_plugin_api api;
  (void)major;
  (void)minor;
  if (FAULT_IS("entry_hangs"))
    for (;;) sleep(1);
  if (FAULT_IS("entry_crashes")) *(volatile int*)0 = 1;
  api.struct_size = sizeof api;
  api.abi_major = OSAGO_PLUGIN_ABI_MAJOR;
  api.abi_minor = 0;
  api.plugin_id = "fault-" FAULT_STR(OSAGO_FAULT);
  api.plugin_name = "Fault: " FAULT_STR(OSAGO_FAULT);
  api.plugin_version = "1.0.0";
  api.create = create;
  api.submit = submit;
  api.poll = poll_call;
  api.destroy = destroy;
  return &api;
}

#ifdef __cplusplus
}
#endif
