//===- MoeDialect.h - The moe dialect ---------------------------*- C++ -*-===//

#ifndef MOEC_DIALECTS_MOE_IR_MOEDIALECT_H
#define MOEC_DIALECTS_MOE_IR_MOEDIALECT_H

#include "moec/Support/WeightStore.h"

#include "mlir/IR/Dialect.h"

#include <memory>

#include "dialects/moe/IR/MoeDialect.h.inc"

#endif // MOEC_DIALECTS_MOE_IR_MOEDIALECT_H
