//===- NpuDialect.td - The reference NPU's dialect ---------*- tablegen -*-===//
//
// Commands of the reference NPU, one op per command kind, grouped by the
// core whose stream they belong to. The lowering of the moe ops produces
// them; serialization writes them as the binary command stream
// (machine/CommandStream.h) one to one.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_NPU_DIALECT
#define MOEC_NPU_DIALECT

include "mlir/IR/OpBase.td"

def Npu_Dialect : Dialect {
  let name = "npu";
  let summary = "commands of the reference cube/vector NPU";
  let description = [{
    The reference NPU (docs/npu.md) runs one command stream per AI core.
    Its pipes (the scalar unit S, the cube M, the vector unit V and the DMA
    engines MTE1..3) run concurrently and synchronise only through flags.
    Each op is one command; its operands are constants or a scalar register
    plus a constant, written `r3+64`, as the command stream encodes them.
  }];
  let cppNamespace = "::moec::npu";
}

class Npu_Op<string mnemonic, list<Trait> traits = []> :
    Op<Npu_Dialect, mnemonic, traits>;

#endif // MOEC_NPU_DIALECT
