#===- cmake/BuildNpuPlugin.cmake - The npu plugin, as a vendor builds it ---===#
#
# cmake -DMOEC_BINARY_DIR=... -DSOURCE=targets/npu -DBUILD=... [-DCC=...
# -DCXX=... -DTYPE=...] -P BuildNpuPlugin.cmake
#
# Installs moec's SDK into MOEC_BINARY_DIR/sdk, then configures and builds
# the plugin in BUILD against that prefix alone (docs/npu.md).
#
#===-------------------------------------------------------------------------===#
function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status ${QUIET})
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${what} failed (${status})")
  endif()
endfunction()

set(QUIET OUTPUT_QUIET)
run("installing the SDK" ${CMAKE_COMMAND} --install ${MOEC_BINARY_DIR}
  --prefix ${MOEC_BINARY_DIR}/sdk)
run("configuring the npu plugin" ${CMAKE_COMMAND} -G Ninja -S ${SOURCE}
  -B ${BUILD} -DCMAKE_PREFIX_PATH=${MOEC_BINARY_DIR}/sdk
  -DCMAKE_C_COMPILER=${CC} -DCMAKE_CXX_COMPILER=${CXX}
  -DCMAKE_BUILD_TYPE=${TYPE})
set(QUIET)
run("building the npu plugin" ${CMAKE_COMMAND} --build ${BUILD} --parallel 2)
