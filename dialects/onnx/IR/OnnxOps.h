//===- OnnxOps.h - ONNX node operations -------------------------*- C++ -*-===//

#ifndef MOEC_DIALECTS_ONNX_IR_ONNXOPS_H
#define MOEC_DIALECTS_ONNX_IR_ONNXOPS_H

#include "dialects/onnx/IR/OnnxDialect.h"

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "dialects/onnx/IR/OnnxOps.h.inc"

#endif // MOEC_DIALECTS_ONNX_IR_ONNXOPS_H
