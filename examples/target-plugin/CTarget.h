//===- CTarget.h - The pieces of the `c` target -----------------*- C++ -*-===//
//
// Target `c` lowers the moe ops with the SDK's reference patterns, prints
// the loops over buffers as one C11 translation unit (CPrinter.h), and
// builds the standalone binary with the system C compiler (CCompiler.cpp):
// the model's C, the manifest and the embedded weights as C arrays
// (CDataFile.cpp), and moec's binary runtime.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGET_C_CTARGET_H
#define MOEC_TARGET_C_CTARGET_H

#include "moec/Target/TargetBackend.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

namespace moec::c {

/// The flags of the target (moec --help lists them under "c target").
llvm::cl::OptionCategory &getOptionCategory();
/// The C compiler --cc names (default: cc).
const std::string &getCompiler();

/// Registers the pass c-lower-moe (the reference lowering of the moe ops).
void registerPasses();
/// From target-independent IR to the loops over buffers CPrinter prints.
void buildLoweringPipeline(mlir::OpPassManager &pm);

/// Prints the lowered module as C: its functions, the packed wrappers of its
/// entry points and the table moec_entries (moec/Runtime/BinaryAbi.h).
/// Emits an error on the first op, type or attribute it cannot print.
mlir::LogicalResult printModule(mlir::ModuleOp module, llvm::raw_ostream &os);

/// Prints the manifest and the blob of embedded weights as the C arrays
/// moec_manifest and moec_weights, with their sizes.
void printDataFile(llvm::StringRef manifest, llvm::StringRef weights,
                   llvm::raw_ostream &os);

/// Compiles C source to an object file with the --cc compiler at
/// `optLevel`; emits an error on `module` with the compiler's output when
/// it fails.
mlir::LogicalResult compileObject(mlir::ModuleOp module, llvm::StringRef source,
                                  unsigned optLevel, std::string &object);

/// Links the model's object, the data file's C source and the binary
/// runtime into the executable at `output`, which it writes only on
/// success.
mlir::LogicalResult linkExecutable(mlir::ModuleOp module,
                                   llvm::StringRef object,
                                   llvm::StringRef dataSource,
                                   unsigned optLevel,
                                   const std::string &output);

} // namespace moec::c

#endif // MOEC_TARGET_C_CTARGET_H
