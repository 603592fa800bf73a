//===- Passes.td - moec conversion passes ------------------*- tablegen -*-===//

#ifndef MOEC_PASSES_CONVERSION_PASSES_TD
#define MOEC_PASSES_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertOnnxToLinalg : Pass<"convert-onnx-to-linalg", "mlir::ModuleOp"> {
  let summary = "lower onnx.node ops to linalg, tensor, arith, math and scf";
  let description = [{
    Lowers every `onnx.node` left after MoE raising to upstream dialects,
    node by node in graph order. Each lowering sees the real types of its
    operands (static where known, dynamic dimensions as `?`), builds the
    node's semantics, and replaces the node's results; a result whose type
    the model declared must agree with what the lowering computed. Integer
    shape arithmetic on constants (Shape, Gather, Concat, Slice, ... of
    constants) folds to constants as it lowers, so reshapes driven by shape
    subgraphs get static types. Function signatures are updated to the
    lowered result types.

    A node whose op type, domain or attributes are not supported is an
    error naming the node, op type, domain and opset. The op list and the
    upstream ops each lowers to are in docs/onnx-import.md.
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::linalg::LinalgDialect",
    "mlir::math::MathDialect", "mlir::scf::SCFDialect",
    "mlir::tensor::TensorDialect"
  ];
}

#endif // MOEC_PASSES_CONVERSION_PASSES_TD
