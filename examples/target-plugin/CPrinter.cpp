//===- CPrinter.cpp - Loops over buffers as one C11 translation unit ------===//
//
// The module, its functions and their structured control flow; CPrinter.h
// describes the mapping to C.
//
//===----------------------------------------------------------------------===//

#include "CPrinter.h"
#include "CTarget.h"

#include "dialects/moe/IR/MoeOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace moec::c;

/// `text` as a C string literal (octal escapes, so no digit that follows
/// can extend one).
static std::string cString(StringRef text) {
  std::string result = "\"";
  for (char ch : text) {
    if (ch == '"' || ch == '\\' || ch == '?') {
      result += '\\';
      result += ch;
    } else if (llvm::isPrint(ch)) {
      result += ch;
    } else {
      char escape[5];
      snprintf(escape, sizeof escape, "\\%03o", unsigned(uint8_t(ch)));
      result += escape;
    }
  }
  return result + "\"";
}

/// A symbol as a C identifier.
std::string moec::c::identifier(StringRef prefix, StringRef symbol) {
  std::string result = prefix.str();
  for (char ch : symbol)
    result += llvm::isAlnum(ch) ? ch : '_';
  return result;
}

//===----------------------------------------------------------------------===//
// Types and values
//===----------------------------------------------------------------------===//

std::string CPrinter::type(Operation *at, Type type) {
  if (auto memref = dyn_cast<MemRefType>(type))
    return "moec_memref_" + std::to_string(memref.getRank());
  if (type.isIndex())
    return "int64_t";
  if (auto integer = dyn_cast<IntegerType>(type)) {
    unsigned width = integer.getWidth();
    if (width == 1)
      return "bool";
    if (width == 8 || width == 16 || width == 32 || width == 64)
      return "int" + std::to_string(width) + "_t";
  }
  if (type.isF32())
    return "float";
  if (type.isF64())
    return "double";
  if (isFloat16(type))
    return "uint16_t";
  std::string text;
  llvm::raw_string_ostream(text) << "values of type " << type;
  fail(at, text);
  return "void";
}

/// The unsigned type integer arithmetic on `type` wraps in: at least 32
/// bits, so that C's promotion to int cannot overflow.
std::string CPrinter::unsignedType(Operation *at, Type type) {
  if (type.isIndex() || type.getIntOrFloatBitWidth() == 64)
    return "uint64_t";
  if (type.getIntOrFloatBitWidth() > 32)
    fail(at, "integers wider than 64 bits");
  return "uint32_t";
}

/// The value as float or double, for arithmetic.
std::string CPrinter::asFloat(Value value) {
  if (value.getType().isBF16())
    return "moec_bf16_to_f32(" + name(value) + ")";
  if (value.getType().isF16())
    return "moec_f16_to_f32(" + name(value) + ")";
  return name(value);
}

std::string CPrinter::fromFloat(Type type, const std::string &expression) {
  if (type.isBF16())
    return "moec_f32_to_bf16(" + expression + ")";
  if (type.isF16())
    return "moec_f32_to_f16(" + expression + ")";
  return expression;
}

/// The value as a signed integer (an i1 true is -1).
std::string CPrinter::asSigned(Value value) {
  if (value.getType().isInteger(1))
    return "(-(int32_t)" + name(value) + ")";
  return name(value);
}

/// The value's bits as an unsigned integer of its width.
std::string CPrinter::asUnsigned(Operation *at, Value value) {
  Type t = value.getType();
  if (t.isInteger(1))
    return name(value);
  unsigned width = t.isIndex() ? 64 : t.getIntOrFloatBitWidth();
  if (width != 8 && width != 16 && width != 32 && width != 64)
    fail(at, "integers of width " + Twine(width));
  return "(uint" + std::to_string(width) + "_t)" + name(value);
}

std::string CPrinter::integerLiteral(Operation *at, const APInt &value,
                                     Type t) {
  if (t.isInteger(1))
    return value.isZero() ? "false" : "true";
  int64_t v = value.getSExtValue();
  if (v == INT64_MIN)
    return "INT64_MIN";
  if (t.isIndex() || t.getIntOrFloatBitWidth() == 64)
    return "INT64_C(" + std::to_string(v) + ")";
  return "(" + type(at, t) + ")" + std::to_string(v);
}

