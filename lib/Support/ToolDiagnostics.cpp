//===- ToolDiagnostics.cpp - Diagnostics the way moec tools print ---------===//

#include "moec/Support/ToolDiagnostics.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Location.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace moec;

ToolDiagnosticHandler::ToolDiagnosticHandler(MLIRContext *context,
                                             llvm::StringRef tool)
    : ScopedDiagnosticHandler(context, [tool = tool.str()](Diagnostic &diag) {
        llvm::raw_ostream &os = llvm::errs();
        os << tool << ": ";
        if (diag.getSeverity() == DiagnosticSeverity::Error)
          os << "error: ";
        else if (diag.getSeverity() == DiagnosticSeverity::Warning)
          os << "warning: ";
        else if (diag.getSeverity() == DiagnosticSeverity::Note)
          os << "note: ";
        if (auto file = diag.getLocation()->findInstanceOf<FileLineColLoc>())
          os << file.getFilename().getValue() << ": ";
        os << diag.str() << "\n";
        return success();
      }) {}
