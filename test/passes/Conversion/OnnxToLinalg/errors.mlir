// RUN: moec-opt --convert-onnx-to-linalg --split-input-file --verify-diagnostics %s

func.func @unsupported(%x: tensor<4xf32>) -> tensor<*xf32> {
  // expected-error @+1 {{node (op type 'Conv', domain 'ai.onnx', opset 17): unsupported op}}
  %0 = onnx.node "Conv" opset 17 (%x) : (tensor<4xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

func.func @unsupported_domain(%x: tensor<4xf32>) -> tensor<*xf32> {
  // expected-error @+1 {{(op type 'FusedGemm', domain 'com.microsoft', opset 1): unsupported op}}
  %0 = onnx.node "FusedGemm" domain "com.microsoft" opset 1 (%x) : (tensor<4xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

func.func @broadcast_mismatch(%a: tensor<3x4xf32>, %b: tensor<5xf32>) -> tensor<*xf32> {
  // expected-error @+1 {{cannot broadcast dimension of size 4 with one of size 5}}
  %0 = onnx.node "Add" opset 14 (%a, %b) : (tensor<3x4xf32>, tensor<5xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

func.func @contraction_mismatch(%a: tensor<3x4xf32>, %b: tensor<5x2xf32>) -> tensor<*xf32> {
  // expected-error @+1 {{contracts a dimension of size 4 with one of size 5}}
  %0 = onnx.node "MatMul" opset 13 (%a, %b) : (tensor<3x4xf32>, tensor<5x2xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

func.func @axis_out_of_range(%x: tensor<3x4xf32>) -> tensor<*xf32> {
  // expected-error @+1 {{axis 2 is out of range for rank 2}}
  %0 = onnx.node "Softmax" opset 13 (%x) {axis = 2 : i64} : (tensor<3x4xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

func.func @declared_shape_contradicts(%x: tensor<3x4xf32>) -> tensor<3x5xf32> {
  // expected-error @+1 {{output 0 is 'tensor<3x4xf32>' but the model declares 'tensor<3x5xf32>'}}
  %0 = onnx.node "Relu" opset 14 (%x) : (tensor<3x4xf32>) -> tensor<3x5xf32>
  return %0 : tensor<3x5xf32>
}

// -----

func.func @unranked_input(%x: tensor<*xf32>) -> tensor<*xf32> {
  // expected-error @+1 {{needs a known rank for input 0, got 'tensor<*xf32>' (declare the input's shape or use --input-shape)}}
  %0 = onnx.node "Relu" opset 14 (%x) : (tensor<*xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

func.func @float_indices(%x: tensor<3x4xf32>, %i: tensor<2xf32>) -> tensor<*xf32> {
  // expected-error @+1 {{expects int32 or int64 indices}}
  %0 = onnx.node "Gather" opset 13 (%x, %i) : (tensor<3x4xf32>, tensor<2xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

func.func @runtime_axes(%x: tensor<3x4xf32>, %axes: tensor<1xi64>) -> tensor<*xf32> {
  // expected-error @+1 {{needs constant axes}}
  %0 = onnx.node "ReduceSum" opset 13 (%x, %axes) : (tensor<3x4xf32>, tensor<1xi64>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

func.func @nbits_bad_weights(%a: tensor<2x64xf32>, %b: tensor<4x2x8xui8>, %s: tensor<4x2xf32>) -> tensor<*xf32> {
  // expected-error @+1 {{expects B as tensor<4x2x16xui8>, got 'tensor<4x2x8xui8>'}}
  %0 = onnx.node "MatMulNBits" domain "com.microsoft" opset 1 (%a, %b, %s) {K = 64 : i64, N = 4 : i64, bits = 4 : i64, block_size = 32 : i64} : (tensor<2x64xf32>, tensor<4x2x8xui8>, tensor<4x2xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

func.func @top_k_too_many(%x: tensor<3x4xf32>) -> (tensor<*xf32>, tensor<*xi64>) {
  %k = arith.constant dense<5> : tensor<1xi64>
  // expected-error @+1 {{asks for 5 of 4 elements}}
  %v, %i = onnx.node "TopK" opset 11 (%x, %k) : (tensor<3x4xf32>, tensor<1xi64>) -> (tensor<*xf32>, tensor<*xi64>)
  return %v, %i : tensor<*xf32>, tensor<*xi64>
}

// -----

func.func @bad_perm(%x: tensor<2x3xf32>) -> tensor<*xf32> {
  // expected-error @+1 {{perm is not a permutation of the input's 2 dimensions}}
  %0 = onnx.node "Transpose" opset 13 (%x) {perm = array<i64: 0, 2>} : (tensor<2x3xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

func.func @float_shape(%x: tensor<2x3xf32>, %s: tensor<2xf32>) -> tensor<*xf32> {
  // expected-error @+1 {{expects the shape as a 1-D integer tensor of static length at most 64, got 'tensor<2xf32>'}}
  %0 = onnx.node "Reshape" opset 14 (%x, %s) : (tensor<2x3xf32>, tensor<2xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

func.func @reshape_count(%x: tensor<2x3xf32>) -> tensor<*xf32> {
  %s = arith.constant dense<[4, 2]> : tensor<2xi64>
  // expected-error @+1 {{cannot reshape 'tensor<2x3xf32>' to 8 elements}}
  %0 = onnx.node "Reshape" opset 14 (%x, %s) : (tensor<2x3xf32>, tensor<2xi64>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

func.func @no_outputs(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{has no outputs}}
  onnx.node "Relu" opset 14 (%x) : (tensor<2x3xf32>) -> ()
  return
}

// -----

func.func @mixed_norm_types(%x: tensor<2x8xf32>, %s: tensor<8xf16>) -> tensor<*xf32> {
  // expected-error @+1 {{expects element type 'f32', got 'tensor<8xf16>'}}
  %0 = onnx.node "SimplifiedLayerNormalization" opset 1 (%x, %s) : (tensor<2x8xf32>, tensor<8xf16>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

func.func @split_sum(%x: tensor<2x5xf32>) -> (tensor<*xf32>, tensor<*xf32>) {
  %split = arith.constant dense<[1, 3]> : tensor<2xi64>
  // expected-error @+1 {{splits dimension 1 of size 5 into parts summing to 4}}
  %a, %b = onnx.node "Split" opset 13 (%x, %split) {axis = 1 : i64} : (tensor<2x5xf32>, tensor<2xi64>) -> (tensor<*xf32>, tensor<*xf32>)
  return %a, %b : tensor<*xf32>, tensor<*xf32>
}

// -----

func.func @scatter_elements_shapes_differ(%x: tensor<3x4xf32>, %i: tensor<2x3xi64>, %u: tensor<2x4xf32>) -> tensor<*xf32> {
  // expected-error @+1 {{dimension 1 of the updates (4) must equal dimension 1 of the indices (3)}}
  %0 = onnx.node "ScatterElements" opset 16 (%x, %i, %u) {axis = 0 : i64} : (tensor<3x4xf32>, tensor<2x3xi64>, tensor<2x4xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

func.func @scatter_elements_beyond_data(%x: tensor<3x3xf32>, %i: tensor<2x5xi64>, %u: tensor<2x5xf32>) -> tensor<*xf32> {
  // expected-error @+1 {{dimension 1 of the indices (5) must not exceed dimension 1 of the data (3)}}
  %0 = onnx.node "ScatterElements" opset 16 (%x, %i, %u) {axis = 0 : i64} : (tensor<3x3xf32>, tensor<2x5xi64>, tensor<2x5xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

func.func @scatter_elements_rank(%x: tensor<3x3xf32>, %i: tensor<2xi64>, %u: tensor<2xf32>) -> tensor<*xf32> {
  // expected-error @+1 {{expects indices and updates of the data's rank, got data 'tensor<3x3xf32>', indices 'tensor<2xi64>' and updates 'tensor<2xf32>'}}
  %0 = onnx.node "ScatterElements" opset 16 (%x, %i, %u) : (tensor<3x3xf32>, tensor<2xi64>, tensor<2xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

func.func @expand_mismatch(%x: tensor<2x3xf32>) -> tensor<*xf32> {
  %s = arith.constant dense<[2, 4]> : tensor<2xi64>
  // expected-error @+1 {{cannot expand dimension 1 of size 3 to 4}}
  %0 = onnx.node "Expand" opset 13 (%x, %s) : (tensor<2x3xf32>, tensor<2xi64>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

func.func @tile_repeats_length(%x: tensor<2x3xf32>) -> tensor<*xf32> {
  %r = arith.constant dense<[2]> : tensor<1xi64>
  // expected-error @+1 {{has 1 repeats for an input of rank 2}}
  %0 = onnx.node "Tile" opset 13 (%x, %r) : (tensor<2x3xf32>, tensor<1xi64>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

func.func @tile_negative_repeat(%x: tensor<2x3xf32>) -> tensor<*xf32> {
  %r = arith.constant dense<[1, -2]> : tensor<2xi64>
  // expected-error @+1 {{has negative repeat -2 for dimension 1}}
  %0 = onnx.node "Tile" opset 13 (%x, %r) : (tensor<2x3xf32>, tensor<2xi64>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

func.func @tile_float_repeats(%x: tensor<2x3xf32>, %r: tensor<2xf32>) -> tensor<*xf32> {
  // expected-error @+1 {{expects repeats as a 1-D integer tensor of static length at most 64, got 'tensor<2xf32>'}}
  %0 = onnx.node "Tile" opset 13 (%x, %r) : (tensor<2x3xf32>, tensor<2xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

func.func @constant_of_shape_negative(%x: tensor<2x3xf32>) -> tensor<*xf32> {
  %s = arith.constant dense<[2, -1]> : tensor<2xi64>
  // expected-error @+1 {{has negative shape entry -1}}
  %0 = onnx.node "ConstantOfShape" opset 9 (%s) : (tensor<2xi64>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}
