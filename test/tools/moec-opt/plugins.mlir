// The pass plugin matches moe.router by C++ class: it only finds the routers
// if the plugin shares the tool's moe dialect and MLIR registries.
// RUN: moec-opt %s --load-pass-plugin=%moec_libs/libMoecTestPlugin%shlibext \
// RUN:   --load-dialect-plugin=%moec_libs/libMoecTestPlugin%shlibext \
// RUN:   --pass-pipeline="builtin.module(moe-test-count-routers)" -verify-diagnostics
// The dialect plugin registers the moe_test_plugin dialect; without it the
// op below is rejected.
// RUN: moec-opt %s --load-dialect-plugin=%moec_libs/libMoecTestPlugin%shlibext | FileCheck %s
// RUN: not moec-opt %s 2>&1 | FileCheck %s --check-prefix=UNREGISTERED

// CHECK: "moe_test_plugin.marker"()
// UNREGISTERED: error: operation being parsed with an unregistered dialect

func.func @f(%l: tensor<?x8xf32>, %m: tensor<?x64xf32>) {
  // expected-remark @+1 {{router picks 2 of 8 experts}}
  %w, %i = moe.router %l top_k = 2 scoring = softmax normalize
      : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  // expected-remark @+1 {{router picks 8 of 64 experts}}
  %w2, %i2 = moe.router %m top_k = 8 scoring = softmax
      : tensor<?x64xf32> -> tensor<?x8xf32>, tensor<?x8xi32>
  "moe_test_plugin.marker"() : () -> ()
  return
}
