//===- DecoderOps.td - The decoder dialect's ops -----------*- tablegen -*-===//
//
// The non-MoE parts of a decoder model as a few high-level ops, each with
// a reference decomposition to linalg, tensor, arith and math
// (decoder-to-linalg) that any target may use and that a target replaces
// with its own kernels.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_DIALECTS_DECODER_IR_DECODEROPS_TD
#define MOEC_DIALECTS_DECODER_IR_DECODEROPS_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/CommonAttrConstraints.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Decoder_Dialect : Dialect {
  let name = "decoder";
  let cppNamespace = "::moec::decoder";
  let summary = "The non-MoE parts of decoder models: embedding, RMSNorm, "
                "rotary embedding, attention";
  let description = [{
    A decoder model (Hugging Face checkpoint or GGUF) is an embedding
    lookup, then per layer attention and a feed-forward block (a dense MLP,
    or `moe.router` and `moe.experts`), each after an RMSNorm, and a final
    norm and LM head. This dialect holds the parts that are not matmuls or
    MoE: `decoder.embedding`, `decoder.rms_norm`, `decoder.rope` and
    `decoder.attention` (causal, grouped-query, sliding window, attention
    sinks). Activations are `f32`; weights keep the checkpoint's float type.

    `decoder-to-linalg` decomposes every op into upstream dialects; targets
    with their own kernels replace that decomposition for the ops they
    accelerate, as IREE does with its attention op.
  }];
}

class Decoder_Op<string mnemonic, list<Trait> traits = []>
    : Op<Decoder_Dialect, mnemonic, traits>;

def Decoder_F32Tensor : RankedTensorOf<[F32]>;
def Decoder_WeightTensor : RankedTensorOf<[F32, BF16, F16]>;
def Decoder_IdTensor : RankedTensorOf<[I32, I64]>;

def Decoder_EmbeddingOp : Decoder_Op<"embedding",
    [MemoryEffects<[MemWrite]>]> {
  let summary = "the rows of an embedding table for token ids";
  let description = [{
    `result[t] = table[ids[t]]`, converted to `f32`, for a table `[V, H]`
    and ids `[T]`. An id outside `[0, V)` stops the model at run time with
    an error naming the id and `V` (the op writes that error, hence its
    memory effect).

    ```mlir
    %h = decoder.embedding %table[%ids]
        : tensor<32000x4096xbf16>, tensor<?xi64> -> tensor<?x4096xf32>
    ```
  }];
  let arguments = (ins Decoder_WeightTensor:$table, Decoder_IdTensor:$ids);
  let results = (outs Decoder_F32Tensor:$result);
  let assemblyFormat = [{
    $table `[` $ids `]` attr-dict `:` type($table) `,` type($ids) `->`
    type($result)
  }];
  let hasVerifier = 1;
}

def Decoder_RmsNormOp : Decoder_Op<"rms_norm", [Pure,
    AllTypesMatch<["input", "result"]>]> {
  let summary = "RMSNorm over the last dimension";
  let description = [{
    `result = x / sqrt(mean(x^2) + epsilon) * weight` over the last
    dimension of `x` (size `H`), with `weight` `[H]`, computed in `f32`
    (Hugging Face `LlamaRMSNorm` upcasts to float32).

    ```mlir
    %y = decoder.rms_norm %x, %w epsilon = 1.0e-06
        : tensor<?x4096xf32>, tensor<4096xbf16>
    ```
  }];
  let arguments = (ins Decoder_F32Tensor:$input, Decoder_WeightTensor:$weight,
                       F64Attr:$epsilon);
  let results = (outs Decoder_F32Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight `epsilon` `=` $epsilon attr-dict `:` type($input) `,`
    type($weight)
  }];
  let hasVerifier = 1;
}