/// Exact: hexadecimal floats; f16 and bf16 as their bits.
std::string CPrinter::floatLiteral(const APFloat &value, Type t) {
  if (isFloat16(t))
    return "(uint16_t)0x" +
           llvm::utohexstr(value.bitcastToAPInt().getZExtValue());
  std::string cast = t.isF64() ? "(double)" : "";
  if (value.isNaN())
    return cast + "NAN";
  if (value.isInfinity())
    return cast + (value.isNegative() ? "-INFINITY" : "INFINITY");
  char buffer[64];
  value.convertToHexString(buffer, 0, false, APFloat::rmNearestTiesToEven);
  return std::string(buffer) + (t.isF64() ? "" : "f");
}

std::string CPrinter::attributeLiteral(Operation *at, Attribute attr, Type t) {
  if (auto integer = dyn_cast<IntegerAttr>(attr))
    return integerLiteral(at, integer.getValue(), t);
  if (auto real = dyn_cast<FloatAttr>(attr))
    return floatLiteral(real.getValue(), t);
  fail(at, "a constant that is not a scalar");
  return "0";
}

std::string CPrinter::folded(OpFoldResult value) {
  if (auto attr = dyn_cast<Attribute>(value))
    return std::to_string(cast<IntegerAttr>(attr).getInt());
  return name(cast<Value>(value));
}

void CPrinter::define(Operation *at, Value result,
                      const std::string &expression) {
  line() << type(at, result.getType()) << " " << name(result) << " = "
         << expression << ";\n";
}

//===----------------------------------------------------------------------===//
// Module, functions, blocks
//===----------------------------------------------------------------------===//

/// void NAME(T *r0, ..., T vA, ...): results through pointers, as the
/// entries' C interface returns them.
std::string CPrinter::signature(func::FuncOp func) {
  SmallVector<std::string> params;
  for (auto [i, t] : llvm::enumerate(func.getResultTypes()))
    params.push_back(type(func, t) + " *r" + std::to_string(i));
  if (!func.isExternal())
    for (BlockArgument arg : func.getArguments())
      params.push_back(type(func, arg.getType()) + " " + name(arg));
  if (params.empty())
    params.push_back("void");
  return "static void " + functionName(func.getSymName()) + "(" +
         llvm::join(params, ", ") + ")";
}

void CPrinter::printGlobal(memref::GlobalOp global) {
  MemRefType t = global.getType();
  if (!t.hasStaticShape())
    return fail(global, "a global of dynamic shape");
  std::string elementType = type(global, t.getElementType());
  int64_t count = t.getNumElements();
  os << "static _Alignas(64) " << (global.getConstant() ? "const " : "")
     << elementType << " " << identifier("moec_global_", global.getSymName())
     << "[" << std::max<int64_t>(count, 1) << "]";
  auto initial =
      dyn_cast_or_null<DenseElementsAttr>(global.getInitialValueAttr());
  if (!initial || count == 0) {
    os << ";\n";
    return;
  }
  os << " = {";
  Type elementTy = t.getElementType();
  int64_t i = 0;
  auto separator = [&] { os << (i++ % 8 == 0 ? "\n  " : " "); };
  if (isa<FloatType>(elementTy)) {
    for (const APFloat &v : initial.getValues<APFloat>()) {
      separator();
      os << floatLiteral(v, elementTy) << ",";
    }
  } else {
    for (const APInt &v : initial.getValues<APInt>()) {
      separator();
      os << integerLiteral(global, v, elementTy) << ",";
    }
  }
  os << "\n};\n";
}

void CPrinter::printFunction(func::FuncOp func) {
  if (func.isExternal())
    return fail(func, "a call to the external function @" +
                          func.getSymName().str() +
                          ", which the C target does not provide");
  if (!func.getBody().hasOneBlock())
    return fail(func, "unstructured control flow (more than one block)");
  os << signature(func) << " {\n";
  indent = 1;
  printBlock(func.getBody().front());
  os << "}\n\n";
}

