//===- InstrumentRouting.cpp - Calls that record a routing profile --------===//
//
// After the sparse path exists, each layer's routing and expert rows are
// all SSA values: the ids and weights, the dispatched rows, the
// permutation and offsets, the down projection's input and output. One
// call per layer hands them to the runtime, read-only, after moe.combine.
//
//===----------------------------------------------------------------------===//

#include "passes/Sparsity/Passes.h"

#include "dialects/moe/IR/MoeOps.h"
#include "moec/Runtime/BinaryAbi.h"

namespace moec {
#define GEN_PASS_DEF_MOEINSTRUMENTROUTING
#include "passes/Sparsity/Passes.h.inc"
} // namespace moec

using namespace mlir;
using namespace moec;

static constexpr const char kRecordFunction[] = MOEC_ABI_PROFILE_RECORD;

/// The same tensor with every dimension dynamic, so one declaration serves
/// every layer.
static Value eraseShape(OpBuilder &b, Location loc, Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  SmallVector<int64_t> shape(type.getRank(), ShapedType::kDynamic);
  return tensor::CastOp::create(
      b, loc, RankedTensorType::get(shape, type.getElementType()), tensor);
}

static func::FuncOp declareRecord(ModuleOp module) {
  if (auto existing = module.lookupSymbol<func::FuncOp>(kRecordFunction))
    return existing;
  OpBuilder b = OpBuilder::atBlockBegin(module.getBody());
  Type f32 = b.getF32Type(), i32 = b.getI32Type();
  int64_t dyn = ShapedType::kDynamic;
  auto matrix = [&](Type t) { return RankedTensorType::get({dyn, dyn}, t); };
  auto vector = RankedTensorType::get({dyn}, i32);
  SmallVector<Type> inputs = {b.getI64Type(), matrix(i32), matrix(f32),
                              matrix(f32),    vector,      vector,
                              matrix(f32),    matrix(f32)};
  auto function = func::FuncOp::create(b, module.getLoc(), kRecordFunction,
                                       b.getFunctionType(inputs, {}));
  function.setPrivate();
  // Bufferization cannot see that the callee only reads: it passes copies,
  // which costs an instrumented build a little time and nothing else.
  function->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  return function;
}

namespace {
struct MoeInstrumentRoutingPass
    : public moec::impl::MoeInstrumentRoutingBase<MoeInstrumentRoutingPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<moe::CombineOp> combines;
    WalkResult walk = module.walk([&](Operation *op) {
      if (isa<moe::ExpertsOp>(op)) {
        op->emitOpError("has no sparse path to record yet; run "
                        "moe-sparse-dispatch before moe-instrument-routing");
        return WalkResult::interrupt();
      }
      if (auto combine = dyn_cast<moe::CombineOp>(op))
        combines.push_back(combine);
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return signalPassFailure();
    func::FuncOp record;
    for (auto [layer, combine] : llvm::enumerate(combines)) {
      auto down = combine.getRows().getDefiningOp<moe::GroupedMatmulOp>();
      auto dispatch = combine.getPermutation().getDefiningOp<moe::DispatchOp>();
      if (!down || !dispatch) {
        combine.emitOpError("is not the end of a sparse path "
                            "(moe.dispatch ... moe.grouped_matmul); run "
                            "moe-sparse-dispatch first");
        return signalPassFailure();
      }
      if (!combine.getRows().getType().getElementType().isF32() ||
          !combine.getRoutingWeights().getType().getElementType().isF32()) {
        combine.emitOpError("routing profiles need f32 activations");
        return signalPassFailure();
      }
      if (!record)
        record = declareRecord(module);
      OpBuilder b(combine->getBlock(), std::next(combine->getIterator()));
      Location loc = combine.getLoc();
      SmallVector<Value> operands = {arith::ConstantOp::create(
          b, loc, b.getI64IntegerAttr(int64_t(layer)))};
      for (Value tensor :
           {dispatch.getExpertIds(), combine.getRoutingWeights(),
            dispatch.getRows(), dispatch.getPermutation(),
            dispatch.getOffsets(), down.getRows(), combine.getRows()})
        operands.push_back(eraseShape(b, loc, tensor));
      func::CallOp::create(b, loc, record, operands);
    }
    module->setAttr("moec.profiled_layers",
                    OpBuilder(module).getI64IntegerAttr(combines.size()));
  }
};
} // namespace
