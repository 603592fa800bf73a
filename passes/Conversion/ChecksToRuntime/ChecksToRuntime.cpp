//===- ChecksToRuntime.cpp - Failed run-time checks go to the runtime -----===//
//
// cf.assert %ok, "node 'N' (...): message"
// moe.check %ok, "node 'N' (...): index {0} ..." (%i : i64)
//   become
// scf.if (not %ok) { func.call @moec_check_failed(@message, v0, v1, v2, v3) }
// The runtime prints the message, values in place of {0} ... {3}, to stderr
// and exits with status 1, as it does for other bad input. Upstream's
// cf-to-llvm would call puts and abort, which loses the message whenever
// stdout is a pipe or a file.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/Passes.h"

#include "moec/Runtime/BinaryAbi.h"

#include "dialects/moe/IR/MoeOps.h"

#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

namespace moec {
#define GEN_PASS_DEF_CONVERTCHECKSTORUNTIME
#include "passes/Conversion/Passes.h.inc"
} // namespace moec

using namespace mlir;
using namespace moec;

namespace {
/// One failed-check call to emit: where, on what condition, which message
/// (in the runtime's grammar) and which values.
struct Check {
  Operation *op;
  Value condition;
  std::string message;
  SmallVector<Value> values;
};
} // namespace

/// `value` as the runtime's int64_t.
static Value toInt64(OpBuilder &b, Location loc, Value value) {
  Type i64 = b.getI64Type();
  if (value.getType().isIndex())
    return arith::IndexCastOp::create(b, loc, i64, value);
  unsigned width = value.getType().getIntOrFloatBitWidth();
  if (width == 64)
    return value;
  if (width == 1)
    return arith::ExtUIOp::create(b, loc, i64, value);
  return arith::ExtSIOp::create(b, loc, i64, value);
}

namespace {
struct ConvertChecksToRuntimePass
    : public moec::impl::ConvertChecksToRuntimeBase<
          ConvertChecksToRuntimePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<Check> checks;
    // The host's functions only: a device's kernels (a gpu.module's) report
    // failed checks their own way.
    for (auto function : module.getOps<FunctionOpInterface>())
      function.walk([&](Operation *op) {
        if (auto assertOp = dyn_cast<cf::AssertOp>(op))
          checks.push_back({op,
                            assertOp.getArg(),
                            moe::escapeCheckText(assertOp.getMsg()),
                            {}});
        else if (auto check = dyn_cast<moe::CheckOp>(op))
          checks.push_back({op, check.getCondition(), check.getMessage().str(),
                            llvm::to_vector(check.getValues())});
      });
    if (checks.empty())
      return;
    MLIRContext *context = &getContext();
    auto pointer = LLVM::LLVMPointerType::get(context);
    OpBuilder b(context);
    Type i64 = b.getI64Type();
    auto callee = module.lookupSymbol<func::FuncOp>(MOEC_ABI_CHECK_FAILED);
    if (!callee) {
      b.setInsertionPointToStart(module.getBody());
      callee = func::FuncOp::create(
          b, module.getLoc(), MOEC_ABI_CHECK_FAILED,
          b.getFunctionType({pointer, i64, i64, i64, i64}, {}));
      callee.setPrivate();
    }
    SymbolTable symbols(module);
    for (auto [i, check] : llvm::enumerate(checks)) {
      Location loc = check.op->getLoc();
      b.setInsertionPoint(check.op);
      Value failed = arith::XOrIOp::create(
          b, loc, check.condition,
          arith::ConstantOp::create(b, loc, b.getBoolAttr(true)));
      std::string name = "moec_check_message_" + std::to_string(i);
      while (symbols.lookup(name))
        name += "_";
      check.message.push_back('\0');
      auto ifOp = scf::IfOp::create(b, loc, failed, /*withElseRegion=*/false);
      // The global goes into the module, so the scf.if must be in it first.
      b.setInsertionPointToStart(ifOp.thenBlock());
      SmallVector<Value> arguments{LLVM::createGlobalString(
          loc, b, name, check.message, LLVM::Linkage::Internal)};
      for (Value value : check.values)
        arguments.push_back(toInt64(b, loc, value));
      while (arguments.size() < 1 + moe::kMaxCheckValues)
        arguments.push_back(
            arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0)));
      func::CallOp::create(b, loc, callee, arguments);
      check.op->erase();
    }
  }
};
} // namespace
