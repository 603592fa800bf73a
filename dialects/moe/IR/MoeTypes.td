//===- MoeTypes.td - moe dialect types ---------------------*- tablegen -*-===//

#ifndef MOEC_DIALECTS_MOE_IR_MOETYPES_TD
#define MOEC_DIALECTS_MOE_IR_MOETYPES_TD

include "dialects/moe/IR/MoeAttrs.td"
include "mlir/IR/BuiltinTypeInterfaces.td"

def Moe_PackedType : TypeDef<Moe_Dialect, "Packed"> {
  let mnemonic = "packed";
  let summary = "a quantized weight: packed bytes, block scales, zero points";
  let description = [{
    A weight that stays quantized. The type carries the logical tensor
    (shape and the float element type its values are computed in) and the
    packing; a `moe.packed_weight` op builds a value of it from the packed
    bytes, scales and zero points. Consumers read the packed form directly:
    no dequantized copy of the weight exists anywhere in the program.

    ```mlir
    !moe.packed<tensor<8x256x64xf32>,
                #moe.packing<uint4, block = [1, 1, 32], scale = f16>>
    ```
  }];
  let parameters = (ins "::mlir::RankedTensorType":$tensor_type,
                        "PackingAttr":$packing);
  let assemblyFormat = "`<` $tensor_type `,` qualified($packing) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The shape of the i8/ui8 byte tensor holding the packed elements.
    ::llvm::SmallVector<int64_t> getPackedShape() const;
    /// The shape of the scale (and zero point) tensors.
    ::llvm::SmallVector<int64_t> getScaleShape() const;
  }];
}

#endif // MOEC_DIALECTS_MOE_IR_MOETYPES_TD
