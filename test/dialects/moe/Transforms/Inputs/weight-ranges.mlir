// Weights at byte ranges of raw.bin, a 64-byte file.

// Two weights share the file; 16 f32 values end exactly at its end.
func.func @in_range() -> (tensor<4xf32>, tensor<2x4xf32>) {
  %a = moe.weight "a" from "raw.bin" at 0 : tensor<4xf32>
  %b = moe.weight "b" from "raw.bin" at 32 : tensor<2x4xf32>
  return %a, %b : tensor<4xf32>, tensor<2x4xf32>
}

// -----

func.func @past_the_end() -> tensor<4xf32> {
  // expected-error @+1 {{cannot load weight: weight 'c' needs bytes [56, 72) of}}
  %c = moe.weight "c" from "raw.bin" at 56 : tensor<4xf32>
  return %c : tensor<4xf32>
}

// -----

func.func @missing_file() -> tensor<4xf32> {
  // expected-error @+1 {{cannot load weight: cannot open weights file}}
  %d = moe.weight "d" from "absent.bin" at 0 : tensor<4xf32>
  return %d : tensor<4xf32>
}
