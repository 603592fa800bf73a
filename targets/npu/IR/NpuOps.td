//===- NpuOps.td - Commands of the reference NPU -----------*- tablegen -*-===//
//
// One op per command kind of machine/CommandStream.h. Operands are kept as
// two arrays, `args` (constants) and `regs` (the register added to each,
// 0 for none), printed by name: `(dst = r2+64, src = 0, rows = 16)`.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_NPU_OPS
#define MOEC_NPU_OPS

include "NpuDialect.td"
include "mlir/IR/SymbolInterfaces.td"

class Npu_CommandOp<string mnemonic, list<Trait> traits = []> :
    Npu_Op<mnemonic, traits> {
  let hasVerifier = 1;
}

def Npu_ProgramOp : Npu_Op<"program", [Symbol, SymbolTable, NoTerminator,
    SingleBlock]> {
  let summary = "the command streams of one entry point at one token count";
  let description = [{
    An entry point compiled for the static token count `tokens` (a bucket:
    the binary pads a call's tokens up to the smallest bucket that holds
    them). Holds the program's segments, then one `npu.core` per core.

    What the host evaluates before a run (machine/NpuImage.h): `scalars`,
    expression nodes of five words each (kind, a, b, c, imm: constants,
    the call's extents, an input's int32, arithmetic, comparisons,
    select); `checks`, each `{message, condition, values}` (node indices)
    or `{message, input, lo, hi}` (every element of an input in range);
    `output_rows`, per output the node of its dynamic dimension (-1: the
    token count); `phases`, the op each phase lowers (the binary's
    `--npu-stats` adds up their cycles).

    ```mlir
    npu.program @main_t16 entry = "main" tokens = 16 {
      npu.segment @x kind = "input" bytes = 2048 name = "0"
      npu.core 0 { npu.barrier_all }
    }
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, StrAttr:$entry,
                       I64Attr:$tokens,
                       OptionalAttr<DenseI64ArrayAttr>:$scalars,
                       OptionalAttr<ArrayAttr>:$checks,
                       OptionalAttr<DenseI64ArrayAttr>:$output_rows,
                       OptionalAttr<StrArrayAttr>:$phases);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $sym_name `entry` `=` $entry `tokens` `=` $tokens $body attr-dict
  }];
}

def Npu_RunOp : Npu_Op<"run"> {
  let summary = "runs an entry point's programs on the NPU";
  let description = [{
    The body of a lowered entry point: its inputs and the packed weights
    the programs read, in the order the programs' `input` and `weight`
    segments name them (`name` = operand index), and the outputs.

    ```mlir
    %y = npu.run "main" (%x, %w0) : (tensor<?x32xf32>, tensor<4096xi8>)
        -> tensor<?x32xf32>
    ```
  }];
  let arguments = (ins StrAttr:$entry, Variadic<AnyRankedTensor>:$operands);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = [{
    $entry `(` $operands `)` attr-dict `:` functional-type($operands, $results)
  }];
}

def Npu_SegmentOp : Npu_Op<"segment", [Symbol]> {
  let summary = "a region of global memory the program addresses";
  let description = [{
    Segment N of the program (N is its position among the module's
    segments): `workspace` (zeroed scratch), or the `input`, `output` or
    `weight` named `name`, which the binary binds before each run; `state`,
    the state input named `name`, bound in place (its size is the bound
    buffer's, `bytes` the least the program needs); `call`, the call's
    dynamic extents (one int64 each), which the host writes.

    ```mlir
    npu.segment @x kind = "input" bytes = 4096 name = "x"
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, StrAttr:$kind,
                       I64Attr:$bytes, StrAttr:$name);
  let assemblyFormat = [{
    $sym_name `kind` `=` $kind `bytes` `=` $bytes `name` `=` $name attr-dict
  }];
  let hasVerifier = 1;
}

def Npu_CoreOp : Npu_Op<"core", [NoTerminator, SingleBlock]> {
  let summary = "the command stream of one AI core";
  let description = [{
    ```mlir
    npu.core 0 {
      npu.dma "copy" "gm" -> "ub" (dst = 0, src = 1099511627776, rows = 1,
          row_bytes = 64, src_stride = 0, dst_stride = 0)
    }
    ```
  }];
  let arguments = (ins I64Attr:$core);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$core $body attr-dict";
  let hasVerifier = 1;
}

def Npu_ScalarOp : Npu_CommandOp<"scalar"> {
  let summary = "a scalar-unit command: register arithmetic, loads, stores";
  let description = [{
    `kind` is mov, add, sub, mul, div, min, max, select, load or store; the
    result goes to register `rd` (not for store). load and store address
    `space` (ub or gm) and move one int32.

    ```mlir
    npu.scalar "add" rd = 3 (a = r3, b = 64)
    npu.scalar "load" rd = 4 "ub" (addr = r5+128)
    ```
  }];
  let arguments = (ins StrAttr:$kind, I64Attr:$rd,
                       OptionalAttr<StrAttr>:$space,
                       DenseI64ArrayAttr:$args, DenseI64ArrayAttr:$regs);
  let assemblyFormat = [{
    $kind `rd` `=` $rd ($space^)?
    custom<ScalarOperands>($args, $regs, ref($kind)) attr-dict
  }];
}

def Npu_LoopOp : Npu_CommandOp<"loop", [NoTerminator, SingleBlock]> {
  let summary = "runs its commands `count` times, counting in register rd";
  let description = [{
    ```mlir
    npu.loop rd = 2 (count = r7) {
      npu.scalar "load" rd = 4 "ub" (addr = r2)
    }
    ```
  }];
  let arguments = (ins I64Attr:$rd, DenseI64ArrayAttr:$args,
                       DenseI64ArrayAttr:$regs);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    `rd` `=` $rd custom<LoopOperands>($args, $regs) $body attr-dict
  }];
}

