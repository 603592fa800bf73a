//===- MoeOps.td - moe dialect operations ------------------*- tablegen -*-===//

#ifndef MOEC_DIALECTS_MOE_IR_MOEOPS_TD
#define MOEC_DIALECTS_MOE_IR_MOEOPS_TD

include "dialects/moe/IR/MoeTypes.td"
include "mlir/IR/OpAsmInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Moe_FloatTensor : RankedTensorOf<[AnyFloat]>;
def Moe_IdTensor : RankedTensorOf<[I32]>;
def Moe_Weight : AnyTypeOf<[RankedTensorOf<[AnyFloat]>, Moe_PackedType],
                           "float tensor or packed weight">;

//===----------------------------------------------------------------------===//
// Weights
//===----------------------------------------------------------------------===//

def Moe_WeightOp : Moe_Op<"weight", [Pure]> {
  let summary = "a weight from the weight store, referenced by key";
  let description = [{
    Produces the tensor stored under `key` in the weight store. The bytes
    never enter the IR: the module's `moe.weight_files` attribute lists the
    safetensors files that hold them, and passes that create weights
    (pruning, merging, quantization) add blobs to the store and refer to
    them the same way. `moe-verify-weights` checks that every key exists
    with the declared element type and shape.

    A weight may instead name its bytes directly: `from "file" at OFFSET`
    serves the key from the raw little-endian bytes starting at OFFSET in
    a file (relative paths resolve like `moe.weight_files`). This is how
    ONNX external data stays in its own file, mapped and never copied.

    ```mlir
    %w1 = moe.weight "w1" from "model.onnx.data" at 4096 : tensor<64x32xf32>
    ```

    ```mlir
    module attributes {moe.weight_files = ["model.safetensors"]} {
      func.func @f() -> tensor<8x2048x64xbf16> {
        %w = moe.weight "model.layers.0.mlp.experts.down_proj"
            : tensor<8x2048x64xbf16>
        return %w : tensor<8x2048x64xbf16>
      }
    }
    ```
  }];
  let arguments = (ins StrAttr:$key, OptionalAttr<StrAttr>:$file,
                       OptionalAttr<I64Attr>:$offset);
  let results = (outs AnyStaticShapeTensor:$result);
  let assemblyFormat = [{
    $key (`from` $file^ `at` $offset)? attr-dict `:` type($result)
  }];
  let builders = [
    OpBuilder<(ins "mlir::Type":$type, "llvm::StringRef":$key), [{
      build($_builder, $_state, type, key, mlir::StringAttr(),
            mlir::IntegerAttr());
    }]>
  ];
  let hasVerifier = 1;
}

