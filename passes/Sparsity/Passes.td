//===- Passes.td - moec expert-sparsity passes -------------*- tablegen -*-===//

#ifndef MOEC_PASSES_SPARSITY_PASSES_TD
#define MOEC_PASSES_SPARSITY_PASSES_TD

include "mlir/Pass/PassBase.td"

def MoeSparseDispatch : Pass<"moe-sparse-dispatch"> {
  let summary = "compute only the routed experts: dispatch, grouped matmuls, combine";
  let description = [{
    Rewrites every `moe.experts` into the sparse path, so that each token
    costs `top_k` expert FFNs instead of `E`:

    ```
    rows, permutation, offsets = moe.dispatch input, expert_ids
    h   = moe.grouped_matmul rows, gate_up, offsets      (or gate and up)
    a   = moe.activation h                                 [M, I]
    out = moe.grouped_matmul a, down, offsets              [M, H]
    y   = moe.combine out, permutation, routing_weights    [T, H]
    ```

    `moe.dispatch` sorts the `T * k` (token, choice) pairs by expert, so
    every expert owns one contiguous group of rows and runs one matmul over
    it (one GEMV per routed expert for a single token). Biases, fused or
    separate gate/up projections and packed weights carry over unchanged.
    The rewrite is target-independent: targets tile, vectorize and map the
    three sparse ops, never the routing decision.

    ```mlir
    %y = moe.experts %x, %w, %ids activation silu_gated
        gate_up %gu layout interleaved down %d : ...
    // becomes
    %rows, %permutation, %offsets = moe.dispatch %x, %ids num_experts = 8 : ...
    %h = moe.grouped_matmul %rows, %gu, %offsets : ...
    %a = moe.activation silu_gated %h layout interleaved : ...
    %o = moe.grouped_matmul %a, %d, %offsets : ...
    %y = moe.combine %o, %permutation, %w : ...
    ```
  }];
  let dependentDialects = ["moec::moe::MoeDialect"];
}

#endif // MOEC_PASSES_SPARSITY_PASSES_TD
