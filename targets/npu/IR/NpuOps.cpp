//===- NpuOps.cpp - Commands of the reference NPU -------------------------===//
//
// The dialect, its ops' verifiers and the table of command kinds. An
// operand list prints as `(name = r3+64, ...)`; the names come from the
// table, so that the IR reads like the command it encodes.
//
//===----------------------------------------------------------------------===//

#include "IR/NpuOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSwitch.h"

using namespace mlir;
using namespace moec::npu;

#include "IR/NpuDialect.cpp.inc"

void NpuDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "IR/NpuOps.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// The command table
//===----------------------------------------------------------------------===//

static const StringRef kNone[] = {};
static const StringRef kValue[] = {"value"};
static const StringRef kBinary[] = {"a", "b"};
static const StringRef kSelect[] = {"a", "b", "then", "else"};
static const StringRef kLoad[] = {"addr"};
static const StringRef kStore[] = {"addr", "value"};
static const StringRef kLoop[] = {"count"};
static const StringRef kCopy[] = {"dst",       "src",        "rows",
                                  "row_bytes", "src_stride", "dst_stride"};
static const StringRef kGather[] = {"dst",     "src",       "index",
                                    "rows",    "row_bytes", "src_stride",
                                    "divisor", "dst_stride"};
static const StringRef kToFractal[] = {
    "dst", "src", "rows", "cols", "src_stride", "tile_rows", "tile_cols"};
static const StringRef kFromFractal[] = {
    "dst", "src", "rows", "cols", "dst_stride", "tile_rows", "tile_cols"};
static const StringRef kMmad[] = {"c", "a", "b", "m", "k", "n"};
static const StringRef kElementwise[] = {
    "dst",  "src0",       "src1",        "count",
    "rows", "dst_stride", "src0_stride", "src1_stride"};
static const StringRef kTopK[] = {"values", "scores", "indices",      "n",
                                  "rows",   "k",      "scores_stride"};

static const CommandKind kCommandKinds[] = {
    {"scalar", "mov", Opcode::S_MOV, kValue},
    {"scalar", "add", Opcode::S_ADD, kBinary},
    {"scalar", "sub", Opcode::S_SUB, kBinary},
    {"scalar", "mul", Opcode::S_MUL, kBinary},
    {"scalar", "div", Opcode::S_DIV, kBinary},
    {"scalar", "min", Opcode::S_MIN, kBinary},
    {"scalar", "max", Opcode::S_MAX, kBinary},
    {"scalar", "select", Opcode::S_SELECT, kSelect},
    {"scalar", "load", Opcode::S_LOAD, kLoad},
    {"scalar", "store", Opcode::S_STORE, kStore},
    {"loop", "loop", Opcode::LOOP_BEGIN, kLoop},
    {"dma", "copy", Opcode::DMA_COPY, kCopy},
    {"dma", "gather", Opcode::DMA_GATHER, kGather},
    {"dma", "nd_to_fractal", Opcode::DMA_ND_TO_FRACTAL, kToFractal},
    {"dma", "fractal_to_nd", Opcode::DMA_FRACTAL_TO_ND, kFromFractal},
    {"mmad", "mmad", Opcode::MMAD, kMmad},
    {"vector", "add", Opcode::V_ADD, kElementwise},
    {"vector", "sub", Opcode::V_SUB, kElementwise},
    {"vector", "mul", Opcode::V_MUL, kElementwise},
    {"vector", "div", Opcode::V_DIV, kElementwise},
    {"vector", "max", Opcode::V_MAX, kElementwise},
    {"vector", "min", Opcode::V_MIN, kElementwise},
    {"vector", "exp", Opcode::V_EXP, kElementwise},
    {"vector", "neg", Opcode::V_NEG, kElementwise},
    {"vector", "abs", Opcode::V_ABS, kElementwise},
    {"vector", "sqrt", Opcode::V_SQRT, kElementwise},
    {"vector", "log", Opcode::V_LOG, kElementwise},
    {"vector", "dup", Opcode::V_DUP, kElementwise},
    {"vector", "reduce_sum", Opcode::V_REDUCE_SUM, kElementwise},
    {"vector", "reduce_max", Opcode::V_REDUCE_MAX, kElementwise},
    {"vector", "cast", Opcode::V_CAST, kElementwise},
    {"vector", "unpack_int4", Opcode::V_UNPACK_INT4, kElementwise},
    {"vector", "topk", Opcode::V_TOPK, kTopK},
};

