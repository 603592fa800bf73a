//===- Glue.h - What the index glue of an MoE block means -------*- C++ -*-===//
//
// Exporters spell the glue between a router and its experts (which tokens
// go to expert e, their routing weights, where the results go back) in many
// ways: Equal or OneHot masks, NonZero rows gathered, split or sliced, flat
// index arithmetic, GatherND, dense routing matrices, reshapes with shapes
// computed at run time. GlueAnalysis gives each value a meaning (kind, the
// expert it belongs to, and a label per axis) by abstract interpretation of
// those ops, so the form matchers ask "is this the routing weight of expert
// e at its (token, slot) pairs?" instead of matching one spelling.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_PASSES_CONVERSION_ONNXTOMOE_GLUE_H
#define MOEC_PASSES_CONVERSION_ONNXTOMOE_GLUE_H

#include "Raising.h"

#include "llvm/ADT/DenseMap.h"

#include <string>

namespace moec::raise {

/// Axis labels: T tokens, K top-k slots, E experts, H hidden, N the (token,
/// slot) pairs of one expert, P the flattened [T, K] pairs, Q the flattened
/// [E, T] rows of tokens tiled per expert, R the two rows of a NonZero, 1 a
/// unit axis.
struct Meaning {
  enum class Kind {
    Unknown,
    Tokens,      // the block input; dims TH, or ETH when tiled per expert
    Ids,         // the TopK indices, TK
    Weights,     // the routing weights, TK (FlatWeights: P)
    Routing,     // the dense [T, E] routing matrix (weights at the ids)
    OneHot,      // one-hot ids, TKE in some order
    MaskedOneHot, // OneHot times the weights
    Mask,        // ids == expert, TK or KT
    MaskedWeights, // Mask times the weights, TK
    MaskCount,   // a Mask summed over the slots, not weighted: a near miss
    TokenMask,   // whether each token chose the expert, T
    NonZero,     // NonZero of a Mask: RN, or NR transposed
    Index,       // the token (which = 'T') or slot ('K') of each pair, N
    TokTimesK,   // token index * k
    FlatIndex,   // token * k + slot: a pair's index into P
    Column,      // the routing weight of one expert per token, T
    PairWeight,  // the routing weight of one expert at its pairs, N
    Rows,        // the block input's rows at one expert's pairs, NH
    Zeros,       // all zeros
  };
  Kind kind = Kind::Unknown;
  int64_t expert = -1;
  std::string dims;
  char which = 0;        // Index: 'T' or 'K'
  std::string pairOrder; // Mask/NonZero/Index: the mask's axes, TK or KT

  bool is(Kind k) const { return kind == k; }
  bool known() const { return kind != Kind::Unknown; }
};

/// One extent of a shape computed in the graph.
struct Extent {
  enum class Kind { Const, Label, Unknown } kind = Kind::Unknown;
  int64_t value = 0;
  char label = 0;
};

/// The axis `axis` of a rank-`rank` tensor, or -1 when out of range.
int64_t normalizeAxis(int64_t axis, int64_t rank);

class GlueAnalysis {
public:
  explicit GlueAnalysis(const RouterMatch &router);

  /// The meaning of `value` (memoized).
  Meaning meaningOf(mlir::Value value);
  /// The extents of a 1-D shape tensor (or a scalar), if they can be told.
  std::optional<llvm::SmallVector<Extent>> resolveShape(mlir::Value shape);
  /// Whether `value` is the block input (through no-op Casts).
  bool isTokens(mlir::Value value);

  const RouterMatch &router;

private:
  Meaning compute(mlir::Value value);
  Meaning computeNode(onnx::NodeOp node, mlir::Value value);
  std::optional<std::string> reshapeDims(const Meaning &m,
                                         llvm::ArrayRef<Extent> target);
  std::optional<int64_t> extentOf(char label) const;

  llvm::DenseMap<mlir::Value, Meaning> memo;
  int64_t hiddenSize = -1;
};

} // namespace moec::raise

#endif // MOEC_PASSES_CONVERSION_ONNXTOMOE_GLUE_H