def Decoder_RopeOp : Decoder_Op<"rope", [Pure,
    AllTypesMatch<["input", "result"]>]> {
  let summary = "rotary position embedding of each head";
  let description = [{
    Rotates the first `d = 2 * size(inv_freq)` dimensions of each head of
    `x` `[T, N, D]` by the angles `positions[t] * inv_freq[i]`, computed in
    `f64`; dimensions from `d` on pass through. Pairs are
    `(x[i], x[i + d/2])` (half-split, Hugging Face `rotate_half`) or, with
    `interleaved`, `(x[2i], x[2i + 1])` (GPT-J, DeepSeek):

    `(a, b) -> (a cos - b sin, b cos + a sin)`, with `cos` and `sin`
    multiplied by `amplitude` (YaRN's attention factor; 1 otherwise).

    `inv_freq` carries the scaling (linear, llama3, yarn) the frontend
    computed from the config (an array of `f64` attributes, which print
    with every digit).

    ```mlir
    %q = decoder.rope %x, %positions inv_freq = [1.0 : f64, 0.01 : f64]
        amplitude = 1.0 : tensor<?x32x4xf32>, tensor<?xi64>
    ```
  }];
  let arguments = (ins Decoder_F32Tensor:$input, Decoder_IdTensor:$positions,
                       F64ArrayAttr:$inv_freq, UnitAttr:$interleaved,
                       DefaultValuedAttr<F64Attr, "1.0">:$amplitude);
  let results = (outs Decoder_F32Tensor:$result);
  let assemblyFormat = [{
    $input `,` $positions `inv_freq` `=` $inv_freq
    (`interleaved` $interleaved^)? `amplitude` `=` $amplitude attr-dict
    `:` type($input) `,` type($positions)
  }];
  let hasVerifier = 1;
}

def Decoder_AttentionOp : Decoder_Op<"attention", [Pure]> {
  let summary = "causal grouped-query attention, with optional sliding "
                "window and sinks";
  let description = [{
    For queries `q` `[Tq, H, D]`, keys `k` `[Tk, KV, D]` and values `v`
    `[Tk, KV, Dv]` with `Tq <= Tk`: query `i` stands at position
    `p = Tk - Tq + i` (the queries are the last `Tq` of the `Tk`
    positions, as after a KV cache) and sees the keys `j <= p`, and with
    `window` only `j > p - window` (the last `window` positions, itself
    included). Head `h` reads KV head `h / (H / KV)`.

    `result[i, h] = sum_j softmax_j(scale * q[i, h] . k[j, h'] ) v[j, h']`,
    in `f32`. Keys and values may be stored in `f16` or `bf16` (a KV cache
    of that dtype); each element is widened to `f32`. With `sinks` `[H]` (GPT-OSS), the softmax denominator also
    has `exp(sinks[h])`, a logit that is not scaled and that no value
    follows.

    ```mlir
    %o = decoder.attention %q, %k, %v scale = 0.125 window = 128
        : tensor<?x64x64xf32>, tensor<?x8x64xf32>, tensor<?x8x64xf32>
        -> tensor<?x64x64xf32>
    %o = decoder.attention %q, %k, %v sinks %s scale = 0.125
        : tensor<?x64x64xf32>, tensor<?x8x64xf32>, tensor<?x8x64xf32>,
          tensor<64xbf16> -> tensor<?x64x64xf32>
    ```
  }];
  let arguments = (ins Decoder_F32Tensor:$query, Decoder_WeightTensor:$key,
                       Decoder_WeightTensor:$value,
                       Optional<Decoder_WeightTensor>:$sinks, F64Attr:$scale,
                       OptionalAttr<ConfinedAttr<I64Attr, [IntPositive]>>:$window);
  let results = (outs Decoder_F32Tensor:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value (`sinks` $sinks^)? `scale` `=` $scale
    (`window` `=` $window^)? attr-dict `:` type($query) `,` type($key) `,`
    type($value) (`,` type($sinks)^)? `->` type($result)
  }];
  let hasVerifier = 1;
}

#endif // MOEC_DIALECTS_DECODER_IR_DECODEROPS_TD