const CommandKind *moec::npu::lookupCommandKind(StringRef family,
                                                StringRef kind) {
  for (const CommandKind &entry : kCommandKinds)
    if (entry.family == family && entry.kind == kind)
      return &entry;
  return nullptr;
}

std::optional<Space> moec::npu::parseSpace(StringRef name) {
  return llvm::StringSwitch<std::optional<Space>>(name)
      .Case("gm", Space::GM)
      .Case("l1", Space::L1)
      .Case("l0a", Space::L0A)
      .Case("l0b", Space::L0B)
      .Case("l0c", Space::L0C)
      .Case("ub", Space::UB)
      .Default(std::nullopt);
}

std::optional<Pipe> moec::npu::parsePipe(StringRef name) {
  return llvm::StringSwitch<std::optional<Pipe>>(name)
      .Case("s", Pipe::S)
      .Case("m", Pipe::M)
      .Case("v", Pipe::V)
      .Case("mte1", Pipe::MTE1)
      .Case("mte2", Pipe::MTE2)
      .Case("mte3", Pipe::MTE3)
      .Default(std::nullopt);
}

std::optional<ElemType> moec::npu::parseElemType(StringRef name) {
  return llvm::StringSwitch<std::optional<ElemType>>(name)
      .Case("f32", ElemType::F32)
      .Case("f16", ElemType::F16)
      .Case("bf16", ElemType::BF16)
      .Case("i8", ElemType::I8)
      .Case("i32", ElemType::I32)
      .Case("u8", ElemType::U8)
      .Default(std::nullopt);
}

//===----------------------------------------------------------------------===//
// Operand lists: (name = r3+64, ...)
//===----------------------------------------------------------------------===//

static void printNamedOperands(OpAsmPrinter &p, const CommandKind *command,
                               ArrayRef<int64_t> args, ArrayRef<int64_t> regs) {
  p << "(";
  for (size_t i = 0; i < args.size(); ++i) {
    if (i)
      p << ", ";
    if (command && i < command->operands.size())
      p << command->operands[i];
    else
      p << "arg" << i;
    p << " = ";
    int64_t reg = i < regs.size() ? regs[i] : 0;
    if (reg == 0)
      p << args[i];
    else if (args[i] == 0)
      p << "r" << reg;
    else
      p << "r" << reg << (args[i] > 0 ? "+" : "") << args[i];
  }
  p << ")";
}

/// Parses `(name = [rN[+-]]int, ...)`; the names are checked against
/// `command`'s when it is known.
static ParseResult parseNamedOperands(OpAsmParser &parser,
                                      const CommandKind *command,
                                      DenseI64ArrayAttr &args,
                                      DenseI64ArrayAttr &regs) {
  SmallVector<int64_t> argValues, regValues;
  auto parseOne = [&]() -> ParseResult {
    llvm::SMLoc loc = parser.getCurrentLocation();
    StringRef name;
    if (parser.parseKeyword(&name) || parser.parseEqual())
      return failure();
    size_t index = argValues.size();
    if (command &&
        (index >= command->operands.size() || command->operands[index] != name))
      return parser.emitError(loc, "expected operand '")
             << (index < command->operands.size() ? command->operands[index]
                                                  : StringRef("<none>"))
             << "', found '" << name << "'";
    int64_t reg = 0, value = 0;
    StringRef regName;
    if (succeeded(parser.parseOptionalKeyword(&regName))) {
      if (!regName.starts_with("r") ||
          regName.drop_front().getAsInteger(10, reg))
        return parser.emitError(loc, "expected a register rN, found '")
               << regName << "'";
      if (succeeded(parser.parseOptionalPlus())) {
        if (parser.parseInteger(value))
          return failure();
      } else if (succeeded(parser.parseOptionalKeyword("-"))) {
        return failure();
      } else {
        (void)parser.parseOptionalInteger(value);
      }
    } else if (parser.parseInteger(value)) {
      return failure();
    }
    argValues.push_back(value);
    regValues.push_back(reg);
    return success();
  };
  if (parser.parseCommaSeparatedList(OpAsmParser::Delimiter::Paren, parseOne))
    return failure();
  args = DenseI64ArrayAttr::get(parser.getContext(), argValues);
  regs = DenseI64ArrayAttr::get(parser.getContext(), regValues);
  return success();
}

