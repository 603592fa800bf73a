// RUN: moec-opt %s -split-input-file -verify-diagnostics

func.func @embedding_rank(%t: tensor<128xbf16>, %ids: tensor<?xi64>) -> tensor<?x64xf32> {
  // expected-error @+1 {{table must be [V, H], not rank 1}}
  %h = decoder.embedding %t[%ids] : tensor<128xbf16>, tensor<?xi64> -> tensor<?x64xf32>
  return %h : tensor<?x64xf32>
}

// -----

func.func @embedding_width(%t: tensor<128x64xbf16>, %ids: tensor<?xi64>) -> tensor<?x32xf32> {
  // expected-error @+1 {{result must be [T, H] = [-9223372036854775808, 64], not 'tensor<?x32xf32>'}}
  %h = decoder.embedding %t[%ids] : tensor<128x64xbf16>, tensor<?xi64> -> tensor<?x32xf32>
  return %h : tensor<?x32xf32>
}

// -----

func.func @norm_weight(%x: tensor<?x64xf32>, %w: tensor<32xf32>) -> tensor<?x64xf32> {
  // expected-error @+1 {{weight must be [H] with H = 64 (the input's last dimension), not 'tensor<32xf32>'}}
  %y = decoder.rms_norm %x, %w epsilon = 1.0e-06 : tensor<?x64xf32>, tensor<32xf32>
  return %y : tensor<?x64xf32>
}

// -----

func.func @norm_epsilon(%x: tensor<?x64xf32>, %w: tensor<64xf32>) -> tensor<?x64xf32> {
  // expected-error @+1 {{epsilon must be positive}}
  %y = decoder.rms_norm %x, %w epsilon = 0.0 : tensor<?x64xf32>, tensor<64xf32>
  return %y : tensor<?x64xf32>
}

// -----

func.func @rope_too_wide(%x: tensor<?x4x2xf32>, %p: tensor<?xi64>) -> tensor<?x4x2xf32> {
  // expected-error @+1 {{rotates 4 dimensions (2 x inv_freq), more than the head's 2}}
  %y = decoder.rope %x, %p inv_freq = [1.0 : f64, 0.5 : f64] amplitude = 1.0 : tensor<?x4x2xf32>, tensor<?xi64>
  return %y : tensor<?x4x2xf32>
}

// -----

func.func @rope_positions(%x: tensor<3x4x2xf32>, %p: tensor<5xi64>) -> tensor<3x4x2xf32> {
  // expected-error @+1 {{positions must be [T] with T = 3, not 'tensor<5xi64>'}}
  %y = decoder.rope %x, %p inv_freq = [1.0 : f64] amplitude = 1.0 : tensor<3x4x2xf32>, tensor<5xi64>
  return %y : tensor<3x4x2xf32>
}

// -----

func.func @attention_groups(%q: tensor<?x4x16xf32>, %k: tensor<?x3x16xf32>, %v: tensor<?x3x16xf32>) -> tensor<?x4x16xf32> {
  // expected-error @+1 {{query heads (4) must be a static multiple of key heads (3)}}
  %o = decoder.attention %q, %k, %v scale = 0.25 : tensor<?x4x16xf32>, tensor<?x3x16xf32>, tensor<?x3x16xf32> -> tensor<?x4x16xf32>
  return %o : tensor<?x4x16xf32>
}

// -----

func.func @attention_queries(%q: tensor<5x4x16xf32>, %k: tensor<3x2x16xf32>, %v: tensor<3x2x16xf32>) -> tensor<5x4x16xf32> {
  // expected-error @+1 {{has more queries (5) than keys (3)}}
  %o = decoder.attention %q, %k, %v scale = 0.25 : tensor<5x4x16xf32>, tensor<3x2x16xf32>, tensor<3x2x16xf32> -> tensor<5x4x16xf32>
  return %o : tensor<5x4x16xf32>
}

// -----

func.func @attention_sinks(%q: tensor<?x4x16xf32>, %k: tensor<?x2x16xf32>, %v: tensor<?x2x16xf32>, %s: tensor<2xf32>) -> tensor<?x4x16xf32> {
  // expected-error @+1 {{sinks must be [H] with H = 4, not 'tensor<2xf32>'}}
  %o = decoder.attention %q, %k, %v sinks %s scale = 0.25 : tensor<?x4x16xf32>, tensor<?x2x16xf32>, tensor<?x2x16xf32>, tensor<2xf32> -> tensor<?x4x16xf32>
  return %o : tensor<?x4x16xf32>
}

// -----

func.func @attention_window(%q: tensor<?x4x16xf32>, %k: tensor<?x2x16xf32>, %v: tensor<?x2x16xf32>) -> tensor<?x4x16xf32> {
  // expected-error @+1 {{'window' failed to satisfy constraint}}
  %o = decoder.attention %q, %k, %v scale = 0.25 window = 0 : tensor<?x4x16xf32>, tensor<?x2x16xf32>, tensor<?x2x16xf32> -> tensor<?x4x16xf32>
  return %o : tensor<?x4x16xf32>
}