/// moec_entry_N_packed(void **args): the ABI's wrapper of entry N, which
/// reads the result descriptors' address, then one descriptor per argument.
void CPrinter::printEntryTable(int64_t count) {
  SmallVector<std::string> wrappers;
  for (int64_t index = 0; index < count; ++index) {
    std::string symbol = MOEC_ABI_ENTRY_PREFIX + std::to_string(index);
    auto func = module.lookupSymbol<func::FuncOp>(symbol);
    if (!func || func.isExternal()) {
      module.emitError("the lowered module has no function @") << symbol;
      failedPrinting = true;
      return;
    }
    SmallVector<std::string> args;
    size_t resultBytes = 0;
    for (Type t : func.getResultTypes()) {
      auto memref = dyn_cast<MemRefType>(t);
      if (!memref)
        return fail(func, "an entry point with a result that is not a memref");
      args.push_back("(moec_memref_" + std::to_string(memref.getRank()) +
                     " *)((char *)args[0] + " + std::to_string(resultBytes) +
                     ")");
      resultBytes += 8 * (3 + 2 * memref.getRank());
    }
    size_t slot = func.getNumResults() ? 1 : 0;
    for (Type t : func.getArgumentTypes()) {
      auto memref = dyn_cast<MemRefType>(t);
      if (!memref)
        return fail(func, "an entry point with an argument that is not a "
                          "memref");
      args.push_back("*(moec_memref_" + std::to_string(memref.getRank()) +
                     " *)args[" + std::to_string(slot++) + "]");
    }
    os << "static void " << symbol << "_packed(void **args) {\n  " << symbol
       << "(" << llvm::join(args, ", ") << ");\n}\n\n";
    wrappers.push_back(symbol + "_packed");
  }
  os << "const moec_entry_fn " MOEC_ABI_ENTRIES "[] = {"
     << llvm::join(wrappers, ", ") << "};\n"
     << "const int64_t " MOEC_ABI_ENTRY_COUNT " = " << count << ";\n";
}

void CPrinter::printBlock(Block &block) {
  for (Operation &op : block.without_terminator()) {
    if (failedPrinting)
      return;
    printOp(&op);
  }
  if (auto ret = dyn_cast<func::ReturnOp>(block.getTerminator()))
    printReturn(ret);
}

/// targets[i] = values[i] for all i at once: through temporaries when one
/// target is read by another value.
void CPrinter::assignAll(Operation *at, ArrayRef<std::string> targets,
                         ValueRange values) {
  if (targets.size() == 1) {
    if (targets[0] != name(values[0]))
      line() << targets[0] << " = " << name(values[0]) << ";\n";
    return;
  }
  SmallVector<std::string> temporaries;
  for (Value value : values) {
    temporaries.push_back(fresh());
    line() << type(at, value.getType()) << " " << temporaries.back() << " = "
           << name(value) << ";\n";
  }
  for (auto [target, temporary] : llvm::zip(targets, temporaries))
    line() << target << " = " << temporary << ";\n";
}

/// Declares (uninitialized) the C variables of `values`.
void CPrinter::declareAll(Operation *at, ValueRange values) {
  for (Value value : values)
    line() << type(at, value.getType()) << " " << name(value) << ";\n";
}

//===----------------------------------------------------------------------===//
// Ops
//===----------------------------------------------------------------------===//

void CPrinter::printOp(Operation *op) {
  if (printArith(op) || printMath(op) || printMemRef(op))
    return;
  llvm::TypeSwitch<Operation *>(op)
      .Case([&](scf::ForOp o) { printFor(o); })
      .Case([&](scf::IfOp o) { printIf(o); })
      .Case([&](scf::WhileOp o) { printWhile(o); })
      .Case([&](scf::ParallelOp o) { printParallel(o); })
      .Case([&](func::CallOp o) { printCall(o); })
      .Case([&](moec::moe::CheckOp o) {
        printCheck(o, o.getCondition(), o.getMessage().str(), o.getValues());
      })
      .Case([&](cf::AssertOp o) {
        printCheck(o, o.getArg(), moec::moe::escapeCheckText(o.getMsg()), {});
      })
      .Default([&](Operation *o) {
        if (o->getName().getStringRef() == "ub.poison" &&
            o->getNumResults() == 1 &&
            !isa<MemRefType>(o->getResult(0).getType()))
          return define(o, o->getResult(0), "0");
        fail(o, "the op " + o->getName().getStringRef().str());
      });
}

