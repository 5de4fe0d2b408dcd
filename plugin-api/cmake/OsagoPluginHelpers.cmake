# osago_add_plugin(<name> SOURCES <files...> [MANIFEST <file>] [OUTPUT_DIRECTORY <dir>])
#
# Builds an insurer plugin as the MODULE library osago_plugin_<name>.so that
# exports only the ABI entry symbol (hidden visibility, --no-undefined) and
# links only the plugin API. With MANIFEST, the file is copied beside the
# library as osago_plugin_<name>.yaml, the way the aggregator expects it.
# Part of the installed plugin SDK (find_package(OsagoPluginApi)).
function(osago_add_plugin name)
  cmake_parse_arguments(ARG "" "MANIFEST;OUTPUT_DIRECTORY" "SOURCES" ${ARGN})
  if(NOT ARG_OUTPUT_DIRECTORY)
    set(ARG_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  endif()
  set(target osago_plugin_${name})
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE osago::plugin_api)
  target_compile_features(${target} PRIVATE cxx_std_20)
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIRECTORY})
  target_link_options(${target} PRIVATE -Wl,--no-undefined)
  if(ARG_MANIFEST)
    configure_file(${ARG_MANIFEST} ${ARG_OUTPUT_DIRECTORY}/${target}.yaml COPYONLY)
  endif()
endfunction()
