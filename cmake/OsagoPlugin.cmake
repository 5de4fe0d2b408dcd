# osago_add_plugin(<name> SOURCES <files...> [MANIFEST <file>])
# Builds an insurer plugin as a MODULE library named osago_plugin_<name>.so
# that exports only the ABI entry symbol, into ${CMAKE_BINARY_DIR}/plugins,
# with its manifest beside it as osago_plugin_<name>.yaml. A plugin links the
# plugin API (headers only) and never host code.
function(osago_add_plugin name)
  cmake_parse_arguments(ARG "" "MANIFEST" "SOURCES" ${ARGN})
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
  if(ARG_MANIFEST)
    configure_file(${ARG_MANIFEST} ${CMAKE_BINARY_DIR}/plugins/${target}.yaml COPYONLY)
  endif()
endfunction()
