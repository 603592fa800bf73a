//===- Passes.td - CPU target passes -----------------------*- tablegen -*-===//

#ifndef MOEC_TARGETS_CPU_PASSES_TD
#define MOEC_TARGETS_CPU_PASSES_TD

include "mlir/Pass/PassBase.td"

// The register-tile shape both matmul lowerings take (RegisterTile.h).
defvar RegisterTileOptions = [
    Option<"tileRows", "tile-rows", "int64_t", /*default=*/"6",
           "rows of a register tile">,
    Option<"tilePanels", "tile-panels", "int64_t", /*default=*/"4",
           "vectors across a register tile">,
    Option<"tileDepth", "tile-depth", "int64_t", /*default=*/"512",
           "k extent of one pass over a register tile">
];

def CpuLowerMoe : Pass<"cpu-lower-moe", "mlir::ModuleOp"> {
  let summary = "lower the moe ops to loops, grouped matmuls on the CPU's "
                "vector kernels";
  let description = [{
    `convert-moe-to-scf`'s reference patterns plus three of higher benefit
    for `moe.grouped_matmul` (with `vector-width` > 0):

    * an fp32 weight known at compile time is re-laid out into panels of
      `vector-width` columns and multiplied with register tiles of
      `tile-rows` x `tile-panels` vectors, k in blocks of `tile-depth`
      (TiledExperts.cpp);
    * a bf16 or f16 weight stays in its dtype: each expert's rows multiply
      its `[N, K]` rows on vector dot products, 4 weight rows by 4 rows at
      a time, the weight widened in registers (ExpertDots.cpp, the kernel
      of `cpu-linear-to-dots`); with `bf16-dot-rows` N > 0, an expert of
      at least N rows has them rounded to bf16 (nearest even) and
      multiplied 32 k at a time by `vdpbf16ps`, pairs of products summed
      into f32 lanes;
    * packed int4/int8 weights with K-groups use vector kernels that
      dequantize 16 codes at a time in registers, or, for
      `moec.int8_activations` with `int8-dot`, multiply int8 rows by the
      codes with integer dot products: `vpdpbusd` (AVX-512 VNNI, 64
      bytes), `vpmaddubsw` + `vpmaddwd` (AVX2, 32 bytes), `sdot` (aarch64,
      16 bytes) or widening vector multiplies (`generic`, 4 bytes per f32
      lane) (QuantizedExperts.cpp).

    Every other grouped matmul, and every one with `vector-width` 0, takes
    the reference scalar loops.
  }];
  let options = !listconcat([
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"0",
           "f32 lanes of the target's vectors; 0 keeps every grouped "
           "matmul on scalar dot products">,
    Option<"int8Dot", "int8-dot", "std::string", /*default=*/"\"\"",
           "the integer dot product of int8 activations on packed weights: "
           "vpdpbusd (AVX-512 VNNI), vpmaddubsw (AVX2), sdot (aarch64 "
           "+dotprod), generic (vector operations), empty (none)">,
    Option<"bf16DotRows", "bf16-dot-rows", "int64_t", /*default=*/"0",
           "bf16 experts with at least this many rows multiply them "
           "rounded to bf16 with vdpbf16ps (AVX512-BF16, vector-width 16); "
           "0: never">
  ], RegisterTileOptions);
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::bufferization::BufferizationDialect",
    "mlir::LLVM::LLVMDialect",
    "mlir::math::MathDialect", "mlir::memref::MemRefDialect",
    "mlir::scf::SCFDialect", "mlir::vector::VectorDialect"
  ];
}

