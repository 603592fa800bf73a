//===- LowerVector.cpp - Elementwise phases on the vector unit ------------===//
//
// moe.activation and elementwise linalg.generic ops: every core takes a
// share of the rows, loads a chunk into UB (a broadcast operand by a DMA
// with row stride 0), runs one vector command per op of the body, and
// stores the result. exp, division and the clamps are the vector unit's own
// commands; what it lacks (erf for gelu) is an error.
//
//===----------------------------------------------------------------------===//

#include "Transforms/LowerVector.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Matchers.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace moec::npu;

LogicalResult moec::npu::lowerActivation(ProgramLowering &lowering,
                                         const ActivationPlan &plan) {
  FailureOr<UbEngines> engines = UbEngines::get(lowering);
  if (failed(engines))
    return failure();
  const std::string &in = engines->in, &out = engines->out;
  const int64_t width = plan.output.cols, rows = plan.output.rows;
  const int64_t rowBytes = width * 4;
  // UB per row: gate, up, two temporaries.
  int64_t perRow = 4 * rowBytes;
  int64_t chunk = std::min<int64_t>(
      rows, (int64_t(lowering.bufferBytes(Space::UB)) - 4 * 64) / perRow);
  if (chunk < 1)
    return lowering.emitError() << "moe.activation: a row of " << width
                                << " elements does not fit the chip's UB";
  int64_t ubGate = 0, ubUp = align64(chunk * rowBytes);
  int64_t ubT = ubUp + align64(chunk * rowBytes);
  int64_t ubU = ubT + align64(chunk * rowBytes);
  for (unsigned c = 0; c < lowering.coreCount(); ++c) {
    auto [begin, end] = lowering.share(rows, c);
    StreamBuilder &s = lowering.core(c);
    PipeFlags p{s};
    for (int64_t row = begin; row < end; row += chunk) {
      int64_t n = std::min(chunk, end - row);
      s.copy("gm", "ub", ubGate,
             int64_t(plan.gate.address + row * plan.gate.rowStride()), n,
             rowBytes, plan.gate.rowStride(), rowBytes);
      if (plan.gated)
        s.copy("gm", "ub", ubUp,
               int64_t(plan.up.address + row * plan.up.rowStride()), n,
               rowBytes, plan.up.rowStride(), rowBytes);
      p.sync(in, "v", 0);
      StreamBuilder::VectorRows all{width, n, rowBytes, rowBytes, rowBytes};
      int64_t result = ubT;
      switch (plan.kind) {
      case moe::ActivationKind::SiluGated:
      case moe::ActivationKind::Swiglu: {
        int64_t gate = ubGate, up = ubUp;
        if (plan.limit) {
          s.vectorImm("min", ubGate, ubGate, float(*plan.limit), all);
          s.vectorImm("min", ubUp, ubUp, float(*plan.limit), all);
          s.vectorImm("max", ubUp, ubUp, -float(*plan.limit), all);
        }
        // gate * sigmoid(alpha * gate) = gate / (1 + exp(-alpha * gate)).
        s.vectorImm("mul", ubT, gate, float(-plan.alpha), all);
        s.vector("exp", "f32", ubT, ubT, 0, all);
        s.vectorImm("add", ubT, ubT, 1.0f, all);
        s.vector("div", "f32", ubT, gate, ubT, all);
        if (plan.beta != 0.0) {
          s.vectorImm("add", ubU, up, float(plan.beta), all);
          up = ubU;
        }
        s.vector("mul", "f32", ubT, ubT, up, all);
        break;
      }
      case moe::ActivationKind::Relu:
        s.vectorImm("max", ubT, ubGate, 0.0f, all);
        break;
      case moe::ActivationKind::Identity:
        result = ubGate;
        break;
      default:
        return lowering.emitError()
               << "moe.activation: the NPU's vector unit has no erf or tanh "
                  "for "
               << moe::stringifyActivationKind(plan.kind);
      }
      int64_t outBytes = plan.output.rowBytes();
      if (plan.output.elem != ElemType::F32) {
        // For the cube: rounded to its type here, not in a phase of its own.
        s.cast(elemName(plan.output.elem), "f32", ubU, result,
               {width, n, outBytes, rowBytes, 0});
        result = ubU;
      }
      p.sync("v", out, 0);
      s.copy("ub", "gm", int64_t(plan.output.address + row * outBytes), result,
             n, outBytes, outBytes, outBytes);
      p.sync(out, in, 0);
    }
  }
  lowering.barrier();
  return success();
}

