# osago_add_plugin(<name> SOURCES <files...>)
# Builds an insurer plugin as a MODULE library named osago_plugin_<name>.so
# that exports only the ABI entry symbol. A plugin links the plugin API
# (headers only) and never host code.
function(osago_add_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES" ${ARGN})
  set(target osago_plugin_${name})
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE osago::plugin_api)
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/plugins")
  target_link_options(${target} PRIVATE -Wl,--no-undefined)
  osago_set_warnings(${target})
endfunction()
