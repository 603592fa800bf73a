//===- NpuDialect.h - The reference NPU's dialect ---------------*- C++ -*-===//
//
// The npu dialect: one op per command of the reference NPU's command
// stream (machine/CommandStream.h).
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_NPU_IR_NPUDIALECT_H
#define MOEC_TARGETS_NPU_IR_NPUDIALECT_H

#include "mlir/IR/Dialect.h"

#include "IR/NpuDialect.h.inc"

#endif // MOEC_TARGETS_NPU_IR_NPUDIALECT_H