LogicalResult moec::npu::lowerQuantizeRows(ProgramLowering &lowering,
                                           const GmMatrix &rows,
                                           const GmMatrix &codes,
                                           const GmMatrix &scales,
                                           const GmMatrix *sums) {
  FailureOr<UbEngines> engines = UbEngines::get(lowering);
  if (failed(engines))
    return failure();
  const std::string &in = engines->in, &out = engines->out;
  const int64_t k = rows.cols, rowBytes = k * 4;
  // UB per row: the row, |x| then x / s, the codes, three row scalars.
  int64_t chunk = std::min<int64_t>(
      rows.rows, (int64_t(lowering.bufferBytes(Space::UB)) - 6 * 64) /
                     (2 * rowBytes + k + 12));
  if (chunk < 1)
    return lowering.emitError()
           << "a row of " << k << " elements to quantize does not fit the UB";
  int64_t ubX = 0, ubWork = align64(chunk * rowBytes);
  int64_t ubCodes = ubWork + align64(chunk * rowBytes);
  int64_t ubMax = ubCodes + align64(chunk * k);
  int64_t ubScale = ubMax + align64(chunk * 4);
  int64_t ubSum = ubScale + align64(chunk * 4);
  for (unsigned c = 0; c < lowering.coreCount(); ++c) {
    auto [begin, end] = lowering.share(rows.rows, c);
    StreamBuilder &s = lowering.core(c);
    PipeFlags p{s};
    for (int64_t row = begin; row < end; row += chunk) {
      int64_t n = std::min(chunk, end - row);
      s.copy("gm", "ub", ubX, int64_t(rows.address + row * rows.rowStride()), n,
             rowBytes, rows.rowStride(), rowBytes);
      p.sync(in, "v", 0);
      StreamBuilder::VectorRows all{k, n, rowBytes, rowBytes, 4};
      s.vector("abs", "f32", ubWork, ubX, 0, all);
      s.vector("reduce_max", "f32", ubMax, ubWork, 0, {k, n, 4, rowBytes, 0});
      s.vectorImm("div", ubScale, ubMax, 127.0f, {1, n, 4, 4, 0});
      // A zero row has s = 0 and x / s = NaN, which converts to code 0: its
      // products are 0, as the reference's (s = 1) are.
      s.vector("div", "f32", ubWork, ubX, ubScale, all, "row_scalar");
      s.cast("i8", "f32", ubCodes, ubWork, {k, n, k, rowBytes, 0});
      if (sums) {
        s.cast("f32", "i8", ubWork, ubCodes, {k, n, rowBytes, k, 0});
        s.vector("reduce_sum", "f32", ubSum, ubWork, 0, {k, n, 4, rowBytes, 0});
      }
      p.sync("v", out, 0);
      s.copy("ub", "gm", int64_t(codes.address + row * k), ubCodes, n, k, k, k);
      s.copy("ub", "gm", int64_t(scales.address + row * 4), ubScale, 1, n * 4,
             0, 0);
      if (sums)
        s.copy("ub", "gm", int64_t(sums->address + row * 4), ubSum, 1, n * 4, 0,
               0);
      p.sync(out, in, 0);
    }
  }
  lowering.barrier();
  return success();
}

