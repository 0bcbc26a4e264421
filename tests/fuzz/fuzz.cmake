# libFuzzer targets (issue 8), one per input surface. Built only with -DSHOP_FUZZ=ON and clang
# (the top-level CMakeLists.txt adds coverage and ASan/UBSan to every library). Each target gets
# two ctest tests labelled fault and fuzz: <target>_regressions replays every past finding once,
# <target>_fuzz fuzzes from the committed corpus for SHOP_FUZZ_SECONDS.
if(SHOP_FUZZ)
  set(SHOP_FUZZ_SECONDS 20 CACHE STRING "Seconds each libFuzzer target runs under ctest")
  set(SHOP_FUZZ_DIR ${CMAKE_CURRENT_LIST_DIR})
  set(SHOP_FUZZ_WORK ${CMAKE_CURRENT_BINARY_DIR}/fuzz)

  # shop_fuzz_target(NAME LIBS ... [ARGS ...]): tests/fuzz/NAME.c, its corpus and regressions.
  function(shop_fuzz_target name)
    cmake_parse_arguments(F "" "" "LIBS;ARGS" ${ARGN})
    add_executable(${name} ${SHOP_FUZZ_DIR}/${name}.c)
    target_include_directories(${name} PRIVATE ${SHOP_FUZZ_DIR})
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(${name} PRIVATE ${F_LIBS})
    # New inputs go to the first directory (build tree), never into the committed corpus.
    file(MAKE_DIRECTORY ${SHOP_FUZZ_WORK}/corpus/${name} ${SHOP_FUZZ_WORK}/artifacts)
    set(common -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
               -artifact_prefix=${SHOP_FUZZ_WORK}/artifacts/${name}- ${F_ARGS})
    add_test(NAME ${name}_fuzz
             COMMAND ${name} ${common} -max_total_time=${SHOP_FUZZ_SECONDS}
                     ${SHOP_FUZZ_WORK}/corpus/${name} ${SHOP_FUZZ_DIR}/corpus/${name})
    set(timeout 0)
    math(EXPR timeout "${SHOP_FUZZ_SECONDS} * 3 + 60")
    set_tests_properties(${name}_fuzz PROPERTIES LABELS "fault;fuzz" TIMEOUT ${timeout})
    # -runs=0 runs each file of the directories once; a finding fixed stays fixed.
    if(EXISTS ${SHOP_FUZZ_DIR}/regressions/${name})
      add_test(NAME ${name}_regressions
               COMMAND ${name} ${common} -runs=0 ${SHOP_FUZZ_DIR}/regressions/${name}
                       ${SHOP_FUZZ_DIR}/corpus/${name})
    else()
      add_test(NAME ${name}_regressions
               COMMAND ${name} ${common} -runs=0 ${SHOP_FUZZ_DIR}/corpus/${name})
    endif()
    set_tests_properties(${name}_regressions PROPERTIES LABELS "fault;fuzz" TIMEOUT 120)
  endfunction()

  shop_fuzz_target(fuzz_avro_decode LIBS shop_codec PkgConfig::MHD
                   ARGS -dict=${SHOP_FUZZ_DIR}/avro.dict)
  shop_fuzz_target(fuzz_json_to_avro LIBS shop_producer shop_codec
                   ARGS -dict=${SHOP_FUZZ_DIR}/json.dict)
  target_include_directories(fuzz_json_to_avro PRIVATE ${PROJECT_SOURCE_DIR}/producers)
  shop_fuzz_target(fuzz_config LIBS shop_common)
  shop_fuzz_target(fuzz_search_text LIBS shop_search_text)
  shop_fuzz_target(fuzz_symspell LIBS shop_trending_correct)
  shop_fuzz_target(fuzz_http_args LIBS shop_search PkgConfig::HIREDIS PkgConfig::MHD)

  # Writes the Avro seeds of fuzz_avro_decode from JSON lines (see README.md); not a test.
  add_executable(fuzz_avro_seeds ${SHOP_FUZZ_DIR}/fuzz_avro_seeds.c)
  target_link_libraries(fuzz_avro_seeds PRIVATE shop_codec)

  add_custom_target(fuzz DEPENDS fuzz_avro_decode fuzz_json_to_avro fuzz_config fuzz_search_text
                                 fuzz_symspell fuzz_http_args)
endif()