void CPrinter::printFor(scf::ForOp op) {
  SmallVector<std::string> carried;
  for (auto [init, iterArg, result] :
       llvm::zip(op.getInitArgs(), op.getRegionIterArgs(), op.getResults())) {
    std::string n = fresh();
    names[iterArg] = n;
    names[result] = n;
    carried.push_back(n);
    line() << type(op, result.getType()) << " " << n << " = " << name(init)
           << ";\n";
  }
  Value iv = op.getInductionVar();
  std::string ivName = name(iv);
  std::string compare =
      op.getUnsignedCmp()
          ? "(uint64_t)" + ivName + " < (uint64_t)" + name(op.getUpperBound())
          : ivName + " < " + name(op.getUpperBound());
  line() << "for (" << type(op, iv.getType()) << " " << ivName << " = "
         << name(op.getLowerBound()) << "; " << compare << "; " << ivName
         << " += " << name(op.getStep()) << ") {\n";
  ++indent;
  printBlock(*op.getBody());
  assignAll(op, carried,
            cast<scf::YieldOp>(op.getBody()->getTerminator()).getOperands());
  --indent;
  line() << "}\n";
}

void CPrinter::printIf(scf::IfOp op) {
  declareAll(op, op.getResults());
  SmallVector<std::string> results;
  for (Value v : op.getResults())
    results.push_back(name(v));
  line() << "if (" << name(op.getCondition()) << ") {\n";
  ++indent;
  printBlock(*op.thenBlock());
  if (!results.empty())
    assignAll(op, results, op.thenYield().getOperands());
  --indent;
  if (Block *otherwise = op.elseBlock()) {
    line() << "} else {\n";
    ++indent;
    printBlock(*otherwise);
    if (!results.empty())
      assignAll(op, results, op.elseYield().getOperands());
    --indent;
  }
  line() << "}\n";
}

/// while (1) { before; if (!condition) { results = args; break; }
/// after-arguments = args; after; before-arguments = yielded; }
void CPrinter::printWhile(scf::WhileOp op) {
  SmallVector<std::string> before, after, results;
  for (auto [init, arg] : llvm::zip(op.getInits(), op.getBeforeArguments())) {
    line() << type(op, arg.getType()) << " " << name(arg) << " = " << name(init)
           << ";\n";
    before.push_back(name(arg));
  }
  declareAll(op, op.getResults());
  declareAll(op, op.getAfterArguments());
  for (Value v : op.getResults())
    results.push_back(name(v));
  for (Value v : op.getAfterArguments())
    after.push_back(name(v));
  line() << "while (1) {\n";
  ++indent;
  printBlock(*op.getBeforeBody());
  scf::ConditionOp condition = op.getConditionOp();
  line() << "if (!" << name(condition.getCondition()) << ") {\n";
  ++indent;
  if (!results.empty())
    assignAll(op, results, condition.getArgs());
  line() << "break;\n";
  --indent;
  line() << "}\n";
  if (!after.empty())
    assignAll(op, after, condition.getArgs());
  printBlock(*op.getAfterBody());
  if (!before.empty())
    assignAll(op, before, op.getYieldOp().getOperands());
  --indent;
  line() << "}\n";
}

/// Nested for loops, run in order; each reduction folds into its result
/// with the reduce region inlined.
void CPrinter::printParallel(scf::ParallelOp op) {
  SmallVector<std::string> accumulators;
  for (auto [init, result] : llvm::zip(op.getInitVals(), op.getResults())) {
    line() << type(op, result.getType()) << " " << name(result) << " = "
           << name(init) << ";\n";
    accumulators.push_back(name(result));
  }
  for (auto [iv, lower, upper, step] :
       llvm::zip(op.getInductionVars(), op.getLowerBound(), op.getUpperBound(),
                 op.getStep())) {
    line() << "for (int64_t " << name(iv) << " = " << name(lower) << "; "
           << name(iv) << " < " << name(upper) << "; " << name(iv)
           << " += " << name(step) << ") {\n";
    ++indent;
  }
  printBlock(*op.getBody());
  auto reduce = cast<scf::ReduceOp>(op.getBody()->getTerminator());
  for (auto [i, region] : llvm::enumerate(reduce.getReductions())) {
    Block &block = region.front();
    line() << "{\n";
    ++indent;
    line() << type(op, block.getArgument(0).getType()) << " "
           << name(block.getArgument(0)) << " = " << accumulators[i] << ";\n";
    line() << type(op, block.getArgument(1).getType()) << " "
           << name(block.getArgument(1)) << " = "
           << name(reduce.getOperands()[i]) << ";\n";
    printBlock(block);
    auto ret = cast<scf::ReduceReturnOp>(block.getTerminator());
    line() << accumulators[i] << " = " << name(ret.getResult()) << ";\n";
    --indent;
    line() << "}\n";
  }
  for (size_t i = 0; i < op.getInductionVars().size(); ++i) {
    --indent;
    line() << "}\n";
  }
}

