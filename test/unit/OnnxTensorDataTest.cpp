//===- OnnxTensorDataTest.cpp - ONNX tensor contents and input shapes -----===//
//
// The importer's decoding of TensorProto typed fields and raw data, checked
// against values written here by hand, and --input-shape parsing.
//
//===----------------------------------------------------------------------===//

#include "lib/Frontend/ONNX/ImportUtils.h"
#include "moec/Frontend/OnnxImporter.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace moec;

namespace {

class OnnxTensorDataTest : public ::testing::Test {
protected:
  MLIRContext context;
  Builder b{&context};

  RankedTensorType tensorOf(int32_t dataType, ArrayRef<int64_t> shape) {
    return RankedTensorType::get(
        shape, onnx_import::getElementType(&context, dataType));
  }

  DenseElementsAttr decode(RankedTensorType type, int32_t dataType,
                           const ::onnx::TensorProto &tensor) {
    llvm::Expected<DenseElementsAttr> attr =
        onnx_import::denseFromTypedFields(type, dataType, tensor);
    if (!attr) {
      ADD_FAILURE() << llvm::toString(attr.takeError());
      return {};
    }
    return *attr;
  }
};

TEST_F(OnnxTensorDataTest, ElementTypes) {
  EXPECT_TRUE(onnx_import::getElementType(&context, 1).isF32());
  EXPECT_TRUE(onnx_import::getElementType(&context, 2).isUnsignedInteger(8));
  EXPECT_TRUE(onnx_import::getElementType(&context, 9).isInteger(1));
  EXPECT_TRUE(onnx_import::getElementType(&context, 16).isBF16());
  EXPECT_TRUE(onnx_import::getElementType(&context, 22).isSignlessInteger(4));
  EXPECT_TRUE(onnx_import::getElementType(&context, 21).isUnsignedInteger(4));
  EXPECT_FALSE(onnx_import::getElementType(&context, 8)); // string
  EXPECT_EQ(onnx_import::dataTypeName(22), "INT4");
  EXPECT_EQ(onnx_import::dataTypeName(99), "data type 99");
}

TEST_F(OnnxTensorDataTest, RawDataSizes) {
  EXPECT_EQ(onnx_import::rawDataSize(b.getF32Type(), 3), 12u);
  EXPECT_EQ(onnx_import::rawDataSize(b.getIntegerType(4), 5), 3u);
  EXPECT_EQ(onnx_import::rawDataSize(b.getI1Type(), 5), 5u);
}

TEST_F(OnnxTensorDataTest, Int4RawDataLowNibbleFirst) {
  // Bytes 0x98, 0x0F: elements -8, -7, -1 (the high nibble of byte 1 is
  // padding).
  const char bytes[] = {char(0x98), char(0x0F)};
  DenseElementsAttr attr =
      onnx_import::denseFromRawData(tensorOf(22, {3}), bytes);
  std::vector<int64_t> values;
  for (const APInt &v : attr.getValues<APInt>())
    values.push_back(v.getSExtValue());
  EXPECT_EQ(values, (std::vector<int64_t>{-8, -7, -1}));
}

TEST_F(OnnxTensorDataTest, Float16BitsInInt32Data) {
  ::onnx::TensorProto tensor;
  tensor.add_int32_data(0x3C00); // 1.0
  tensor.add_int32_data(0xC000); // -2.0
  DenseElementsAttr attr = decode(tensorOf(10, {2}), 10, tensor);
  ASSERT_TRUE(attr);
  auto values = llvm::to_vector(attr.getValues<APFloat>());
  EXPECT_EQ(values[0].convertToFloat(), 1.0f);
  EXPECT_EQ(values[1].convertToFloat(), -2.0f);
}

TEST_F(OnnxTensorDataTest, BoolsAndUnsigned64) {
  ::onnx::TensorProto bools;
  bools.add_int32_data(0);
  bools.add_int32_data(7);
  DenseElementsAttr b1 = decode(tensorOf(9, {2}), 9, bools);
  ASSERT_TRUE(b1);
  EXPECT_EQ(llvm::to_vector(b1.getValues<bool>()),
            (SmallVector<bool>{false, true}));

  ::onnx::TensorProto big;
  big.add_uint64_data(UINT64_MAX);
  DenseElementsAttr u64 = decode(tensorOf(13, {1}), 13, big);
  ASSERT_TRUE(u64);
  EXPECT_TRUE((*u64.getValues<APInt>().begin()).isAllOnes());
}

TEST_F(OnnxTensorDataTest, CountMismatchNamesTheField) {
  ::onnx::TensorProto tensor;
  tensor.add_float_data(1.0f);
  llvm::Expected<DenseElementsAttr> attr =
      onnx_import::denseFromTypedFields(tensorOf(1, {2}), 1, tensor);
  ASSERT_FALSE(attr);
  EXPECT_EQ(llvm::toString(attr.takeError()),
            "float_data holds 1 values but the dims need 2");
}

TEST_F(OnnxTensorDataTest, StringsAreRefused) {
  ::onnx::TensorProto tensor;
  llvm::Expected<DenseElementsAttr> attr = onnx_import::denseFromTypedFields(
      RankedTensorType::get({1}, b.getF32Type()), 8, tensor);
  ASSERT_FALSE(attr);
  EXPECT_EQ(llvm::toString(attr.takeError()),
            "STRING tensors are not supported");
}

TEST(OnnxInputShapeTest, Parses) {
  llvm::StringMap<llvm::SmallVector<int64_t>> shapes;
  EXPECT_EQ(parseInputShape("x=1,128,4096", shapes), "");
  EXPECT_EQ(shapes["x"], (llvm::SmallVector<int64_t>{1, 128, 4096}));
  EXPECT_EQ(parseInputShape("scalar=", shapes), "");
  EXPECT_TRUE(shapes["scalar"].empty());
}

TEST(OnnxInputShapeTest, Rejects) {
  llvm::StringMap<llvm::SmallVector<int64_t>> shapes;
  EXPECT_EQ(parseInputShape("x", shapes),
            "expected NAME=D0,D1,... but got 'x'");
  EXPECT_EQ(parseInputShape("=1", shapes),
            "expected NAME=D0,D1,... but got '=1'");
  EXPECT_EQ(parseInputShape("x=1,-2", shapes),
            "dimension '-2' of input 'x' is not a non-negative integer");
  EXPECT_EQ(parseInputShape("x=1", shapes), "");
  EXPECT_EQ(parseInputShape("x=2", shapes), "input 'x' is given two shapes");
}

} // namespace
