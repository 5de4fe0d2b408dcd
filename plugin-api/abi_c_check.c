/* Compiled as C to prove plugin_abi.h stays a C header. */
#include <osago/plugin_abi.h>

size_t osago_abi_c_check_sizes(void);
size_t osago_abi_c_check_sizes(void) {
  return sizeof(osago_plugin_api) + sizeof(osago_host_api) + sizeof(osago_call) +
         sizeof(osago_http_request) + sizeof(osago_http_response);
}