def Npu_SetFlagOp : Npu_CommandOp<"set_flag"> {
  let summary = "raises an event from one pipe to another";
  let description = [{
    Queued on `src`: once src's earlier commands are complete, raises
    `event` for `dst`.

    ```mlir
    npu.set_flag "mte2" -> "m" event = 0
    ```
  }];
  let arguments = (ins StrAttr:$src, StrAttr:$dst, I64Attr:$event);
  let assemblyFormat = "$src `->` $dst `event` `=` $event attr-dict";
}

def Npu_WaitFlagOp : Npu_CommandOp<"wait_flag"> {
  let summary = "makes a pipe wait for an event from another";
  let description = [{
    ```mlir
    npu.wait_flag "mte2" -> "m" event = 0
    ```
  }];
  let arguments = (ins StrAttr:$src, StrAttr:$dst, I64Attr:$event);
  let assemblyFormat = "$src `->` $dst `event` `=` $event attr-dict";
}

def Npu_BarrierAllOp : Npu_Op<"barrier_all"> {
  let summary = "every pipe of every core completes, then all go on";
  let description = [{
    ```mlir
    npu.barrier_all
    ```
  }];
  let assemblyFormat = "attr-dict";
}

def Npu_DmaOp : Npu_CommandOp<"dma"> {
  let summary = "a DMA transfer between two memory spaces";
  let description = [{
    `kind` is copy, gather, nd_to_fractal or fractal_to_nd; the engine is
    the chip's for the path `from` -> `to`. `elem` is the element type of
    nd_to_fractal; `accumulate` makes fractal_to_nd, or a copy to gm (an
    atomic add), add to the destination;
    `transposed` makes nd_to_fractal write the matrix's transpose.

    ```mlir
    npu.dma "nd_to_fractal" "gm" -> "l1" elem = "f16" (dst = 0,
        src = 1099511627776, rows = 16, cols = 64, src_stride = 128,
        tile_rows = 16, tile_cols = 16)
    ```
  }];
  let arguments = (ins StrAttr:$kind, StrAttr:$from, StrAttr:$to,
                       OptionalAttr<StrAttr>:$elem, UnitAttr:$accumulate,
                       UnitAttr:$transposed,
                       DenseI64ArrayAttr:$args, DenseI64ArrayAttr:$regs);
  let assemblyFormat = [{
    $kind $from `->` $to (`elem` `=` $elem^)? (`accumulate` $accumulate^)?
    (`transposed` $transposed^)?
    custom<DmaOperands>($args, $regs, ref($kind)) attr-dict
  }];
}

def Npu_MmadOp : Npu_CommandOp<"mmad"> {
  let summary = "the cube: C (L0C) = or += A (L0A) * B (L0B)^T";
  let description = [{
    On fractal tiles of the chip's cube shape for `elem` (f16, bf16, i8).

    ```mlir
    npu.mmad "f16" accumulate (c = 0, a = 0, b = 0, m = 16, k = 64, n = 32)
    ```
  }];
  let arguments = (ins StrAttr:$elem, UnitAttr:$accumulate,
                       DenseI64ArrayAttr:$args, DenseI64ArrayAttr:$regs);
  let assemblyFormat = [{
    $elem (`accumulate` $accumulate^)?
    custom<MmadOperands>($args, $regs) attr-dict
  }];
}

def Npu_VectorOp : Npu_CommandOp<"vector"> {
  let summary = "a vector-unit command on the unified buffer";
  let description = [{
    `kind` is add, sub, mul, div, max, min, exp, neg, abs, sqrt, log, dup,
    reduce_sum, reduce_max, cast, unpack_int4 or topk, on `elem` elements
    (`from` is a cast's source type). `src1` says how the second operand is
    read: `rows` (an array like the first, the default), `row_scalar` (one
    element per row) or `imm` (the f32 constant whose bits are its arg).
    `signed_int4` makes unpack_int4 read signed nibbles.

    ```mlir
    npu.vector "mul" "f32" src1 = "row_scalar" (dst = 0, src0 = 0, src1 = 4096,
        count = 64, rows = 16, dst_stride = 256, src0_stride = 256,
        src1_stride = 4)
    ```
  }];
  let arguments = (ins StrAttr:$kind, StrAttr:$elem,
                       OptionalAttr<StrAttr>:$from, OptionalAttr<StrAttr>:$src1,
                       UnitAttr:$signed_int4,
                       DenseI64ArrayAttr:$args, DenseI64ArrayAttr:$regs);
  let assemblyFormat = [{
    $kind $elem (`from` $from^)? (`src1` `=` $src1^)? (`signed_int4` $signed_int4^)?
    custom<VectorOperands>($args, $regs, ref($kind)) attr-dict
  }];
}

#endif // MOEC_NPU_OPS
