//===- DecoderOps.h - The decoder dialect's ops -----------------*- C++ -*-===//

#ifndef MOEC_DIALECTS_DECODER_IR_DECODEROPS_H
#define MOEC_DIALECTS_DECODER_IR_DECODEROPS_H

#include "dialects/decoder/IR/DecoderDialect.h"

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "dialects/decoder/IR/DecoderOps.h.inc"

#endif // MOEC_DIALECTS_DECODER_IR_DECODEROPS_H
