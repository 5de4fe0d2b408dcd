# osago_add_plugin(<name> SOURCES <files...> [MANIFEST <file>] [OUTPUT_DIRECTORY <dir>]
#                  [INSTALL_COMPONENT <component>])
#
# Builds an insurer plugin as the MODULE library osago_plugin_<name>.so that
# exports only the ABI entry symbol (hidden visibility and a version script;
# --no-undefined) and links only the plugin API. With MANIFEST, the file is copied beside the
# library as osago_plugin_<name>.yaml, the way the aggregator expects it.
# With INSTALL_COMPONENT, `cmake --install` (and CPack, one package per
# component) puts both into the aggregator's plugin directory,
# ${OSAGO_PLUGIN_INSTALL_DIR} under the prefix (default lib/osago-aggregator/plugins,
# i.e. /usr/lib/osago-aggregator/plugins in a package).
# Part of the installed plugin SDK (find_package(OsagoPluginApi)).
set(OSAGO_PLUGIN_INSTALL_DIR lib/osago-aggregator/plugins CACHE STRING
    "Plugin directory of osago-aggregator, relative to the install prefix")

function(osago_add_plugin name)
  cmake_parse_arguments(ARG "" "MANIFEST;OUTPUT_DIRECTORY;INSTALL_COMPONENT" "SOURCES" ${ARGN})
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
  # Hidden visibility does not cover what the standard library's headers
  # instantiate (typeinfo, function-local statics: STB_GNU_UNIQUE symbols that
  # would also keep the library from ever unloading); a version script keeps
  # every symbol but the ABI entry point local.
  set(version_script ${CMAKE_CURRENT_BINARY_DIR}/${target}.map)
  file(WRITE ${version_script} "{\n  global: osago_plugin_entry;\n  local: *;\n};\n")
  target_link_options(${target} PRIVATE -Wl,--no-undefined -Wl,--version-script=${version_script})
  set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS ${version_script})
  if(ARG_MANIFEST)
    configure_file(${ARG_MANIFEST} ${ARG_OUTPUT_DIRECTORY}/${target}.yaml COPYONLY)
  endif()
  if(ARG_INSTALL_COMPONENT)
    install(TARGETS ${target} LIBRARY DESTINATION ${OSAGO_PLUGIN_INSTALL_DIR} COMPONENT ${ARG_INSTALL_COMPONENT})
    if(ARG_MANIFEST)
      install(FILES ${ARG_OUTPUT_DIRECTORY}/${target}.yaml DESTINATION ${OSAGO_PLUGIN_INSTALL_DIR}
              COMPONENT ${ARG_INSTALL_COMPONENT})
    endif()
  endif()
endfunction()
