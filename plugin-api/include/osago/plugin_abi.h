/*
 * The stable C ABI between the osago-aggregator host and an insurer plugin.
 *
 * A plugin is a shared library that exports exactly one symbol,
 * OSAGO_PLUGIN_ENTRY_SYMBOL. Everything else is reached through two tables:
 * the host services table (osago_host_api), which the host passes in, and the
 * plugin table (osago_plugin_api), which the plugin returns.
 *
 * Rules that hold for every function here:
 * - Nothing crosses the boundary as a C++ exception.
 * - Strings are (pointer, length) pairs in UTF-8 and are NOT NUL-terminated
 *   unless stated. A string passed in is borrowed: valid only during the call.
 * - Every struct that may grow starts with `struct_size`; fields are only ever
 *   appended. A reader must check `struct_size` before touching a field that
 *   a newer minor version added.
 * - Versioning: the major must match exactly; a plugin built against an older
 *   minor works with a newer host.
 *
 * The documents exchanged (quote input, plugin outcome) are JSON; their
 * versioned formats are described in docs/plugin-abi.md.
 */
#ifndef OSAGO_PLUGIN_ABI_H
#define OSAGO_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OSAGO_PLUGIN_ABI_MAJOR 1
#define OSAGO_PLUGIN_ABI_MINOR 2

/**
 * Bounds on the outcome document's strings, in bytes of UTF-8 (docs/plugin-abi.md).
 * The host refuses a longer one as the plugin's error (PLUGIN_ERROR).
 */
#define OSAGO_OUTCOME_MAX_EXTERNAL_ID 256
#define OSAGO_OUTCOME_MAX_DECLINE_REASON 128
#define OSAGO_OUTCOME_MAX_DECLINE_MESSAGE 1000
/** An offer's premium has at most this many digits of whole rubles (999,999,999.99). */
#define OSAGO_OUTCOME_MAX_AMOUNT_DIGITS 9
/** Bounds on the purchase outcome's strings (ABI 1.2), in bytes of UTF-8. */
#define OSAGO_PURCHASE_MAX_URL 2048
#define OSAGO_PURCHASE_MAX_POLICY_NUMBER 64

/** Name of the one exported symbol, of type osago_plugin_entry_fn. */
#define OSAGO_PLUGIN_ENTRY_SYMBOL "osago_plugin_entry"

/** A borrowed UTF-8 string: `data` need not be NUL-terminated. */
typedef struct osago_str {
  const char* data;
  size_t len;
} osago_str;

/** Result of every call that can fail. Values are fixed forever. */
typedef enum osago_status {
  OSAGO_STATUS_OK = 0,
  /** The quote input or the configuration is unacceptable; retrying will not help. */
  OSAGO_STATUS_INVALID_INPUT = 1,
  /** A transient failure (network, partner 5xx, timeout): the same call may be retried. */
  OSAGO_STATUS_TRANSIENT = 2,
  /** The partner answered with something that will not change on retry. */
  OSAGO_STATUS_PERMANENT = 3,
  /** A bug or an unexpected state inside the plugin. */
  OSAGO_STATUS_INTERNAL = 4,
  /** The host-enforced timeout of an HTTP call elapsed. */
  OSAGO_STATUS_TIMEOUT = 5
} osago_status;

typedef enum osago_log_level {
  OSAGO_LOG_DEBUG = 0,
  OSAGO_LOG_INFO = 1,
  OSAGO_LOG_WARNING = 2,
  OSAGO_LOG_ERROR = 3
} osago_log_level;

typedef struct osago_http_header {
  osago_str name;
  osago_str value;
} osago_http_header;

/** An outgoing HTTP request; everything in it is borrowed from the plugin for the call. */
typedef struct osago_http_request {
  uint32_t struct_size;
  osago_str method;              /**< "GET", "POST", ... */
  osago_str url;                 /**< absolute http:// URL */
  const osago_http_header* headers;
  size_t header_count;
  osago_str body;                /**< may be empty */
  uint32_t timeout_ms;           /**< the plugin's wish; the host may shorten it (0 = host default) */
} osago_http_request;

/**
 * An HTTP response filled by the host. All strings are owned by the host and
 * stay valid until the plugin's current submit/poll call returns.
 */
typedef struct osago_http_response {
  uint32_t struct_size;
  int32_t status_code;
  osago_str body;
  osago_str content_type;
  osago_str retry_after;         /**< the Retry-After header, empty if absent */
} osago_http_response;

/**
 * One submit, poll, issue or issue_poll call. Owned by the host; valid only during the call.
 * The plugin reports its outcome by calling `reply` exactly once before
 * returning OSAGO_STATUS_OK (see docs/plugin-abi.md for the outcome JSON).
 * On any other status it may call `reply` with {"message": "..."} to explain.
 */
