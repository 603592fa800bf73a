//===- OnnxOps.td - ONNX node operations -------------------*- tablegen -*-===//

#ifndef MOEC_DIALECTS_ONNX_IR_ONNXOPS_TD
#define MOEC_DIALECTS_ONNX_IR_ONNXOPS_TD

include "dialects/onnx/IR/OnnxDialect.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Onnx_NodeOp : Onnx_Op<"node"> {
  let summary = "one ONNX node, as written in the model";
  let description = [{
    A node of the ONNX graph. `op_type`, `domain` (empty for the default
    `ai.onnx` domain) and `opset` (the version the model imports for that
    domain) identify the operator; the node's ONNX attributes are the op's
    discardable attributes, under their ONNX names. A missing optional
    input is an `onnx.none` operand. Result types carry what the importer
    knows: the element type, and the shape where the model declares one.
    The op's location names the node.

    ```mlir
    %values, %indices = onnx.node "TopK" opset 17 (%logits, %k)
        {axis = -1 : i64, largest = 1 : i64}
        : (tensor<?x8xf32>, tensor<1xi64>) -> (tensor<*xf32>, tensor<*xi64>)
    %y = onnx.node "MatMulNBits" domain "com.microsoft" opset 1
        (%a, %b, %scales, %none, %none, %none)
        {K = 64 : i64, N = 32 : i64, bits = 4 : i64, block_size = 32 : i64}
        : (tensor<?x64xf32>, tensor<32x2x16xui8>, tensor<64xf32>,
           none, none, none) -> tensor<*xf32>
    ```
  }];
  let arguments = (ins StrAttr:$op_type, DefaultValuedStrAttr<StrAttr, "">:$domain,
                       I64Attr:$opset, Variadic<AnyType>:$inputs);
  let results = (outs Variadic<AnyType>:$outputs);
  let assemblyFormat = [{
    $op_type (`domain` $domain^)? `opset` $opset ` ` `(` $inputs `)` attr-dict
    `:` functional-type($inputs, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The node's name, from its location, or "" when it has none.
    llvm::StringRef getNodeName();
    /// The domain as ONNX spells it: "ai.onnx" for the default domain.
    llvm::StringRef getDomainName() {
      return getDomain().empty() ? "ai.onnx" : getDomain();
    }
  }];
}

def Onnx_NoneOp : Onnx_Op<"none", [Pure]> {
  let summary = "a missing optional input";
  let description = [{
    Stands for an optional ONNX input left empty (an empty name), so that
    inputs after it keep their positions.

    ```mlir
    %none = onnx.none
    ```
  }];
  let results = (outs NoneType:$result);
  let assemblyFormat = "attr-dict";
}

#endif // MOEC_DIALECTS_ONNX_IR_ONNXOPS_TD
