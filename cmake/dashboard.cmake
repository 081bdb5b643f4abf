# The web dashboard (docs/dashboard.md): web/dashboard/* -> one gzipped HTML page -> a C++ header
# in the build tree (never in the source tree), included by spored. tools/embed_asset.py fails the
# build when the gzipped page exceeds its 12 KB budget.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
file(GLOB SPORE_DASHBOARD_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/web/dashboard/*)
set(SPORE_GENERATED_DIR ${CMAKE_BINARY_DIR}/generated)
add_custom_command(
  OUTPUT ${SPORE_GENERATED_DIR}/spore_dashboard_asset.h ${SPORE_GENERATED_DIR}/dashboard.html.gz
  COMMAND Python3::Interpreter ${CMAKE_SOURCE_DIR}/tools/embed_asset.py
          --src ${CMAKE_SOURCE_DIR}/web/dashboard
          --header ${SPORE_GENERATED_DIR}/spore_dashboard_asset.h
          --gzip ${SPORE_GENERATED_DIR}/dashboard.html.gz
  DEPENDS ${SPORE_DASHBOARD_SOURCES} ${CMAKE_SOURCE_DIR}/tools/embed_asset.py
  COMMENT "Embedding the web dashboard (tools/embed_asset.py)"
  VERBATIM)
add_custom_target(spore_dashboard_asset DEPENDS ${SPORE_GENERATED_DIR}/spore_dashboard_asset.h)

if(TARGET spored)
  add_dependencies(spored spore_dashboard_asset)
  target_include_directories(spored PRIVATE ${SPORE_GENERATED_DIR})
endif()

if(SPORE_TESTS AND NOT SPORE_FUZZ)
  enable_testing()
  # Same bytes twice, and within budget (the build already fails when over it).
  add_test(NAME dashboard.asset_reproducible_and_within_budget
           COMMAND Python3::Interpreter ${CMAKE_SOURCE_DIR}/tools/embed_asset.py --check
                   --src ${CMAKE_SOURCE_DIR}/web/dashboard)
  set_tests_properties(dashboard.asset_reproducible_and_within_budget PROPERTIES LABELS unit TIMEOUT 60)
endif()