def CpuMatmulToTiles : Pass<"cpu-matmul-to-tiles", "mlir::ModuleOp"> {
  let summary = "lower fp32 linalg.matmul to register tiles over buffers";
  let description = [{
    Lowers every `linalg.matmul` on fp32 tensors with the default indexing
    maps and a static `[K, N]` right-hand side (a router's logits, a shared
    expert, a dense MLP) to the register tiles `cpu-lower-moe` uses for
    the experts: `tile-rows` x `tile-panels` vectors of `vector-width`
    lanes, k in blocks of `tile-depth`, each lane summing its products in
    k order with fused multiply-adds. The rows of B are read in place. One
    parallel iteration per block of 4 x `tile-rows` rows and tile of
    columns. Like `cpu-lower-moe`, it stays at tensor level. Other
    matmuls are left alone.
  }];
  let options = !listconcat([
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"16",
           "f32 lanes of the target's vectors">
  ], RegisterTileOptions);
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::bufferization::BufferizationDialect",
    "mlir::memref::MemRefDialect", "mlir::scf::SCFDialect",
    "mlir::vector::VectorDialect"
  ];
}

def CpuLinearToDots : Pass<"cpu-linear-to-dots", "mlir::ModuleOp"> {
  let summary = "lower dense layers with [N, K] weights to vector dot "
                "products over buffers";
  let description = [{
    A checkpoint's dense layers (attention projections, dense and shared
    MLPs, the LM head) multiply the activations `x [T, K]` by a weight in
    torch's layout `W [N, K]`, which stays in the checkpoint's dtype: the
    `linalg.generic` with maps `(t, k)`, `(o, k)` -> `(t, o)` whose body
    adds `x * w` (w widened from bf16 or f16 by `arith.extf`) to the
    initial value. Each row of W is contiguous in k, so the product is a
    set of dot products: this pass computes them on vectors of
    `vector-width` f32 lanes, 4 rows of W by 4 tokens at a time (16
    accumulators; one token at a time for the last ones and one row at a
    time for the last rows), reading each weight once per 4 tokens in its
    own dtype (2 bytes for bf16) and widening it in registers; a masked
    load covers the last k < `vector-width`. The lanes are summed at the
    end (the sum's order differs from the reference's sequential one by
    rounding only). One parallel iteration per 64 rows of W. Like
    `cpu-matmul-to-tiles`, it stays at tensor level; other generics are
    left alone. With `bf16-dot-rows` N > 0 and a bf16 weight, a call of
    at least N tokens rounds them to bf16 (nearest even) and multiplies
    32 k at a time with `vdpbf16ps` (pairs of products summed into f32
    lanes): prefill at twice the multiply-adds per instruction; decode
    and short calls keep exact f32 products.
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"16",
           "f32 lanes of the target's vectors">,
    Option<"bf16DotRows", "bf16-dot-rows", "int64_t", /*default=*/"0",
           "bf16 weights: calls of at least this many tokens multiply them "
           "rounded to bf16 with vdpbf16ps (AVX512-BF16, vector-width 16); "
           "0: never">
  ];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::bufferization::BufferizationDialect",
    "mlir::LLVM::LLVMDialect",
    "mlir::memref::MemRefDialect", "mlir::scf::SCFDialect",
    "mlir::vector::VectorDialect"
  ];
}