typedef struct osago_call {
  uint32_t struct_size;
  osago_str correlation_id;      /**< for log lines about this request */
  int64_t deadline_unix_ms;      /**< the request's deadline; calls past it are cut */
  void* host_call_ctx;           /**< opaque, pass back to host functions */
  /** Hands the outcome JSON to the host, which copies it before returning. */
  void (*reply)(void* host_call_ctx, osago_str outcome_json);
  /* --- since 1.1 (check struct_size) --- */
  /**
   * The W3C traceparent of this call ("00-<trace id>-<span id>-01"): the quote's
   * trace, for the plugin's log lines. The host already sends a traceparent of
   * the same trace on the plugin's HTTP requests unless the plugin sets one.
   * Empty when the request has no trace.
   */
  osago_str traceparent;
} osago_call;

/**
 * Services the host offers to plugins. Owned by the host and valid for the
 * whole life of every plugin instance. All functions are thread-safe.
 */
typedef struct osago_host_api {
  uint32_t struct_size;
  uint16_t abi_major;
  uint16_t abi_minor;
  void* host_ctx;                /**< opaque, pass back to log/now */
  /** Writes one log line, tagged with the plugin and company. Never logs personal data for you: do not pass it. */
  void (*log)(void* host_ctx, osago_log_level level, osago_str message);
  /** Wall-clock time, milliseconds since the Unix epoch (tests may inject a clock). */
  int64_t (*now_unix_ms)(void* host_ctx);
  /**
   * Performs an HTTP call on behalf of the plugin within `call`. The host
   * caps the timeout by the partner's configured timeout and the request's
   * remaining deadline. Returns OK when a response (any status code) was
   * received, TIMEOUT or TRANSIENT otherwise; `response` is filled on OK.
   */
  osago_status (*http_call)(void* host_call_ctx, const osago_http_request* request,
                            osago_http_response* response);
  /**
   * Looks up the secret `name` (e.g. "apiKey") configured for this company in
   * the plugin's manifest. On OK, `*value` points to host-owned memory that
   * stays valid for the instance's life. Returns OSAGO_STATUS_INVALID_INPUT
   * when no such secret is configured. Secrets never appear in logs or in the
   * admin API.
   */
  osago_status (*secret_get)(void* host_ctx, osago_str name, osago_str* value);
} osago_host_api;

/**
 * The table a plugin returns. It and the strings it points to are owned by
 * the plugin and live as long as the library stays loaded.
 * submit/poll may be called from several threads at once on one instance.
 */
typedef struct osago_plugin_api {
  uint32_t struct_size;
  uint16_t abi_major;            /**< the ABI the plugin was built for */
  uint16_t abi_minor;
  const char* plugin_id;         /**< NUL-terminated, stable machine id, e.g. "polisnet" */
  const char* plugin_name;       /**< NUL-terminated, human-readable */
  const char* plugin_version;    /**< NUL-terminated, e.g. "1.2.0" */

  /**
   * Creates an instance serving one insurance company. `config_json` is the
   * company's `settings` from the plugin's manifest (borrowed). `host` stays
   * valid until destroy(). On OK, *instance_out is owned by the host and is
   * released with destroy(). Errors are explained through host->log.
   */
  osago_status (*create)(const osago_host_api* host, osago_str config_json, void** instance_out);

  /** Sends a new application: `quote_json` is the canonical quote input (borrowed). */
  osago_status (*submit)(void* instance, const osago_call* call, osago_str quote_json);

  /** Asks for the result of an application previously accepted with `external_id`. */
  osago_status (*poll)(void* instance, const osago_call* call, osago_str external_id);

  /** Releases an instance. No call on it is running or will run. */
  void (*destroy)(void* instance);
  /* --- since 1.2 (check struct_size): buying an offer --- */
  /**
   * Starts buying an offer this plugin made. `purchase_json` is the purchase
   * document (borrowed): the application id and the offer as the plugin
   * reported them, the quote input, and the buyer's contact data. The plugin
   * replies a purchase outcome (PENDING, PAYMENT, PAID, ISSUED or DECLINED;
   * docs/plugin-abi.md). NULL, or a table from before 1.2: this plugin's
   * offers cannot be bought through the host.
   */
  osago_status (*issue)(void* instance, const osago_call* call, osago_str purchase_json);
  /** Asks for the state of a purchase the partner accepted as `external_purchase_id`. NULL with `issue`. */
  osago_status (*issue_poll)(void* instance, const osago_call* call, osago_str external_purchase_id);
} osago_plugin_api;

/**
 * The entry point. The host passes its ABI version; the plugin returns its
 * table (never NULL for a well-formed plugin) and the host then decides
 * whether the versions are compatible.
 */
typedef const osago_plugin_api* (*osago_plugin_entry_fn)(uint16_t host_abi_major,
                                                         uint16_t host_abi_minor);

/**
 * Whether a plugin's table offers buying (ABI 1.2): built for 1.2 or later,
 * large enough to hold both purchase entries, and both set. The host, its
 * plugin worker and the test kit all decide with this one test.
 */
#define OSAGO_PLUGIN_PURCHASABLE(api)                                                    \
  ((api)->abi_minor >= 2 &&                                                              \
   (api)->struct_size >= offsetof(osago_plugin_api, issue_poll) + sizeof((api)->issue_poll) && \
   (api)->issue != NULL && (api)->issue_poll != NULL)

#ifdef __cplusplus
}
#endif

#endif /* OSAGO_PLUGIN_ABI_H */
