//===- DialectBuildersTest.cpp - moe op builders infer result types -------===//

#include "DialectTestBase.h"

using namespace mlir;
using namespace moec::moe;
using moec::test::DialectTest;

namespace {

using DialectBuildersTest = DialectTest;

TEST_F(DialectBuildersTest, RouterInfersTokenByTopKResults) {
  Value logits = value(tensor({kDynamic, 256}));
  Value bias = value(tensor({256}));
  auto groups = GroupLimitAttr::get(&context, 8, 4, GroupScore::SumTop2);
  auto router = RouterOp::create(builder, loc, logits, /*topK=*/8,
                                 RouterScoring::Sigmoid, bias,
                                 /*normalize=*/true, /*scale=*/2.5, groups);
  EXPECT_EQ(router.getWeights().getType(), tensor({kDynamic, 8}));
  EXPECT_EQ(router.getIds().getType(),
            tensor({kDynamic, 8}, builder.getI32Type()));
  EXPECT_TRUE(router.getNormalize());
  EXPECT_EQ(router.getScale()->convertToDouble(), 2.5);
  EXPECT_EQ(verifyMessage(router), "");
}

TEST_F(DialectBuildersTest, DispatchSizesRowsByTokensTimesK) {
  Value x = value(tensor({5, 64}));
  Value ids = value(tensor({5, 2}, builder.getI32Type()));
  auto dispatch = DispatchOp::create(builder, loc, x, ids, /*numExperts=*/8);
  EXPECT_EQ(dispatch.getRows().getType(), tensor({10, 64}));
  EXPECT_EQ(dispatch.getPermutation().getType(),
            tensor({10}, builder.getI32Type()));
  EXPECT_EQ(dispatch.getOffsets().getType(),
            tensor({9}, builder.getI32Type()));
  EXPECT_EQ(verifyMessage(dispatch), "");

  Value anyX = value(tensor({kDynamic, 64}));
  Value anyIds = value(tensor({kDynamic, 2}, builder.getI32Type()));
  auto dynamic = DispatchOp::create(builder, loc, anyX, anyIds, 8);
  EXPECT_EQ(dynamic.getRows().getType(), tensor({kDynamic, 64}));
}

TEST_F(DialectBuildersTest, SparsePathChainsThroughBuilders) {
  auto [x, weights, ids] = routedTokens(kDynamic, 64, 2);
  Value gateUp = value(tensor({8, 256, 64}));
  Value down = value(tensor({8, 64, 128}));
  auto dispatch = DispatchOp::create(builder, loc, x, ids, 8);
  auto hidden = GroupedMatmulOp::create(builder, loc, dispatch.getRows(),
                                        gateUp, dispatch.getOffsets());
  EXPECT_EQ(hidden.getType(), tensor({kDynamic, 256}));
  auto activated = ActivationOp::create(
      builder, loc, hidden,
      ActivationAttr::get(&context, ActivationKind::SiluGated),
      GateUpLayout::Interleaved);
  EXPECT_EQ(activated.getType(), tensor({kDynamic, 128}));
  auto out = GroupedMatmulOp::create(builder, loc, activated, down,
                                     dispatch.getOffsets());
  auto combined = CombineOp::create(builder, loc, out,
                                    dispatch.getPermutation(), weights);
  EXPECT_EQ(combined.getType(), x.getType());
  for (Operation *op : {dispatch.getOperation(), hidden.getOperation(),
                        activated.getOperation(), out.getOperation(),
                        combined.getOperation()})
    EXPECT_EQ(verifyMessage(op), "") << op->getName().getStringRef().str();
}

TEST_F(DialectBuildersTest, ExpertsResultTypeFollowsInput) {
  auto [x, weights, ids] = routedTokens(kDynamic, 64, 2);
  Value gate = value(tensor({8, 128, 64}));
  Value up = value(tensor({8, 128, 64}));
  Value down = value(tensor({8, 64, 128}));
  auto experts = ExpertsOp::create(
      builder, loc, x, weights, ids,
      ActivationAttr::get(&context, ActivationKind::SiluGated), gate, up,
      down);
  EXPECT_EQ(experts.getType(), x.getType());
  EXPECT_EQ(experts.getNumExperts(), 8);
  EXPECT_EQ(experts.getIntermediateSize(), 128);
  EXPECT_EQ(verifyMessage(experts), "");

  Value gelu = ExpertsOp::create(
      builder, loc, x, weights, ids,
      ActivationAttr::get(&context, ActivationKind::Gelu), /*gate=*/Value(),
      up, down);
  EXPECT_EQ(verifyMessage(gelu.getDefiningOp()), "");
}

TEST_F(DialectBuildersTest, PackedTypeDerivesStorageShapes) {
  auto packing = PackingAttr::get(&context, PackedFormat::Uint4, {1, 1, 32},
                                  builder.getF16Type(), builder.getI8Type(),
                                  PackingOrder::LowFirst);
  auto type = PackedType::get(&context, tensor({8, 256, 64}), packing);
  EXPECT_EQ(packing.getBits(), 4u);
  EXPECT_EQ(type.getPackedShape(), (SmallVector<int64_t>{8, 256, 32}));
  EXPECT_EQ(type.getScaleShape(), (SmallVector<int64_t>{8, 256, 2}));

  // FP8 128x128 blocks on a weight whose rows do not fill the last block.
  auto fp8 = PackingAttr::get(&context, PackedFormat::E4M3FN, {1, 128, 128},
                              builder.getF32Type(), Type(),
                              PackingOrder::LowFirst);
  auto fp8Type = PackedType::get(&context, tensor({4, 200, 256}), fp8);
  EXPECT_EQ(fp8Type.getPackedShape(), (SmallVector<int64_t>{4, 200, 256}));
  EXPECT_EQ(fp8Type.getScaleShape(), (SmallVector<int64_t>{4, 2, 2}));

  Value data = value(tensor({8, 256, 32}, builder.getIntegerType(8, false)));
  Value scales = value(tensor({8, 256, 2}, builder.getF16Type()));
  Value zeros = value(tensor({8, 256, 2}, builder.getI8Type()));
  auto packed = PackedWeightOp::create(builder, loc, type, data, scales, zeros);
  EXPECT_EQ(verifyMessage(packed), "");
}

TEST_F(DialectBuildersTest, ActivationCanonicalSpelling) {
  APFloat one(1.0), zero(0.0);
  auto plain = ActivationAttr::get(&context, ActivationKind::Swiglu, one, zero,
                                   std::nullopt);
  EXPECT_EQ(plain.getCanonical().getKind(), ActivationKind::SiluGated);
  auto gptOss = ActivationAttr::get(&context, ActivationKind::Swiglu,
                                    APFloat(1.702), one, APFloat(7.0));
  EXPECT_EQ(gptOss.getCanonical(), gptOss);
  EXPECT_TRUE(gptOss.isGated());
  EXPECT_FALSE(
      ActivationAttr::get(&context, ActivationKind::Gelu).isGated());
}

} // namespace
