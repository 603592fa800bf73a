// The npu dialect prints each command with its operands by name and parses
// that form back; the verifier names what is wrong with a command.
// RUN: %npu_opt %s | %npu_opt | FileCheck %s

// CHECK-LABEL: npu.program @main_t16 entry = "main" tokens = 16
// CHECK: npu.segment @workspace kind = "workspace" bytes = 4096 name = ""
// CHECK: npu.core 0
// CHECK: npu.scalar "mov" rd = 1 (value = 64)
// CHECK: npu.loop rd = 2 (count = r1)
// CHECK: npu.scalar "load" rd = 3 "ub" (addr = r2+128)
// CHECK: npu.dma "nd_to_fractal" "gm" -> "l1" elem = "f16" (dst = 0, src = r3, rows = 16, cols = 64, src_stride = 128, tile_rows = 16, tile_cols = 16)
// CHECK: npu.set_flag "mte2" -> "m" event = 0
// CHECK: npu.wait_flag "mte2" -> "m" event = 0
// CHECK: npu.mmad "f16" accumulate (c = 0, a = 0, b = 0, m = r3, k = 64, n = 32)
// CHECK: npu.vector "add" "f32" src1 = "row_scalar" (dst = 0, src0 = 0, src1 = 4096, count = 64, rows = 16, dst_stride = 256, src0_stride = 256, src1_stride = 4)
// CHECK: npu.vector "cast" "f16" from "f32"
// CHECK: npu.vector "topk" "f32" (values = 0, scores = 64, indices = 128, n = 8, rows = 1, k = 2, scores_stride = 32)
// CHECK: npu.barrier_all
npu.program @main_t16 entry = "main" tokens = 16 {
  npu.segment @workspace kind = "workspace" bytes = 4096 name = ""
  npu.core 0 {
    npu.scalar "mov" rd = 1 (value = 64)
    npu.loop rd = 2 (count = r1) {
      npu.scalar "load" rd = 3 "ub" (addr = r2+128)
    }
    npu.dma "nd_to_fractal" "gm" -> "l1" elem = "f16" (dst = 0, src = r3, rows = 16, cols = 64, src_stride = 128, tile_rows = 16, tile_cols = 16)
    npu.set_flag "mte2" -> "m" event = 0
    npu.wait_flag "mte2" -> "m" event = 0
    npu.mmad "f16" accumulate (c = 0, a = 0, b = 0, m = r3, k = 64, n = 32)
    npu.vector "add" "f32" src1 = "row_scalar" (dst = 0, src0 = 0, src1 = 4096, count = 64, rows = 16, dst_stride = 256, src0_stride = 256, src1_stride = 4)
    npu.vector "cast" "f16" from "f32" (dst = 0, src0 = 0, src1 = 0, count = 64, rows = 1, dst_stride = 0, src0_stride = 0, src1_stride = 0)
    npu.vector "topk" "f32" (values = 0, scores = 64, indices = 128, n = 8, rows = 1, k = 2, scores_stride = 32)
    npu.barrier_all
  }
}