def Moe_PackedWeightOp : Moe_Op<"packed_weight", [Pure]> {
  let summary = "bundles packed bytes, scales and zero points into one weight";
  let description = [{
    Builds a `!moe.packed` weight from its parts without touching the
    values: `data` holds the packed elements (i8 or ui8, the logical shape
    with the last dimension packed), `scales` one value per block, and the
    optional `zero_points` one value per block. Shapes and element types
    must agree with the result type's packing.

    ```mlir
    %q = moe.packed_weight %bytes, %scales
        : tensor<8x256x32xui8>, tensor<8x256x2xf16>
        -> !moe.packed<tensor<8x256x64xf32>,
                       #moe.packing<sint4, block = [1, 1, 32], scale = f16>>
    ```
  }];
  let arguments = (ins RankedTensorOf<[I8, UI8]>:$data,
                       RankedTensorOf<[AnyFloat]>:$scales,
                       Optional<RankedTensorOf<[AnyInteger, AnyFloat]>>:$zero_points);
  let results = (outs Moe_PackedType:$result);
  let assemblyFormat = [{
    $data `,` $scales (`zero_points` $zero_points^)? attr-dict `:`
    type($data) `,` type($scales) (`,` type($zero_points)^)? `->`
    qualified(type($result))
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Semantic ops
//===----------------------------------------------------------------------===//

def Moe_RouterOp : Moe_Op<"router", [Pure,
    DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmResultNames"]>]> {
  let summary = "selects the top-k experts per token and their weights";
  let description = [{
    Takes router logits `[T, E]` and returns, per token, the `top_k`
    selected experts `ids` (i32, `[T, k]`) and their routing `weights`
    (`[T, k]`, the element type of the logits):

    1. Scores: `softmax` takes `s = softmax(logits)` over the experts,
       `sigmoid` takes `s = sigmoid(logits)`, `softmax_after_topk` takes
       `s = logits` (GPT-OSS).
    2. Selection scores: `c = s + selection_bias` when the optional bias
       `[E]` is given (DeepSeek-V3 `e_score_correction_bias`), else `c = s`.
       The bias changes which experts are chosen, never their weights.
    3. With `groups`, only experts in the `topk_group` best of `n_group`
       contiguous groups stay eligible (see `#moe.group_limit`).
    4. The `top_k` eligible experts with the highest `c` are selected,
       ordered by `c` descending; ties go to the lower expert index, as
       ONNX TopK does.
    5. Weights: `w_j = s[ids_j]`; for `softmax_after_topk`,
       `w = softmax(logits[ids])`.
    6. `normalize` (HF `norm_topk_prob`) divides by the sum of the k weights
       (plus 1e-20, which guards an all-zero sigmoid row as DeepSeek does).
    7. `scale` (HF `routed_scaling_factor`) multiplies the weights.

    ```mlir
    // Mixtral: softmax, top-2, renormalised.
    %weights, %ids = moe.router %logits top_k = 2 scoring = softmax normalize
        : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
    // DeepSeek-V3.
    %weights, %ids = moe.router %logits bias %b top_k = 8 scoring = sigmoid
        normalize scale = 2.5
        groups = <n_group = 8, topk_group = 4, score = sum_top2>
        : tensor<?x256xf32>, tensor<256xf32> -> tensor<?x8xf32>, tensor<?x8xi32>
    ```
  }];
  let arguments = (ins Moe_FloatTensor:$logits,
                       Optional<Moe_FloatTensor>:$selection_bias,
                       ConfinedAttr<I64Attr, [IntPositive]>:$top_k,
                       Moe_RouterScoringAttr:$scoring,
                       UnitAttr:$normalize,
                       OptionalAttr<F64Attr>:$scale,
                       OptionalAttr<Moe_GroupLimitAttr>:$groups);
  let results = (outs Moe_FloatTensor:$weights, Moe_IdTensor:$ids);
  let assemblyFormat = [{
    $logits (`bias` $selection_bias^)? `top_k` `=` $top_k
    `scoring` `=` custom<EnumKeyword>($scoring) (`normalize` $normalize^)?
    (`scale` `=` $scale^)? (`groups` `=` $groups^)? attr-dict
    `:` type($logits) (`,` type($selection_bias)^)?
    `->` type($weights) `,` type($ids)
  }];
  let builders = [
    OpBuilder<(ins "::mlir::Value":$logits, "int64_t":$topK,
                   "RouterScoring":$scoring,
                   CArg<"::mlir::Value", "{}">:$selectionBias,
                   CArg<"bool", "false">:$normalize,
                   CArg<"std::optional<double>", "std::nullopt">:$scale,
                   CArg<"GroupLimitAttr", "{}">:$groups)>
  ];
  let hasVerifier = 1;
  let hasCanonicalizer = 1;
}

def Moe_ExpertsOp : Moe_Op<"experts", [Pure, AttrSizedOperandSegments,
    AllTypesMatch<["input", "output"]>]> {
  let summary = "the routed experts' FFNs, weighted and summed per token";
  let description = [{
    For each token `t` of `input` `[T, H]`:
    `output[t] = sum_j routing_weights[t, j] * FFN_e(input[t])` with
    `e = expert_ids[t, j]`. Ids outside `[0, E)` (a skipped choice)
    contribute nothing.

    `FFN_e(x) = down_e(act(gate_e(x), up_e(x)))`, each projection
    `p_e(x) = W_p[e] x + b_p[e]` over stacked weights `[E, N, K]` (torch
    Linear layout: output rows, input columns) and optional biases `[E, N]`.
    The projections present depend on the activation:

    * gated (`silu_gated`, `swiglu`): either `gate` and `up` (`[E, I, H]`
      each), or one fused `gate_up` (`[E, 2I, H]`) with `layout`
      `interleaved` or `concatenated`;
    * ungated: `up` (`[E, I, H]`) only;
    * always `down` (`[E, H, I]`).

    Weights may be float tensors of any float type or `!moe.packed`
    quantized weights; the computation runs in the element type of `input`.
    The sparse-dispatch pass rewrites this op so that only routed experts
    are computed.

    ```mlir
    // GPT-OSS experts: interleaved gate/up with biases, clamped SwiGLU.
    %y = moe.experts %x, %weights, %ids
        activation swiglu<alpha = 1.702, beta = 1.0, limit = 7.0>
        gate_up %gu gate_up_bias %gub layout interleaved
        down %d down_bias %db
        : (tensor<?x64xf32>, tensor<?x4xf32>, tensor<?x4xi32>,
           tensor<32x256x64xf32>, tensor<32x256xf32>, tensor<32x64x128xf32>,
           tensor<32x64xf32>) -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins Moe_FloatTensor:$input,
                       Moe_FloatTensor:$routing_weights,
                       Moe_IdTensor:$expert_ids,
                       Optional<Moe_Weight>:$gate_up,
                       Optional<Moe_FloatTensor>:$gate_up_bias,
                       Optional<Moe_Weight>:$gate,
                       Optional<Moe_FloatTensor>:$gate_bias,
                       Optional<Moe_Weight>:$up,
                       Optional<Moe_FloatTensor>:$up_bias,
                       Moe_Weight:$down,
                       Optional<Moe_FloatTensor>:$down_bias,
                       Moe_ActivationAttr:$activation,
                       OptionalAttr<Moe_GateUpLayoutAttr>:$layout);
  let results = (outs Moe_FloatTensor:$output);
  let assemblyFormat = [{
    $input `,` $routing_weights `,` $expert_ids
    `activation` custom<Activation>($activation)
    (`gate_up` $gate_up^)? (`gate_up_bias` $gate_up_bias^)?
    (`layout` custom<EnumKeyword>($layout)^)?
    (`gate` $gate^)? (`gate_bias` $gate_bias^)?
    (`up` $up^)? (`up_bias` $up_bias^)?
    `down` $down (`down_bias` $down_bias^)? attr-dict
    `:` functional-type(operands, results)
  }];
  let builders = [
    // Fused gate/up projections.
    OpBuilder<(ins "::mlir::Value":$input, "::mlir::Value":$routingWeights,
                   "::mlir::Value":$expertIds, "ActivationAttr":$activation,
                   "GateUpLayout":$layout, "::mlir::Value":$gateUp,
                   "::mlir::Value":$down,
                   CArg<"::mlir::Value", "{}">:$gateUpBias,
                   CArg<"::mlir::Value", "{}">:$downBias), [{
      build($_builder, $_state, input.getType(), input, routingWeights,
            expertIds, gateUp, gateUpBias, /*gate=*/{}, /*gate_bias=*/{},
            /*up=*/{}, /*up_bias=*/{}, down, downBias, activation,
            GateUpLayoutAttr::get($_builder.getContext(), layout));
    }]>,
    // Separate gate and up projections; `gate` is null for an ungated
    // activation.
    OpBuilder<(ins "::mlir::Value":$input, "::mlir::Value":$routingWeights,
                   "::mlir::Value":$expertIds, "ActivationAttr":$activation,
                   "::mlir::Value":$gate, "::mlir::Value":$up,
                   "::mlir::Value":$down), [{
      build($_builder, $_state, input.getType(), input, routingWeights,
            expertIds, /*gate_up=*/{}, /*gate_up_bias=*/{}, gate,
            /*gate_bias=*/{}, up, /*up_bias=*/{}, down, /*down_bias=*/{},
            activation, GateUpLayoutAttr());
    }]>
  ];
  let hasVerifier = 1;
  let hasCanonicalizer = 1;
  let extraClassDeclaration = [{
    /// Number of experts E.
    int64_t getNumExperts();
    /// The expert FFN's intermediate width I.
    int64_t getIntermediateSize();
  }];
}

def Moe_SkipExpertsOp : Moe_Op<"skip_experts", [Pure,
    AllTypesMatch<["weights", "new_weights"]>,
    AllTypesMatch<["ids", "new_ids"]>]> {
  let summary = "drops the selected experts whose weight is small";
  let description = [{
    Dynamic expert skipping: for each token `t` with routing `weights`
    `[T, k]` and `ids` `[T, k]` (a `moe.router`'s results) and
    `m = max_j weights[t, j]`, a choice with `weights[t, j] < threshold * m`
    is dropped: its id becomes -1 and its weight 0, so `moe.experts` and the
    sparse path spend no work on it. The top choice is never dropped
    (threshold <= 1). With `renormalize` (for routers that normalise their
    top-k weights), the kept weights are multiplied by
    `sum_j weights[t, j] / sum_kept weights[t, j]`, which is the weight the
    router would have given them had it selected only the kept experts.

    ```mlir
    %w2, %ids2 = moe.skip_experts %weights, %ids threshold = 0.3 renormalize
        : tensor<?x2xf32>, tensor<?x2xi32>
    ```
  }];
  let arguments = (ins Moe_FloatTensor:$weights, Moe_IdTensor:$ids,
                       F64Attr:$threshold, UnitAttr:$renormalize);
  let results = (outs Moe_FloatTensor:$new_weights, Moe_IdTensor:$new_ids);
  let assemblyFormat = [{
    $weights `,` $ids `threshold` `=` $threshold
    (`renormalize` $renormalize^)? attr-dict
    `:` type($weights) `,` type($ids)
  }];
  let hasVerifier = 1;
}

def Moe_RemapExpertsOp : Moe_Op<"remap_experts", [Pure,
    AllTypesMatch<["weights", "new_weights"]>,
    AllTypesMatch<["ids", "new_ids"]>]> {
  let summary = "renames selected experts after merging";
  let description = [{
    Expert merging keeps the router and replaces each expert by the merged
    expert that absorbed it: `new_ids[t, j] = map[ids[t, j]]` (ids outside
    the map stay -1). When two choices of one token land on the same merged
    expert, the first keeps the summed weight and the later one is dropped
    (id -1, weight 0): the merged expert runs once per token, weighted by
    everything the router gave its members.

    ```mlir
    %w2, %ids2 = moe.remap_experts %weights, %ids map = [0, 1, 1, 2]
        : tensor<?x2xf32>, tensor<?x2xi32>
    ```
  }];
  let arguments = (ins Moe_FloatTensor:$weights, Moe_IdTensor:$ids,
                       DenseI32ArrayAttr:$map);
  let results = (outs Moe_FloatTensor:$new_weights, Moe_IdTensor:$new_ids);
  let assemblyFormat = [{
    $weights `,` $ids `map` `=` $map attr-dict
    `:` type($weights) `,` type($ids)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Sparse-path ops
//===----------------------------------------------------------------------===//

def Moe_DispatchOp : Moe_Op<"dispatch", [Pure,
    DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmResultNames"]>]> {
  let summary = "groups token copies by expert";
  let description = [{
    Sorts the `T * k` (token, choice) pairs of `expert_ids` `[T, k]` by
    expert. Pair `p = t * k + j` names token `t`'s `j`-th choice. Results:

    * `permutation` `[T * k]`: the pair indices, stably sorted by expert
      id; pairs whose id is outside `[0, num_experts)` come last;
    * `rows` `[T * k, H]`: `rows[i] = input[permutation[i] / k]`;
    * `offsets` `[num_experts + 1]`: expert `e` owns rows
      `offsets[e] .. offsets[e + 1]`; `offsets[0] = 0` and
      `offsets[num_experts]` is the number of routed pairs.

    With a `capacity` C (static-capacity lowering), every expert owns
    exactly C slots: `rows` is `[num_experts * C, H]`, `offsets[e] = e * C`,
    and `permutation[i]` is the pair in slot `i`, or -1 for an empty slot
    (whose row is zero). Pairs are placed in choice-major, token order (all
    first choices in token order, then all second choices, ...); a pair
    whose expert's C slots are taken overflows and is dropped, so it
    contributes nothing to `moe.combine`.

    ```mlir
    %rows, %permutation, %offsets = moe.dispatch %x, %ids num_experts = 8
        : tensor<?x64xf32>, tensor<?x2xi32>
        -> tensor<?x64xf32>, tensor<?xi32>, tensor<9xi32>
    %rows, %permutation, %offsets = moe.dispatch %x, %ids num_experts = 8
        capacity = 4 : tensor<16x64xf32>, tensor<16x2xi32>
        -> tensor<32x64xf32>, tensor<32xi32>, tensor<9xi32>
    ```
  }];
  let arguments = (ins Moe_FloatTensor:$input, Moe_IdTensor:$expert_ids,
                       ConfinedAttr<I64Attr, [IntPositive]>:$num_experts,
                       OptionalAttr<ConfinedAttr<I64Attr, [IntPositive]>>:$capacity);
  let results = (outs Moe_FloatTensor:$rows, Moe_IdTensor:$permutation,
                      Moe_IdTensor:$offsets);
  let assemblyFormat = [{
    $input `,` $expert_ids `num_experts` `=` $num_experts
    (`capacity` `=` $capacity^)? attr-dict
    `:` type($input) `,` type($expert_ids)
    `->` type($rows) `,` type($permutation) `,` type($offsets)
  }];
  let builders = [
    OpBuilder<(ins "::mlir::Value":$input, "::mlir::Value":$expertIds,
                   "int64_t":$numExperts,
                   CArg<"std::optional<int64_t>", "std::nullopt">:$capacity)>
  ];
  let hasVerifier = 1;
}

def Moe_GroupedMatmulOp : Moe_Op<"grouped_matmul", [Pure]> {
  let summary = "one matmul per expert over its contiguous group of rows";
  let description = [{
    `output[i] = weight[e] rows[i] + bias[e]` for the expert `e` with
    `offsets[e] <= i < offsets[e + 1]`; `rows` is `[M, K]`, `weight`
    `[E, N, K]` (float or `!moe.packed`), `offsets` `[E + 1]`, the optional
    `bias` `[E, N]`, `output` `[M, N]`. Rows in no group (past
    `offsets[E]`) are zero.

    ```mlir
    %h = moe.grouped_matmul %rows, %w1, %offsets
        : tensor<?x64xf32>, tensor<8x256x64xf32>, tensor<9xi32>
        -> tensor<?x256xf32>
    ```
  }];
  let arguments = (ins Moe_FloatTensor:$rows, Moe_Weight:$weight,
                       Moe_IdTensor:$offsets, Optional<Moe_FloatTensor>:$bias);
  let results = (outs Moe_FloatTensor:$output);
  let assemblyFormat = [{
    $rows `,` $weight `,` $offsets (`bias` $bias^)? attr-dict
    `:` type($rows) `,` type($weight) `,` type($offsets)
    (`,` type($bias)^)? `->` type($output)
  }];
  let builders = [
    OpBuilder<(ins "::mlir::Value":$rows, "::mlir::Value":$weight,
                   "::mlir::Value":$offsets,
                   CArg<"::mlir::Value", "{}">:$bias)>
  ];
  let hasVerifier = 1;
  let hasCanonicalizer = 1;
}

def Moe_ActivationOp : Moe_Op<"activation", [Pure]> {
  let summary = "an expert FFN's nonlinearity on rows";
  let description = [{
    Applies `activation` row-wise. Ungated: `output = act(input)`, same
    shape. Gated with separate projections: `input` is the gate and `up`
    the up projection, both `[M, I]`. Gated with fused projections:
    `input` is `[M, 2I]` in `layout` and `output` `[M, I]`.

    ```mlir
    %a = moe.activation silu_gated %h layout interleaved
        : tensor<?x256xf32> -> tensor<?x128xf32>
    ```
  }];
  let arguments = (ins Moe_FloatTensor:$input, Optional<Moe_FloatTensor>:$up,
                       Moe_ActivationAttr:$activation,
                       OptionalAttr<Moe_GateUpLayoutAttr>:$layout);
  let results = (outs Moe_FloatTensor:$output);
  let assemblyFormat = [{
    custom<Activation>($activation) $input (`up` $up^)? (`layout` custom<EnumKeyword>($layout)^)?
    attr-dict
    `:` type($input) (`,` type($up)^)? `->` type($output)
  }];
  let builders = [
    OpBuilder<(ins "::mlir::Value":$input, "ActivationAttr":$activation,
                   CArg<"std::optional<GateUpLayout>", "std::nullopt">:$layout,
                   CArg<"::mlir::Value", "{}">:$up)>
  ];
  let hasVerifier = 1;
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def Moe_CombineOp : Moe_Op<"combine", [Pure]> {
  let summary = "weighted scatter-add of expert rows back to token order";
  let description = [{
    The inverse of `moe.dispatch`: with `k` the second dimension of
    `routing_weights` `[T, k]`, pair `p = permutation[i]` and token
    `t = p / k`: `output[t] = sum_i routing_weights.flat[p] * rows[i]`.
    `rows` is `[M, H]`, `permutation` `[M]`, `output` `[T, H]`; M is
    `T * k`, or `E * C` after a dispatch with a capacity, where entries
    outside `[0, T * k)` (empty slots) contribute nothing.

    ```mlir
    %y = moe.combine %out, %permutation, %weights
        : tensor<?x64xf32>, tensor<?xi32>, tensor<?x2xf32> -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins Moe_FloatTensor:$rows, Moe_IdTensor:$permutation,
                       Moe_FloatTensor:$routing_weights);
  let results = (outs Moe_FloatTensor:$output);
  let assemblyFormat = [{
    $rows `,` $permutation `,` $routing_weights attr-dict
    `:` type($rows) `,` type($permutation) `,` type($routing_weights)
    `->` type($output)
  }];
  let builders = [
    OpBuilder<(ins "::mlir::Value":$rows, "::mlir::Value":$permutation,
                   "::mlir::Value":$routingWeights)>
  ];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Run-time checks
//===----------------------------------------------------------------------===//

def Moe_CheckOp : Moe_Op<"check", [MemoryEffects<[MemWrite]>]> {
  let summary = "stop the model with a message naming values when a "
                "condition fails at run time";
  let description = [{
    `cf.assert` with values in its message: when `condition` is false the
    binary prints `message` with `{0}` ... `{3}` replaced by the values
    (signed integers) and exits with status 1. The importer checks indices
    that only the run time knows with it, so that the message names the
    offending index and the extent it must fit. At most four values.

    ```mlir
    moe.check %ok, "node 'g' (op type 'Gather'): index {0} is outside data dimension 0 of extent {1}"
        (%i, %n : i64, index)
    ```
  }];
  let arguments = (ins I1:$condition, StrAttr:$message,
                       Variadic<AnySignlessIntegerOrIndex>:$values);
  let assemblyFormat = [{
    $condition `,` $message (` ` `(` $values^ `:` type($values) `)`)? attr-dict
  }];
  let hasVerifier = 1;
  let hasCanonicalizeMethod = 1;
}

#endif // MOEC_DIALECTS_MOE_IR_MOEOPS_TD
