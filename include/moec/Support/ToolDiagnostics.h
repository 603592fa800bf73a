//===- ToolDiagnostics.h - Diagnostics the way moec tools print -*- C++ -*-===//
//
// moec's tools print each diagnostic on one line of stderr:
// "TOOL: error: FILE: message", so scripts and lit tests can match them.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_SUPPORT_TOOLDIAGNOSTICS_H
#define MOEC_SUPPORT_TOOLDIAGNOSTICS_H

#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/StringRef.h"

namespace moec {

/// Prints every diagnostic of `context` as one "TOOL: severity: FILE:
/// message" line on stderr while the handler lives.
class ToolDiagnosticHandler : public mlir::ScopedDiagnosticHandler {
public:
  ToolDiagnosticHandler(mlir::MLIRContext *context, llvm::StringRef tool);
};

} // namespace moec

#endif // MOEC_SUPPORT_TOOLDIAGNOSTICS_H
