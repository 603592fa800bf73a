//===- AssertToRuntime.cpp - Failed run-time checks go to the runtime -----===//
//
// cf.assert %ok, "node 'N' (...): message"
//   becomes
// scf.if (not %ok) { func.call @moec_check_failed(@message) }
// The runtime prints the message to stderr and exits with status 1, as it
// does for other bad input. Upstream's cf-to-llvm would call puts and abort,
// which loses the message whenever stdout is a pipe or a file.
//
//===----------------------------------------------------------------------===//

#include "targets/cpu/Passes.h"

#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"

namespace moec::cpu {
#define GEN_PASS_DEF_CPUASSERTTORUNTIME
#include "targets/cpu/Passes.h.inc"
} // namespace moec::cpu

using namespace mlir;
using namespace moec;

namespace {
struct CpuAssertToRuntimePass
    : public cpu::impl::CpuAssertToRuntimeBase<CpuAssertToRuntimePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<cf::AssertOp> asserts;
    module.walk([&](cf::AssertOp op) { asserts.push_back(op); });
    if (asserts.empty())
      return;
    MLIRContext *context = &getContext();
    auto pointer = LLVM::LLVMPointerType::get(context);
    OpBuilder b(context);
    auto callee = module.lookupSymbol<func::FuncOp>(cpu::kCheckFailed);
    if (!callee) {
      b.setInsertionPointToStart(module.getBody());
      callee = func::FuncOp::create(b, module.getLoc(), cpu::kCheckFailed,
                                    b.getFunctionType({pointer}, {}));
      callee.setPrivate();
    }
    SymbolTable symbols(module);
    for (auto [i, op] : llvm::enumerate(asserts)) {
      Location loc = op.getLoc();
      b.setInsertionPoint(op);
      Value failed = arith::XOrIOp::create(
          b, loc, op.getArg(),
          arith::ConstantOp::create(b, loc, b.getBoolAttr(true)));
      std::string name = "moec_check_message_" + std::to_string(i);
      while (symbols.lookup(name))
        name += "_";
      std::string message = op.getMsg().str();
      message.push_back('\0');
      auto ifOp = scf::IfOp::create(b, loc, failed, /*withElseRegion=*/false);
      // The global goes into the module, so the scf.if must be in it first.
      b.setInsertionPointToStart(ifOp.thenBlock());
      Value text = LLVM::createGlobalString(loc, b, name, message,
                                            LLVM::Linkage::Internal);
      func::CallOp::create(b, loc, callee, ValueRange{text});
      op.erase();
    }
  }
};
} // namespace
