//===- MoeAttrs.h - moe dialect enums and attributes ------------*- C++ -*-===//

#ifndef MOEC_DIALECTS_MOE_IR_MOEATTRS_H
#define MOEC_DIALECTS_MOE_IR_MOEATTRS_H

#include "dialects/moe/IR/MoeDialect.h"

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/APFloat.h"

#include "dialects/moe/IR/MoeEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/moe/IR/MoeAttrs.h.inc"

#endif // MOEC_DIALECTS_MOE_IR_MOEATTRS_H
