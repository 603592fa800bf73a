//===- CPrinter.h - The printer of the lowered module as C ------*- C++ -*-===//
//
// Every SSA value becomes a C variable (vN) declared where it is defined;
// structured control flow becomes for, if and while statements, with the
// values a region yields assigned to variables declared before it. A memref
// is a descriptor struct per rank, laid out as MLIR's C interface lays it
// out (allocated and aligned pointers, offset, sizes, strides), so the
// runtime calls entries the way it calls the CPU target's. Integers are
// C's exact-width types, computed unsigned so that they wrap; f16 and bf16
// are their bits (uint16_t), converted to float for arithmetic, since a C
// compiler need not know either type. Static sizes and strides print as
// constants, which lets the C compiler vectorize the inner loops.
//
// CPrinter.cpp prints the module, functions and control flow,
// CPrintArith.cpp the arith and math ops, CPrintMemRef.cpp the memref ops;
// CPreamble.cpp holds the C every model starts with.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGET_C_CPRINTER_H
#define MOEC_TARGET_C_CPRINTER_H

#include "moec/Runtime/BinaryAbi.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace moec::c {

using llvm::ArrayRef;
using llvm::StringRef;
using llvm::Twine;
using mlir::APFloat;
using mlir::APInt;
using mlir::Attribute;
using mlir::Block;
using mlir::Operation;
using mlir::OpFoldResult;
using mlir::Type;
using mlir::Value;
using mlir::ValueRange;
namespace func = mlir::func;
namespace memref = mlir::memref;
namespace scf = mlir::scf;

/// Declarations and helpers every model's C starts with; the descriptor
/// structs follow.
extern const char *const kPreamble;

inline bool isFloat16(mlir::Type type) { return type.isF16() || type.isBF16(); }

/// A symbol as a C identifier.
std::string identifier(llvm::StringRef prefix, llvm::StringRef symbol);

class CPrinter {
public:
  CPrinter(mlir::ModuleOp module, llvm::raw_ostream &os)
      : module(module), os(os) {}
  mlir::LogicalResult print();

private:
  mlir::ModuleOp module;
  llvm::raw_ostream &os;
  llvm::DenseMap<Value, std::string> names;
  unsigned nextName = 0;
  unsigned indent = 0;
  /// Set by the first error; printing stops at the op that caused it.
  bool failedPrinting = false;

  // Errors and output.
  void fail(Operation *op, const Twine &message) {
    if (!failedPrinting)
      op->emitError("the C target cannot print this: ") << message;
    failedPrinting = true;
  }
  llvm::raw_ostream &line() {
    for (unsigned i = 0; i < indent; ++i)
      os << "  ";
    return os;
  }

  // Names.
  std::string fresh() { return "v" + std::to_string(nextName++); }
  std::string name(Value value) {
    auto it = names.find(value);
    if (it != names.end())
      return it->second;
    return names[value] = fresh();
  }
  std::string functionName(StringRef symbol) {
    return symbol.starts_with(MOEC_ABI_ENTRY_PREFIX)
               ? identifier("", symbol)
               : identifier("moec_fn_", symbol);
  }

  // Types and values.
  std::string type(Operation *at, Type type);
  std::string unsignedType(Operation *at, Type type);
  std::string asFloat(Value value);
  std::string fromFloat(Type type, const std::string &expression);
  std::string asSigned(Value value);
  std::string asUnsigned(Operation *at, Value value);
  std::string integerLiteral(Operation *at, const APInt &value, Type type);
  std::string floatLiteral(const APFloat &value, Type type);
  std::string attributeLiteral(Operation *at, Attribute attr, Type type);
  std::string folded(OpFoldResult value);
  void define(Operation *at, Value result, const std::string &expression);

  // Memrefs.
  std::string stride(Value memref, unsigned dim);
  std::string size(Value memref, unsigned dim);
  std::string element(Value memref, ArrayRef<std::string> indices);
  void declareDescriptor(Operation *at, Value result,
                         const std::string &allocated,
                         const std::string &aligned, const std::string &offset,
                         ArrayRef<std::string> sizes,
                         ArrayRef<std::string> strides);

  // Module, functions, blocks.
  std::string signature(func::FuncOp func);
  void printGlobal(memref::GlobalOp global);
  void printFunction(func::FuncOp func);
  void printEntryTable(int64_t count);
  void printBlock(Block &block);
  void assignAll(Operation *at, ArrayRef<std::string> targets,
                 ValueRange values);
  void declareAll(Operation *at, ValueRange values);

  // Ops.
  void printOp(Operation *op);
  bool printArith(Operation *op);
  bool printMath(Operation *op);
  bool printMemRef(Operation *op);
  void printFor(scf::ForOp op);
  void printIf(scf::IfOp op);
  void printWhile(scf::WhileOp op);
  void printParallel(scf::ParallelOp op);
  void printCall(func::CallOp op);
  void printReturn(func::ReturnOp op);
  void printCheck(Operation *op, Value condition, const std::string &message,
                  ValueRange values);
};

} // namespace moec::c

#endif // MOEC_TARGET_C_CPRINTER_H
