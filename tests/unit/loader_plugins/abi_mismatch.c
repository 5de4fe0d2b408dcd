/* A plugin built for ABI major OSAGO_TEST_ABI_MAJOR, minor OSAGO_TEST_ABI_MINOR. */
#include <osago/plugin_abi.h>

static osago_status create(const osago_host_api* host, osago_str config, void** out) {
  (void)host; (void)config; *out = 0; return OSAGO_STATUS_INTERNAL;
}
static osago_status call(void* instance, const osago_call* c, osago_str s) {
  (void)instance; (void)c; (void)s; return OSAGO_STATUS_INTERNAL;
}
static void destroy(void* instance) { (void)instance; }

__attribute__((visibility("default"))) const osago_plugin_api* osago_plugin_entry(uint16_t major, uint16_t minor) {
  static const osago_plugin_api api = {sizeof(osago_plugin_api), OSAGO_TEST_ABI_MAJOR, OSAGO_TEST_ABI_MINOR,
                                       "abi-test", "ABI test plugin", "0.0.1", create, call, call, destroy};
  (void)major; (void)minor;
  return &api;
}