#define NPU_OPERAND_DIRECTIVES(NAME, FAMILY)                                   \
  static void print##NAME##Operands(OpAsmPrinter &p, Operation *,              \
                                    DenseI64ArrayAttr args,                    \
                                    DenseI64ArrayAttr regs, StringAttr kind) { \
    printNamedOperands(p, lookupCommandKind(FAMILY, kind.getValue()),          \
                       args.asArrayRef(), regs.asArrayRef());                  \
  }                                                                            \
  static ParseResult parse##NAME##Operands(                                    \
      OpAsmParser &parser, DenseI64ArrayAttr &args, DenseI64ArrayAttr &regs,   \
      StringAttr kind) {                                                       \
    return parseNamedOperands(                                                 \
        parser, lookupCommandKind(FAMILY, kind.getValue()), args, regs);       \
  }
NPU_OPERAND_DIRECTIVES(Scalar, "scalar")
NPU_OPERAND_DIRECTIVES(Dma, "dma")
NPU_OPERAND_DIRECTIVES(Vector, "vector")
#undef NPU_OPERAND_DIRECTIVES

static void printLoopOperands(OpAsmPrinter &p, Operation *,
                              DenseI64ArrayAttr args, DenseI64ArrayAttr regs) {
  printNamedOperands(p, lookupCommandKind("loop", "loop"), args.asArrayRef(),
                     regs.asArrayRef());
}
static ParseResult parseLoopOperands(OpAsmParser &parser,
                                     DenseI64ArrayAttr &args,
                                     DenseI64ArrayAttr &regs) {
  return parseNamedOperands(parser, lookupCommandKind("loop", "loop"), args,
                            regs);
}
static void printMmadOperands(OpAsmPrinter &p, Operation *,
                              DenseI64ArrayAttr args, DenseI64ArrayAttr regs) {
  printNamedOperands(p, lookupCommandKind("mmad", "mmad"), args.asArrayRef(),
                     regs.asArrayRef());
}
static ParseResult parseMmadOperands(OpAsmParser &parser,
                                     DenseI64ArrayAttr &args,
                                     DenseI64ArrayAttr &regs) {
  return parseNamedOperands(parser, lookupCommandKind("mmad", "mmad"), args,
                            regs);
}

//===----------------------------------------------------------------------===//
// Verifiers
//===----------------------------------------------------------------------===//

/// The operands match the command's names and the registers exist.
static LogicalResult verifyOperands(Operation *op, StringRef family,
                                    StringRef kind, ArrayRef<int64_t> args,
                                    ArrayRef<int64_t> regs) {
  const CommandKind *command = lookupCommandKind(family, kind);
  if (!command)
    return op->emitOpError("has no command of kind '") << kind << "'";
  if (args.size() != command->operands.size() || regs.size() != args.size())
    return op->emitOpError("'")
           << kind << "' takes " << command->operands.size()
           << " operands, found " << args.size() << " values and "
           << regs.size() << " registers";
  for (auto [i, reg] : llvm::enumerate(regs))
    if (reg < 0 || reg >= int64_t(kRegisterCount))
      return op->emitOpError("operand '")
             << command->operands[i] << "' names register r" << reg
             << "; the core has r0..r" << kRegisterCount - 1;
  return success();
}

static LogicalResult verifyRegister(Operation *op, int64_t rd) {
  if (rd <= 0 || rd >= int64_t(kRegisterCount))
    return op->emitOpError("writes register r")
           << rd << "; writable registers are r1..r" << kRegisterCount - 1;
  return success();
}

LogicalResult SegmentOp::verify() {
  if (!llvm::is_contained(
          {"workspace", "input", "output", "weight", "state", "call"},
          getKind()))
    return emitOpError("kind '")
           << getKind()
           << "' is not workspace, input, output, weight, state or call";
  if (getBytes() < 0 || uint64_t(getBytes()) > kOffsetMask)
    return emitOpError("size ") << getBytes() << " is past 2^40 bytes";
  return success();
}

