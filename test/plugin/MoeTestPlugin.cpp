//===- MoeTestPlugin.cpp - A pass and dialect plugin for moec-opt tests ---===//
//
// Loaded with --load-pass-plugin and --load-dialect-plugin. The pass matches
// moe.router ops by their C++ class, which works only when the plugin shares
// the tool's moe dialect (one libMoecMoeDialect.so, one libMLIR.so).
//
//===----------------------------------------------------------------------===//

#include "dialects/moe/IR/MoeOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Dialect.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Tools/Plugins/DialectPlugin.h"
#include "mlir/Tools/Plugins/PassPlugin.h"
#include "llvm/Config/llvm-config.h"

using namespace mlir;

namespace {
/// A dialect without ops: once registered, `moe_test_plugin.*` ops parse as
/// unknown ops of a known dialect.
class MoeTestPluginDialect : public Dialect {
public:
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(MoeTestPluginDialect)

  explicit MoeTestPluginDialect(MLIRContext *context)
      : Dialect(getDialectNamespace(), context,
                TypeID::get<MoeTestPluginDialect>()) {
    allowUnknownOperations();
  }
  static StringRef getDialectNamespace() { return "moe_test_plugin"; }
};

struct CountRoutersPass
    : public PassWrapper<CountRoutersPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(CountRoutersPass)

  StringRef getArgument() const final { return "moe-test-count-routers"; }
  StringRef getDescription() const final {
    return "Remark on every moe.router with its expert count and top_k";
  }
  void runOnOperation() override {
    getOperation().walk([](moec::moe::RouterOp op) {
      op.emitRemark() << "router picks " << op.getTopK() << " of "
                      << op.getLogits().getType().getDimSize(1)
                      << " experts";
    });
  }
};
} // namespace

extern "C" LLVM_ATTRIBUTE_WEAK PassPluginLibraryInfo mlirGetPassPluginInfo() {
  return {MLIR_PLUGIN_API_VERSION, "MoecTestPasses", LLVM_VERSION_STRING,
          [] { PassRegistration<CountRoutersPass>(); }};
}

extern "C" LLVM_ATTRIBUTE_WEAK DialectPluginLibraryInfo
mlirGetDialectPluginInfo() {
  return {MLIR_PLUGIN_API_VERSION, "MoecTestDialect", LLVM_VERSION_STRING,
          [](DialectRegistry *registry) {
            registry->insert<MoeTestPluginDialect>();
          }};
}
