//===- DialectVerifiersTest.cpp - moe verifiers reject bad IR precisely ---===//
//
// The lit test invalid.mlir covers every verifier message through the
// parser; these cover IR built in C++, as frontends and passes build it.
//
//===----------------------------------------------------------------------===//

#include "DialectTestBase.h"

using namespace mlir;
using namespace moec::moe;
using moec::test::DialectTest;

namespace {

using DialectVerifiersTest = DialectTest;

TEST_F(DialectVerifiersTest, RouterRejectsTopKAboveExpertCount) {
  Value logits = value(tensor({4, 8}));
  auto router =
      RouterOp::create(builder, loc, logits, 9, RouterScoring::Softmax);
  EXPECT_EQ(verifyMessage(router),
            "'moe.router' op top_k (9) exceeds the number of experts (8)");
}

TEST_F(DialectVerifiersTest, RouterRejectsRedundantNormalize) {
  Value logits = value(tensor({4, 32}));
  auto router = RouterOp::create(builder, loc, logits, 4,
                                 RouterScoring::SoftmaxAfterTopK, Value(),
                                 /*normalize=*/true);
  EXPECT_EQ(verifyMessage(router), "'moe.router' op 'normalize' is implied by "
                                   "scoring softmax_after_topk");
}

TEST_F(DialectVerifiersTest, RouterChecksGroupsAgainstExperts) {
  Value logits = value(tensor({4, 30}));
  auto groups = GroupLimitAttr::get(&context, 8, 4, GroupScore::Max);
  auto router =
      RouterOp::create(builder, loc, logits, 2, RouterScoring::Softmax, Value(),
                       false, std::nullopt, groups);
  EXPECT_EQ(verifyMessage(router), "'moe.router' op n_group (8) does not "
                                   "divide the number of experts (30)");
}

TEST_F(DialectVerifiersTest, RouterRejectsMisshapedBias) {
  Value logits = value(tensor({4, 16}));
  Value bias = value(tensor({8}));
  auto router =
      RouterOp::create(builder, loc, logits, 2, RouterScoring::Sigmoid, bias);
  EXPECT_EQ(verifyMessage(router), "'moe.router' op expects a selection bias "
                                   "of shape [16], got 'tensor<8xf32>'");
}

TEST_F(DialectVerifiersTest, ExpertsNeedsLayoutForFusedGateUp) {
  auto [x, weights, ids] = routedTokens(4, 64, 2);
  Value gateUp = value(tensor({8, 256, 64}));
  Value down = value(tensor({8, 64, 128}));
  auto experts = ExpertsOp::create(
      builder, loc, x.getType(), x, weights, ids, gateUp, Value(), Value(),
      Value(), Value(), Value(), down, Value(),
      ActivationAttr::get(&context, ActivationKind::SiluGated),
      GateUpLayoutAttr());
  EXPECT_EQ(verifyMessage(experts),
            "'moe.experts' op a fused 'gate_up' weight needs a 'layout' "
            "(interleaved or concatenated)");
}

TEST_F(DialectVerifiersTest, ExpertsChecksDownAgainstGateUp) {
  auto [x, weights, ids] = routedTokens(4, 64, 2);
  Value gateUp = value(tensor({8, 200, 64}));
  Value down = value(tensor({8, 64, 128}));
  auto experts = ExpertsOp::create(
      builder, loc, x, weights, ids,
      ActivationAttr::get(&context, ActivationKind::SiluGated),
      GateUpLayout::Concatenated, gateUp, down);
  EXPECT_EQ(verifyMessage(experts),
            "'moe.experts' op expects 'gate_up' weight of shape [8, 256, 64], "
            "got 'tensor<8x200x64xf32>'");
}

TEST_F(DialectVerifiersTest, DispatchChecksOffsetCount) {
  Value x = value(tensor({4, 64}));
  Value ids = value(tensor({4, 2}, builder.getI32Type()));
  Type i32 = builder.getI32Type();
  auto dispatch = DispatchOp::create(
      builder, loc, tensor({8, 64}), tensor({8}, i32), tensor({8}, i32), x, ids,
      builder.getI64IntegerAttr(8), IntegerAttr());
  EXPECT_EQ(verifyMessage(dispatch), "'moe.dispatch' op expects 9 offsets "
                                     "(num_experts + 1), got 8");
}

TEST_F(DialectVerifiersTest, PackedTypeRejectsPartialBytes) {
  auto packing =
      PackingAttr::get(&context, PackedFormat::Uint4, {1, 33},
                       builder.getF32Type(), Type(), PackingOrder::LowFirst);
  std::string message;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
    message = diag.str();
    return success();
  });
  auto type = PackedType::getChecked([&] { return emitError(loc); }, &context,
                                     tensor({16, 33}), packing);
  EXPECT_FALSE(type);
  EXPECT_EQ(message, "innermost dimension 33 of 4-bit elements does not fill "
                     "whole bytes");
}

TEST_F(DialectVerifiersTest, PackingRejectsZeroPointOnFloatFormat) {
  std::string message;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
    message = diag.str();
    return success();
  });
  auto packing = PackingAttr::getChecked(
      [&] { return emitError(loc); }, &context, PackedFormat::E2M1,
      ArrayRef<int64_t>{1, 32}, Type(Float8E8M0FNUType::get(&context)),
      Type(builder.getI8Type()), PackingOrder::LowFirst);
  EXPECT_FALSE(packing);
  EXPECT_EQ(message, "float format e2m1 takes no zero point");
}

} // namespace