def CpuLowerAttention : Pass<"cpu-lower-attention", "mlir::ModuleOp"> {
  let summary = "lower decoder.attention to a streaming kernel over buffers";
  let description = [{
    Lowers every `decoder.attention` (causal grouped-query attention, with
    its window and sinks) to one parallel iteration per (query, head) that
    streams the keys and values it sees once: the query's dot product with
    each key on vectors of `vector-width` f32 lanes along the head
    dimension (masked past its end), an online softmax (running maximum
    and sum, each accumulator rescaled when the maximum grows), and the
    values accumulated in vector registers. Keys go in blocks of
    `vector-width`: the block's scores fill one vector, the maximum and
    rescaling happen once per block, and its weights come from one vector
    exp (MLIR's polynomial approximation); the last keys go one at a time.

    Where query heads share a KV head (GQA; MLA's compressed form, where
    every head reads one latent cache), or a query and its accumulators
    would take more than 24 vector registers, a second kernel runs one
    parallel iteration per (query, KV head, tile of up to 8 of its query
    heads): each block of `vector-width` keys is loaded once for the whole
    tile, two keys at a time, for the scores; each head's online softmax
    runs on its row of the block's scores; and each value chunk is loaded
    once and added, weighted, into the tile's output rows, which hold the
    accumulators.

    No score matrix is materialized, so a decode step reads the KV cache
    once (per tile of heads) and a prefill costs no `[H, Tq, Tk]` buffer.
    A sink is a logit in the denominator only. It runs before `decoder-to-linalg`, in the CPU's pre-dispatch
    pipeline, and stays at tensor level.
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"16",
           "f32 lanes of the target's vectors">
  ];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::bufferization::BufferizationDialect",
    "mlir::math::MathDialect", "mlir::memref::MemRefDialect",
    "mlir::scf::SCFDialect", "mlir::vector::VectorDialect"
  ];
}

def CpuParallelToRuntime : Pass<"cpu-parallel-to-runtime", "mlir::ModuleOp"> {
  let summary = "run outermost scf.parallel loops on the runtime's thread pool";
  let description = [{
    Outlines each outermost `scf.parallel` (on buffers, after
    bufferization) into a function `@moec_par_body_N(begin, end, captured
    values...)` that runs iterations [begin, end) of its first dimension,
    and replaces the loop by a call to `@moec_par_launch_N(count, cost,
    captured values...)`. CPU codegen defines each launch function to pack
    the captured values and call the runtime's
    `moec_parallel_for(count, cost, thunk, context)`, the only threading
    the binary uses. `cost` estimates the work of one iteration (operations,
    times static trip counts of inner loops) so the runtime runs small
    loops inline. Loops with reductions stay sequential.
  }];
  let dependentDialects = ["mlir::func::FuncDialect"];
}

def CpuSoftHalfConversions
    : Pass<"cpu-soft-half-conversions", "mlir::ModuleOp"> {
  let summary = "f16 and bf16 conversions as integer and f32 operations";
  let description = [{
    For CPUs with no instruction that converts between f32 and f16 or bf16
    (riscv64 without Zfhmin / Zfbfmin, loongarch64): LLVM would call
    `__extendhfsf2`, `__truncsfhf2` and `__truncsfbf2`, which Debian 12's
    libgcc of those architectures lacks. `arith.extf` from f16 (to f32 or
    wider) becomes the half's bits shifted into an f32 and scaled by
    2^112, subnormals included, with infinities and NaNs kept;
    `arith.truncf` from f32 to f16 rounds to nearest even with the
    exponent-bias addition of the FP16 library (overflow to infinity,
    subnormal results, NaN as 0x7e00 with its sign). bf16 takes MLIR's
    `arith-expand{include-bf16}` patterns. Scalars and vectors alike.
  }];
  let options = [
    Option<"f16", "f16", "bool", /*default=*/"true", "expand f16 conversions">,
    Option<"bf16", "bf16", "bool", /*default=*/"true",
           "expand bf16 conversions">
  ];
  let dependentDialects = ["mlir::arith::ArithDialect",
                           "mlir::math::MathDialect"];
}

def CpuSplitModelFunction
    : Pass<"cpu-split-model-function", "mlir::ModuleOp"> {
  let summary = "compile the model function in parts of bounded size";
  let description = [{
    LLVM's greedy register allocator and instruction selection grow faster
    than the function they compile: a chain of 2,000 ONNX nodes spent 1.4 s
    in register allocation, 10,000 nodes 49 s. This pass moves runs of
    each entry function's top-level ops, about `ops-per-part` ops each
    (nested ops included), into private functions `@moec_entry_N_part_M`
    that the entry calls in order (and that CPU codegen marks `noinline`). Values that cross a boundary
    (buffers and scalars) become arguments and results; constants and
    global addresses are repeated in each part that uses them. A function
    with a `memref.alloca` (which would die with its part), or of no more
    than `ops-per-part` ops, is left as it is. Run it on
    buffers, before loops are outlined for threads.
  }];
  let options = [
    Option<"opsPerPart", "ops-per-part", "uint64_t", /*default=*/"2048",
           "Operations per part (nested ones included)">
  ];
  let dependentDialects = ["mlir::func::FuncDialect"];
}

#endif // MOEC_TARGETS_CPU_PASSES_TD
