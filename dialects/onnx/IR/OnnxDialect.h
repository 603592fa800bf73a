//===- OnnxDialect.h - ONNX nodes as imported -------------------*- C++ -*-===//

#ifndef MOEC_DIALECTS_ONNX_IR_ONNXDIALECT_H
#define MOEC_DIALECTS_ONNX_IR_ONNXDIALECT_H

#include "mlir/IR/Dialect.h"

#include "dialects/onnx/IR/OnnxDialect.h.inc"

#endif // MOEC_DIALECTS_ONNX_IR_ONNXDIALECT_H
