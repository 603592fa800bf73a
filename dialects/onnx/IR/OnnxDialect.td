//===- OnnxDialect.td - ONNX nodes as imported -------------*- tablegen -*-===//
//
// The onnx dialect holds an ONNX graph exactly as written, one op per node,
// so that MoE raising can match the graph's own vocabulary (TopK, Gather,
// ScatterND, com.microsoft.MoE) before everything else lowers to upstream
// dialects.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_DIALECTS_ONNX_IR_ONNXDIALECT_TD
#define MOEC_DIALECTS_ONNX_IR_ONNXDIALECT_TD

include "mlir/IR/OpBase.td"

def Onnx_Dialect : Dialect {
  let name = "onnx";
  let cppNamespace = "::moec::onnx";
  let summary = "ONNX graph nodes as imported, before lowering";
  let description = [{
    `moec-import` first turns every ONNX node into one `onnx.node` op that
    keeps the node's op type, domain, opset and attributes. MoE raising
    (`moe-raise-onnx-patterns`) rewrites the MoE subgraphs it recognises
    into `moe` ops; `convert-onnx-to-linalg` then lowers every remaining
    node to linalg, tensor, arith, math and scf. Nothing but the importer
    and those two passes sees this dialect.
  }];
}

class Onnx_Op<string mnemonic, list<Trait> traits = []>
    : Op<Onnx_Dialect, mnemonic, traits>;

#endif // MOEC_DIALECTS_ONNX_IR_ONNXDIALECT_TD