namespace {
/// Where a value of the generic's body lives in UB: a full chunk, one
/// element per row, or a constant.
struct Operand {
  enum Kind { Full, RowScalar, Immediate } kind = Full;
  int64_t ub = 0;
  float imm = 0;
};

/// The vector kind of a binary or unary arith/math op, or empty.
StringRef vectorKind(Operation *op) {
  return llvm::TypeSwitch<Operation *, StringRef>(op)
      .Case([](arith::AddFOp) { return "add"; })
      .Case([](arith::SubFOp) { return "sub"; })
      .Case([](arith::MulFOp) { return "mul"; })
      .Case([](arith::DivFOp) { return "div"; })
      .Case([](arith::MaximumFOp) { return "max"; })
      .Case([](arith::MaxNumFOp) { return "max"; })
      .Case([](arith::MinimumFOp) { return "min"; })
      .Case([](arith::MinNumFOp) { return "min"; })
      .Case([](arith::NegFOp) { return "neg"; })
      .Case([](math::ExpOp) { return "exp"; })
      .Case([](math::SqrtOp) { return "sqrt"; })
      .Case([](math::LogOp) { return "log"; })
      .Case([](math::AbsFOp) { return "abs"; })
      .Default([](Operation *) { return ""; });
}
} // namespace

LogicalResult moec::npu::lowerElementwise(ProgramLowering &lowering,
                                          linalg::GenericOp op,
                                          ArrayRef<GmMatrix> inputs,
                                          ArrayRef<InputBroadcast> broadcasts,
                                          const GmMatrix &output) {
  FailureOr<UbEngines> engines = UbEngines::get(lowering);
  if (failed(engines))
    return failure();
  const std::string &in = engines->in, &out = engines->out;
  Block &body = op.getRegion().front();
  const int64_t width = output.cols, rowBytes = width * 4;
  // One full buffer per input and per body op.
  int64_t buffers = int64_t(inputs.size() + body.getOperations().size());
  int64_t chunk = std::min<int64_t>(
      output.rows, (int64_t(lowering.bufferBytes(Space::UB)) - buffers * 64) /
                       std::max<int64_t>(1, buffers * rowBytes));
  if (chunk < 1)
    return op.emitError() << "a row of " << width << " elements of " << buffers
                          << " values does not fit the chip's UB";
  int64_t bufferBytes = align64(chunk * rowBytes);

  for (unsigned c = 0; c < lowering.coreCount(); ++c) {
    auto [begin, end] = lowering.share(output.rows, c);
    StreamBuilder &s = lowering.core(c);
    PipeFlags p{s};
    for (int64_t row = begin; row < end; row += chunk) {
      int64_t n = std::min(chunk, end - row);
      StreamBuilder::VectorRows all{width, n, rowBytes, rowBytes, rowBytes};
      DenseMap<Value, Operand> values;
      int64_t next = 0;
      for (auto [i, input] : llvm::enumerate(inputs)) {
        Operand operand;
        operand.ub = next;
        next += bufferBytes;
        switch (broadcasts[i]) {
        case InputBroadcast::None:
          s.copy("gm", "ub", operand.ub,
                 int64_t(input.address + row * input.rowBytes()), n, rowBytes,
                 input.rowBytes(), rowBytes);
          break;
        case InputBroadcast::Row:
          // The same row for every row: a DMA with source stride 0.
          s.copy("gm", "ub", operand.ub, int64_t(input.address), n, rowBytes, 0,
                 rowBytes);
          break;
        case InputBroadcast::Column:
          operand.kind = Operand::RowScalar;
          s.copy("gm", "ub", operand.ub, int64_t(input.address + row * 4), 1,
                 n * 4, 0, 0);
          break;
        }
        values[body.getArgument(i)] = operand;
      }
      p.sync(in, "v", 0);
      Value result;
      for (Operation &bodyOp : body) {
        if (auto yield = dyn_cast<linalg::YieldOp>(bodyOp)) {
          result = yield.getOperand(0);
          break;
        }
        if (auto constant = dyn_cast<arith::ConstantFloatOp>(bodyOp)) {
          Operand imm;
          imm.kind = Operand::Immediate;
          imm.imm = float(constant.value().convertToDouble());
          values[constant.getResult()] = imm;
          continue;
        }
        if (isa<arith::ExtFOp>(bodyOp) && values.count(bodyOp.getOperand(0))) {
          // Every input is f32 in UB (a BF16 weight was placed as f32).
          values[bodyOp.getResult(0)] = values[bodyOp.getOperand(0)];
          continue;
        }
        StringRef kind = vectorKind(&bodyOp);
        if (kind.empty())
          return bodyOp.emitError("the NPU's vector unit has no command for ")
                 << bodyOp.getName() << " (in an elementwise op)";
        Operand dst;
        dst.ub = next;
        next += bufferBytes;
        auto operandOf = [&](Value v) -> std::optional<Operand> {
          if (auto found = values.find(v); found != values.end())
            return found->second;
          // A float constant from outside the body.
          FloatAttr value;
          if (matchPattern(v, m_Constant(&value))) {
            Operand imm;
            imm.kind = Operand::Immediate;
            imm.imm = float(value.getValueAsDouble());
            return imm;
          }
          return std::nullopt;
        };
        for (Value v : bodyOp.getOperands())
          if (!operandOf(v))
            return bodyOp.emitError("the NPU lowers elementwise ops whose "
                                    "operands are the inputs, body values or "
                                    "float constants");
        Operand a = *operandOf(bodyOp.getOperand(0));
        bool column = llvm::all_of(bodyOp.getOperands(),
                                   [&](Value v) {
                                     return operandOf(v)->kind != Operand::Full;
                                   }) &&
                      llvm::any_of(bodyOp.getOperands(), [&](Value v) {
                        return operandOf(v)->kind == Operand::RowScalar;
                      });
        if (column) {
          // Only one element per row (a gate's column): computed as a row
          // of n elements, and still one element per row.
          StreamBuilder::VectorRows one{n, 1, 0, 0, 0};
          dst.kind = Operand::RowScalar;
          if (a.kind == Operand::Immediate) {
            s.vectorImm("dup", dst.ub, 0, a.imm, one);
            a = dst;
          }
          if (bodyOp.getNumOperands() == 1) {
            s.vector(kind, "f32", dst.ub, a.ub, 0, one);
          } else {
            Operand b = *operandOf(bodyOp.getOperand(1));
            if (b.kind == Operand::Immediate)
              s.vectorImm(kind, dst.ub, a.ub, b.imm, one);
            else
              s.vector(kind, "f32", dst.ub, a.ub, b.ub, one);
          }
          values[bodyOp.getResult(0)] = dst;
          continue;
        }
        if (bodyOp.getNumOperands() == 1) {
          if (a.kind != Operand::Full)
            return bodyOp.emitError("the NPU lowers unary ops on full rows "
                                    "only");
          s.vector(kind, "f32", dst.ub, a.ub, 0, all);
        } else {
          Operand b = *operandOf(bodyOp.getOperand(1));
          bool commutative =
              kind == "add" || kind == "mul" || kind == "max" || kind == "min";
          if (a.kind != Operand::Full && b.kind == Operand::Full && commutative)
            std::swap(a, b);
          if (a.kind == Operand::Immediate && b.kind == Operand::Full) {
            // imm - x, imm / x: the constant as a full buffer first.
            s.vectorImm("dup", dst.ub, 0, a.imm, all);
            a = dst;
          }
          if (a.kind != Operand::Full)
            return bodyOp.emitError("the NPU lowers an elementwise op whose "
                                    "first operand is a full row only");
          if (b.kind == Operand::Immediate)
            s.vectorImm(kind, dst.ub, a.ub, b.imm, all);
          else
            s.vector(kind, "f32", dst.ub, a.ub, b.ub,
                     {width, n, rowBytes, rowBytes,
                      b.kind == Operand::RowScalar ? 4 : rowBytes},
                     b.kind == Operand::RowScalar ? "row_scalar" : "rows");
        }
        values[bodyOp.getResult(0)] = dst;
      }
      Operand r = values.lookup(result);
      if (!result || r.kind != Operand::Full)
        return op.emitError("the NPU lowers elementwise ops that yield a "
                            "full row");
      p.sync("v", out, 0);
      s.copy("ub", "gm", int64_t(output.address + row * rowBytes), r.ub, n,
             rowBytes, rowBytes, rowBytes);
      p.sync(out, in, 0);
    }
  }
  lowering.barrier();
  return success();
}
