//===- ParallelToRuntime.cpp - Outermost parallel loops onto threads ------===//
//
// scf.parallel %i = (lb) to (ub) step (s) { body }
//   becomes
// func.call @moec_par_launch_N(count, cost, captured...)
// with
// func.func private @moec_par_body_N(%begin, %end, captured...) {
//   scf.parallel %i = (lb + begin * s) to (min(lb + end * s, ub)) step (s)
//   { body }
// }
// CPU codegen gives each launch function its definition (see Codegen.cpp).
//
//===----------------------------------------------------------------------===//

#include "targets/cpu/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"

namespace moec::cpu {
#define GEN_PASS_DEF_CPUPARALLELTORUNTIME
#include "targets/cpu/Passes.h.inc"
} // namespace moec::cpu

using namespace mlir;
using namespace moec;

/// Iterations assumed for a loop whose trip count is not a constant.
static constexpr int64_t kUnknownTripCount = 32;

static int64_t tripCount(Value lb, Value ub, Value step) {
  std::optional<int64_t> l = getConstantIntValue(lb);
  std::optional<int64_t> u = getConstantIntValue(ub);
  std::optional<int64_t> s = getConstantIntValue(step);
  if (!l || !u || !s || *s <= 0)
    return kUnknownTripCount;
  return std::max<int64_t>(0, (*u - *l + *s - 1) / *s);
}

/// Operations executed by one run of `region`, loops multiplied out.
static int64_t estimateCost(Region &region) {
  int64_t cost = 0;
  for (Operation &op : region.getOps()) {
    int64_t inner = 0;
    for (Region &nested : op.getRegions())
      inner += estimateCost(nested);
    int64_t trips = 1;
    if (auto loop = dyn_cast<scf::ForOp>(op))
      trips =
          tripCount(loop.getLowerBound(), loop.getUpperBound(), loop.getStep());
    if (auto loop = dyn_cast<scf::ParallelOp>(op))
      for (auto [l, u, s] : llvm::zip(loop.getLowerBound(),
                                      loop.getUpperBound(), loop.getStep()))
        trips *= tripCount(l, u, s);
    cost = std::min<int64_t>(cost + 1 + trips * inner, int64_t(1) << 40);
  }
  return cost;
}

static bool isPassable(Type type) {
  return isa<MemRefType, IndexType, IntegerType, FloatType>(type);
}

/// Outlines `loop` as described above; leaves it alone (sequential) when
/// it cannot be passed to another thread.
static void outline(scf::ParallelOp loop, ModuleOp module, unsigned id) {
  if (!loop.getInitVals().empty())
    return;
  llvm::SetVector<Value> captured;
  getUsedValuesDefinedAbove(loop.getRegion(), captured);
  for (Value operand : loop->getOperands())
    captured.insert(operand);
  SmallVector<Value> passed;
  for (Value value : captured) {
    if (matchPattern(value, m_Constant()))
      continue;
    if (!isPassable(value.getType()))
      return;
    passed.push_back(value);
  }

  MLIRContext *ctx = module.getContext();
  OpBuilder b(ctx);
  Location loc = loop.getLoc();
  Type index = b.getIndexType();
  SmallVector<Type> passedTypes;
  for (Value value : passed)
    passedTypes.push_back(value.getType());

  // The body function.
  SmallVector<Type> bodyInputs = {index, index};
  llvm::append_range(bodyInputs, passedTypes);
  b.setInsertionPointToEnd(module.getBody());
  auto body =
      func::FuncOp::create(b, loc, (cpu::kParallelBodyPrefix + Twine(id)).str(),
                           b.getFunctionType(bodyInputs, {}));
  body.setPrivate();
  Block *entry = body.addEntryBlock();
  b.setInsertionPointToStart(entry);
  IRMapping mapping;
  for (auto [value, arg] :
       llvm::zip(passed, entry->getArguments().drop_front(2)))
    mapping.map(value, arg);
  for (Value value : captured)
    if (!mapping.contains(value))
      mapping.map(value, b.clone(*value.getDefiningOp())->getResult(0));
  Value lb = mapping.lookup(loop.getLowerBound()[0]);
  Value ub = mapping.lookup(loop.getUpperBound()[0]);
  Value step = mapping.lookup(loop.getStep()[0]);
  auto at = [&](Value iteration) -> Value {
    return arith::AddIOp::create(
        b, loc, lb, arith::MulIOp::create(b, loc, iteration, step));
  };
  Value begin = at(entry->getArgument(0));
  Value end = arith::MinSIOp::create(b, loc, at(entry->getArgument(1)), ub);
  Operation *clone = b.clone(*loop, mapping);
  unsigned numDims = loop.getNumLoops();
  clone->setOperand(0, begin);
  clone->setOperand(numDims, end);
  func::ReturnOp::create(b, loc);

  // The launch declaration, defined by codegen.
  SmallVector<Type> launchInputs = {index, index};
  llvm::append_range(launchInputs, passedTypes);
  b.setInsertionPointToEnd(module.getBody());
  auto launch = func::FuncOp::create(
      b, loc, (cpu::kParallelLaunchPrefix + Twine(id)).str(),
      b.getFunctionType(launchInputs, {}));
  launch.setPrivate();

  // The call replacing the loop: count = ceildiv(max(ub - lb, 0), step).
  b.setInsertionPoint(loop);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value span = arith::MaxSIOp::create(
      b, loc,
      arith::SubIOp::create(b, loc, loop.getUpperBound()[0],
                            loop.getLowerBound()[0]),
      zero);
  Value count = arith::DivUIOp::create(
      b, loc,
      arith::AddIOp::create(
          b, loc, span, arith::SubIOp::create(b, loc, loop.getStep()[0], one)),
      loop.getStep()[0]);
  Value cost = arith::ConstantIndexOp::create(
      b, loc, std::max<int64_t>(1, estimateCost(loop.getRegion())));
  SmallVector<Value> args = {count, cost};
  llvm::append_range(args, passed);
  func::CallOp::create(b, loc, launch, args);
  loop.erase();
}

namespace {
struct CpuParallelToRuntimePass
    : public moec::cpu::impl::CpuParallelToRuntimeBase<
          CpuParallelToRuntimePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<scf::ParallelOp> outermost;
    for (auto func : module.getOps<func::FuncOp>())
      func.walk<WalkOrder::PreOrder>([&](scf::ParallelOp loop) {
        outermost.push_back(loop);
        return WalkResult::skip();
      });
    unsigned id = 0;
    for (scf::ParallelOp loop : outermost)
      outline(loop, module, id++);
  }
};
} // namespace