LogicalResult CoreOp::verify() {
  if (getCore() < 0)
    return emitOpError("core index ") << getCore() << " is negative";
  return success();
}

LogicalResult ScalarOp::verify() {
  if (failed(verifyOperands(*this, "scalar", getKind(), getArgs(), getRegs())))
    return failure();
  bool memory = getKind() == "load" || getKind() == "store";
  if (memory != getSpace().has_value())
    return emitOpError(memory ? "needs" : "takes no") << " memory space";
  if (memory && getSpace() != "ub" && getSpace() != "gm")
    return emitOpError("loads and stores ub or gm, not ") << *getSpace();
  return getKind() == "store" ? success() : verifyRegister(*this, getRd());
}

LogicalResult LoopOp::verify() {
  if (failed(verifyOperands(*this, "loop", "loop", getArgs(), getRegs())))
    return failure();
  return verifyRegister(*this, getRd());
}

static LogicalResult verifyFlag(Operation *op, StringRef src, StringRef dst,
                                int64_t event) {
  if (!parsePipe(src) || !parsePipe(dst))
    return op->emitOpError("pipes are s, m, v, mte1, mte2 and mte3, not '")
           << (parsePipe(src) ? dst : src) << "'";
  if (src == dst)
    return op->emitOpError("synchronises pipe ") << src << " with itself";
  if (event < 0 || event >= int64_t(kEventCount))
    return op->emitOpError("event ")
           << event << " is not in 0.." << kEventCount - 1;
  return success();
}

LogicalResult SetFlagOp::verify() {
  return verifyFlag(*this, getSrc(), getDst(), getEvent());
}
LogicalResult WaitFlagOp::verify() {
  return verifyFlag(*this, getSrc(), getDst(), getEvent());
}

LogicalResult DmaOp::verify() {
  if (failed(verifyOperands(*this, "dma", getKind(), getArgs(), getRegs())))
    return failure();
  if (!parseSpace(getFrom()) || !parseSpace(getTo()))
    return emitOpError("spaces are gm, l1, l0a, l0b, l0c and ub, not '")
           << (parseSpace(getFrom()) ? getTo() : getFrom()) << "'";
  bool toFractal = getKind() == "nd_to_fractal";
  if (toFractal != getElem().has_value())
    return emitOpError(toFractal ? "needs" : "takes no") << " element type";
  if (toFractal && !parseElemType(*getElem()))
    return emitOpError("element type '") << *getElem() << "' is unknown";
  if (getAccumulate() && getKind() != "fractal_to_nd" &&
      !(getKind() == "copy" && getTo() == "gm"))
    return emitOpError("accumulates only as fractal_to_nd or a copy to gm");
  if (getTransposed() && !toFractal)
    return emitOpError("transposes only as nd_to_fractal");
  if (getKind() == "gather" && getFrom() != "gm")
    return emitOpError("gathers rows from gm only");
  return success();
}

LogicalResult MmadOp::verify() {
  if (failed(verifyOperands(*this, "mmad", "mmad", getArgs(), getRegs())))
    return failure();
  if (!llvm::is_contained({"f16", "bf16", "i8"}, getElem()))
    return emitOpError("the cube multiplies f16, bf16 or i8, not ")
           << getElem();
  return success();
}

LogicalResult VectorOp::verify() {
  if (failed(verifyOperands(*this, "vector", getKind(), getArgs(), getRegs())))
    return failure();
  if (!parseElemType(getElem()))
    return emitOpError("element type '") << getElem() << "' is unknown";
  bool cast = getKind() == "cast";
  if (cast != getFrom().has_value())
    return emitOpError(cast ? "needs" : "takes no") << " source type";
  if (cast && !parseElemType(*getFrom()))
    return emitOpError("source type '") << *getFrom() << "' is unknown";
  if (getSrc1() &&
      !llvm::is_contained({"rows", "row_scalar", "imm"}, *getSrc1()))
    return emitOpError("src1 is rows, row_scalar or imm, not ") << *getSrc1();
  if (getSignedInt4() && getKind() != "unpack_int4")
    return emitOpError("signed applies to unpack_int4 only");
  return success();
}

#define GET_OP_CLASSES
#include "IR/NpuOps.cpp.inc"
