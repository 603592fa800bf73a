//===- MoeTypes.h - moe dialect types ---------------------------*- C++ -*-===//

#ifndef MOEC_DIALECTS_MOE_IR_MOETYPES_H
#define MOEC_DIALECTS_MOE_IR_MOETYPES_H

#include "dialects/moe/IR/MoeAttrs.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Types.h"

#define GET_TYPEDEF_CLASSES
#include "dialects/moe/IR/MoeTypes.h.inc"

#endif // MOEC_DIALECTS_MOE_IR_MOETYPES_H
