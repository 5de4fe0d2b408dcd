# In-tree plugins use the same osago_add_plugin() as out-of-tree ones (the
# installed SDK's helper), built into ${CMAKE_BINARY_DIR}/plugins with the
# project's warnings.
include(${PROJECT_SOURCE_DIR}/plugin-api/cmake/OsagoPluginHelpers.cmake)

# osago_bundled_plugin(<name> SOURCES <files...> TESTS <files...>)
# A plugin of this repository: built into ${CMAKE_BINARY_DIR}/plugins with its
# manifest.yaml, with the project's warnings, a unit test executable
# (unit.plugin.<name>) that links the plugin's sources and the fake host, and
# its own install component plugin-<name> (the package osago-plugin-<name>).
function(osago_bundled_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES;TESTS" ${ARGN})
  osago_add_plugin(${name} SOURCES ${ARG_SOURCES} MANIFEST manifest.yaml OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/plugins
                   INSTALL_COMPONENT plugin-${name})
  set_property(GLOBAL APPEND PROPERTY OSAGO_BUNDLED_PLUGINS ${name})
  osago_set_warnings(osago_plugin_${name})
  add_executable(${name}_plugin_test ${ARG_TESTS} ${ARG_SOURCES})
  target_include_directories(${name}_plugin_test PRIVATE src)
  target_link_libraries(${name}_plugin_test PRIVATE osago::plugin_testing GTest::gtest_main)
  osago_set_warnings(${name}_plugin_test)
  add_dependencies(osago_unit_tests ${name}_plugin_test)
  add_test(NAME unit.plugin.${name} COMMAND ${name}_plugin_test)
  set_tests_properties(unit.plugin.${name} PROPERTIES LABELS unit TIMEOUT 120)
endfunction()
