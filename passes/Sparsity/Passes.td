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

def MoePruneExperts : Pass<"moe-prune-experts", "mlir::ModuleOp"> {
  let summary = "remove rarely used or low-saliency experts, using a routing profile";
  let description = [{
    Scores every expert of every MoE layer from a routing profile
    (`moec --profile-routing`): `metric=frequency` is the share of tokens
    routed to it, `metric=saliency` the REAP saliency, the mean over its
    tokens of routing weight times the L2 norm of its output. Keeps, per
    layer:

    * `keep=N`: the N best experts;
    * `threshold=X`: the experts whose share of the layer's total score is
      at least X;
    * `budget=F`: a global budget, the fraction F of all experts of all
      layers with the best shares of their layer's score.

    Never fewer than the router's `top_k` experts in a layer. The kept
    experts' weight and bias stacks become new weights holding only them
    (pruned experts leave no bytes in the binary), and the router is
    restricted to them: the columns of its weight (or of its logits) and of
    its selection bias are sliced, so the softmax runs over the kept experts
    exactly as in a model built without the others. Layers with
    group-limited routing are left alone (groups would change). With
    `report`, prints per layer the experts removed and the bytes saved.

    ```
    moec-opt model.mlir --moe-prune-experts="profile=p.json keep=6 report"
    ```
  }];
  let options = [
    Option<"profile", "profile", "std::string", "", "routing profile (JSON)">,
    Option<"metric", "metric", "std::string", "\"frequency\"",
           "expert score: frequency or saliency">,
    Option<"keep", "keep", "int64_t", "0", "experts to keep per layer">,
    Option<"threshold", "threshold", "double", "0.0",
           "keep experts with at least this share of the layer's score">,
    Option<"budget", "budget", "double", "0.0",
           "fraction of all experts to keep, chosen across layers">,
    Option<"report", "report", "bool", "false", "print what was removed">
  ];
  let dependentDialects = ["moec::moe::MoeDialect", "mlir::arith::ArithDialect",
                           "mlir::linalg::LinalgDialect",
                           "mlir::tensor::TensorDialect"];
}

def MoeSkipExperts : Pass<"moe-skip-experts", "mlir::ModuleOp"> {
  let summary = "skip a selected expert whose routing weight is small, at run time";
  let description = [{
    Inserts `moe.skip_experts` between each router and its experts: a
    token's choice whose weight is below `beta` times its top weight is
    dropped and costs no work. The kept weights are renormalised only where
    the router normalises its top-k weights (`normalize`); otherwise they
    keep their values, as the model computes them.

    `beta` applies to every layer. With a `profile` instead, each layer
    gets the beta that skips the fraction `skip-fraction` of its non-top
    choices, read off the profile's histograms of the ratio of each choice's
    weight to the top weight. With `report`, prints each layer's beta and
    the share of choices it skips on the profile.
  }];
  let options = [
    Option<"beta", "beta", "double", "-1.0",
           "skip a choice whose weight is below beta * the top weight">,
    Option<"profile", "profile", "std::string", "",
           "routing profile: a beta per layer">,
    Option<"skipFraction", "skip-fraction", "double", "0.25",
           "with a profile: the share of non-top choices to skip">,
    Option<"report", "report", "bool", "false", "print each layer's beta">
  ];
  let dependentDialects = ["moec::moe::MoeDialect"];
}

def MoeReduceTopK : Pass<"moe-reduce-topk", "mlir::ModuleOp"> {
  let summary = "route every token to fewer experts";
  let description = [{
    Lowers each router's `top_k` to `top-k` (layers already at or below it
    are unchanged). The router keeps its scoring: a normalising router
    renormalises over the remaining choices; GPT-OSS-style routing takes
    its softmax over them.
  }];
  let options = [
    Option<"topK", "top-k", "int64_t", "0", "the new top_k">,
    Option<"report", "report", "bool", "false", "print each change">
  ];
  let dependentDialects = ["moec::moe::MoeDialect"];
}

def MoeMergeExperts : Pass<"moe-merge-experts", "mlir::ModuleOp"> {
  let summary = "merge experts whose mean outputs are similar, using a routing profile";
  let description = [{
    Clusters each layer's experts greedily by the cosine similarity of
    their mean outputs (the profile's sidecar), always merging the most
    similar pair of clusters, until `keep` experts remain or no pair is
    more similar than `similarity`. A merged expert's weights are the
    frequency-weighted average of its members' (f32 weights only). The
    router is kept: a `moe.remap_experts` after it sends each chosen
    expert's id to its merged expert, and two choices that land on the same
    one are summed into one run.
  }];
  let options = [
    Option<"profile", "profile", "std::string", "", "routing profile (JSON)">,
    Option<"keep", "keep", "int64_t", "0", "experts per layer after merging">,
    Option<"similarity", "similarity", "double", "1.0",
           "merge while the closest pair's cosine similarity is at least this">,
    Option<"report", "report", "bool", "false", "print the merged groups">
  ];
  let dependentDialects = ["moec::moe::MoeDialect", "mlir::arith::ArithDialect"];
}

def MoeStaticCapacity : Pass<"moe-static-capacity", "mlir::ModuleOp"> {
  let summary = "give every expert a fixed number of token slots (capacity factor)";
  let description = [{
    For targets that need static shapes: rewrites each `moe.experts` with a
    static token count T into the sparse path with a capacity-limited
    `moe.dispatch`: every expert gets `C = ceil(capacity-factor * T * k / E)`
    slots, so every buffer is `[E * C, ...]`. Slots are filled in token
    order, all first choices before any second choice; a choice that finds
    its expert full is dropped and the token passes through the layer
    without it. This changes numerics whenever a choice overflows, so it is
    off unless asked for.
  }];
  let options = [
    Option<"capacityFactor", "capacity-factor", "double", "1.0",
           "slots per expert relative to an even share of T * k">,
    Option<"report", "report", "bool", "false", "print each layer's capacity">
  ];
  let dependentDialects = ["moec::moe::MoeDialect"];
}

def MoeInstrumentRouting : Pass<"moe-instrument-routing", "mlir::ModuleOp"> {
  let summary = "record a routing profile at run time";
  let description = [{
    After `moe-sparse-dispatch`: after every `moe.combine`, calls the
    runtime's `moec_profile_record(layer, ids, weights, rows, permutation,
    offsets, hidden, out)` (f32 layers; `llvm.emit_c_interface`) with the layer's routing and the rows its experts
    saw and produced. The module gets `moec.profiled_layers`; the target's
    runtime accumulates the profile and writes it (docs/sparsity.md).
  }];
  let dependentDialects = ["moec::moe::MoeDialect", "mlir::func::FuncDialect",
                           "mlir::tensor::TensorDialect",
                           "mlir::arith::ArithDialect"];
}

#endif // MOEC_PASSES_SPARSITY_PASSES_TD
