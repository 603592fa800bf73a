// RUN: moec-opt %s --moe-return-state-in-place --split-input-file | FileCheck %s

// A state input the entry returns is returned as it is: no clone, so no
// copy of the whole KV cache per call. The logits stay as they are, and a
// clone of an input that is not state stays too (the runtime does not own
// it).
module attributes {moec.entries = [{name = "main",
    inputs = [{name = "tokens", type = memref<?xi64>},
              {name = "cache", type = memref<?x4xf32>, state = "cache"}],
    outputs = [{name = "logits", type = memref<?x8xf32>},
               {name = "cache", type = memref<?x4xf32>, state = "cache"},
               {name = "echo", type = memref<?xi64>}],
    weights = array<i64>}]} {
  // CHECK-LABEL: func.func @moec_entry_0
  // CHECK-SAME: (%[[TOKENS:.*]]: memref<?xi64>, %[[CACHE:.*]]: memref<?x4xf32>, %[[LOGITS:.*]]: memref<?x8xf32>)
  func.func @moec_entry_0(%tokens: memref<?xi64>, %cache: memref<?x4xf32>,
                          %logits: memref<?x8xf32>)
      -> (memref<?x8xf32>, memref<?x4xf32>, memref<?xi64>) {
    // CHECK-NOT: bufferization.clone %[[CACHE]]
    // CHECK: %[[ECHO:.*]] = bufferization.clone %[[TOKENS]]
    %c = bufferization.clone %cache : memref<?x4xf32> to memref<?x4xf32>
    %e = bufferization.clone %tokens : memref<?xi64> to memref<?xi64>
    // CHECK: return %[[LOGITS]], %[[CACHE]], %[[ECHO]]
    return %logits, %c, %e : memref<?x8xf32>, memref<?x4xf32>, memref<?xi64>
  }
}

// -----

// A clone with another use stays: something else reads the copy.
module attributes {moec.entries = [{name = "main",
    inputs = [{name = "cache", type = memref<4xf32>, state = "cache"}],
    outputs = [{name = "cache", type = memref<4xf32>, state = "cache"}],
    weights = array<i64>}]} {
  // CHECK-LABEL: func.func @moec_entry_0
  func.func @moec_entry_0(%cache: memref<4xf32>) -> memref<4xf32> {
    // CHECK: %[[C:.*]] = bufferization.clone
    // CHECK: memref.store {{.*}}, %[[C]]
    // CHECK: return %[[C]]
    %c = bufferization.clone %cache : memref<4xf32> to memref<4xf32>
    %zero = arith.constant 0.0 : f32
    %i = arith.constant 0 : index
    memref.store %zero, %c[%i] : memref<4xf32>
    return %c : memref<4xf32>
  }
}