void CPrinter::printCall(func::CallOp op) {
  declareAll(op, op.getResults());
  SmallVector<std::string> args;
  for (Value v : op.getResults())
    args.push_back("&" + name(v));
  for (Value v : op.getOperands())
    args.push_back(name(v));
  line() << functionName(op.getCallee()) << "(" << llvm::join(args, ", ")
         << ");\n";
}

void CPrinter::printReturn(func::ReturnOp op) {
  for (auto [i, v] : llvm::enumerate(op.getOperands()))
    line() << "*r" << i << " = " << name(v) << ";\n";
  line() << "return;\n";
}

/// The runtime prints the message, with the values in place of {0}...{3},
/// and exits with status 1.
void CPrinter::printCheck(Operation *op, Value condition,
                          const std::string &message, ValueRange values) {
  SmallVector<std::string> args{cString(message)};
  for (Value v : values)
    args.push_back("(int64_t)" +
                   (v.getType().isInteger(1) ? name(v) : asSigned(v)));
  while (args.size() < 1 + moec::moe::kMaxCheckValues)
    args.push_back("0");
  line() << "if (!" << name(condition) << ")\n";
  line() << "  moec_check_failed(" << llvm::join(args, ", ") << ");\n";
}

LogicalResult CPrinter::print() {
  auto entries = module->getAttrOfType<ArrayAttr>("moec.entries");
  if (!entries)
    return module.emitError("the lowered module lacks moec.entries (run "
                            "moe-weights-to-arguments)");
  int64_t maxRank = 0;
  module.walk([&](Operation *op) {
    auto note = [&](Type t) {
      if (auto memref = dyn_cast<MemRefType>(t))
        maxRank = std::max(maxRank, memref.getRank());
    };
    for (Type t : op->getResultTypes())
      note(t);
    for (Region &region : op->getRegions())
      for (Block &block : region)
        for (BlockArgument arg : block.getArguments())
          note(arg.getType());
    if (auto func = dyn_cast<func::FuncOp>(op))
      for (Type t : func.getResultTypes())
        note(t);
  });
  os << kPreamble;
  os << "typedef struct {\n  void *allocated;\n  void *aligned;\n"
        "  int64_t offset;\n} moec_memref_0;\n";
  for (int64_t rank = 1; rank <= maxRank; ++rank)
    os << "typedef struct {\n  void *allocated;\n  void *aligned;\n"
          "  int64_t offset;\n  int64_t sizes["
       << rank << "];\n  int64_t strides[" << rank << "];\n} moec_memref_"
       << rank << ";\n";
  os << "\n";
  for (auto global : module.getOps<memref::GlobalOp>())
    printGlobal(global);
  os << "\n";
  for (auto func : module.getOps<func::FuncOp>())
    os << signature(func) << ";\n";
  os << "\n";
  for (auto func : module.getOps<func::FuncOp>()) {
    if (failedPrinting)
      break;
    printFunction(func);
  }
  if (!failedPrinting)
    printEntryTable(entries.size());
  for (Operation &op : module.getBody()->getOperations())
    if (!isa<func::FuncOp, memref::GlobalOp>(op))
      fail(&op, "the module-level op " + op.getName().getStringRef().str());
  return failure(failedPrinting);
}

LogicalResult moec::c::printModule(ModuleOp module, llvm::raw_ostream &os) {
  return CPrinter(module, os).print();
}
