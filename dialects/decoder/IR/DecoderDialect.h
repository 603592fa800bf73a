//===- DecoderDialect.h - The decoder dialect -------------------*- C++ -*-===//

#ifndef MOEC_DIALECTS_DECODER_IR_DECODERDIALECT_H
#define MOEC_DIALECTS_DECODER_IR_DECODERDIALECT_H

#include "mlir/IR/Dialect.h"

#include "dialects/decoder/IR/DecoderDialect.h.inc"

#endif // MOEC_DIALECTS_DECODER_IR_DECODERDIALECT_H
