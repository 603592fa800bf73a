// The verifier names what is wrong with a command; the parser checks the
// operand names against the command's.
// RUN: %npu_opt %s --split-input-file --verify-diagnostics > /dev/null


npu.core 0 {
  // expected-error @+1 {{'mmad' takes 6 operands, found 3 values and 3 registers}}
  "npu.mmad"() <{elem = "f16", args = array<i64: 0, 0, 0>, regs = array<i64: 0, 0, 0>}> : () -> ()
}

// -----

npu.core 0 {
  // expected-error @+1 {{the cube multiplies f16, bf16 or i8, not f32}}
  npu.mmad "f32" (c = 0, a = 0, b = 0, m = 16, k = 16, n = 16)
}

// -----

npu.core 0 {
  // expected-error @+1 {{operand 'value' names register r40; the core has r0..r31}}
  npu.scalar "mov" rd = 1 (value = r40)
}

// -----

npu.core 0 {
  // expected-error @+1 {{writes register r0; writable registers are r1..r31}}
  npu.scalar "add" rd = 0 (a = 1, b = 2)
}

// -----

npu.core 0 {
  // expected-error @+1 {{spaces are gm, l1, l0a, l0b, l0c and ub, not 'l2'}}
  npu.dma "copy" "gm" -> "l2" (dst = 0, src = 0, rows = 1, row_bytes = 64, src_stride = 0, dst_stride = 0)
}

// -----

npu.core 0 {
  // expected-error @+1 {{synchronises pipe m with itself}}
  npu.set_flag "m" -> "m" event = 0
}

// -----

npu.core 0 {
  // expected-error @+1 {{event 9 is not in 0..7}}
  npu.wait_flag "mte2" -> "m" event = 9
}

// -----

npu.core 0 {
  // expected-error @+1 {{expected operand 'src', found 'source'}}
  npu.dma "copy" "gm" -> "ub" (dst = 0, source = 0, rows = 1, row_bytes = 64, src_stride = 0, dst_stride = 0)
}

// -----

// expected-error @+1 {{kind 'scratch' is not workspace, input, output, weight, state or call}}
npu.segment @s kind = "scratch" bytes = 64 name = ""
