//===- DialectTestBase.h - Fixture for building moe ops in tests -*- C++ -*-===//

#ifndef MOEC_TEST_UNIT_DIALECTTESTBASE_H
#define MOEC_TEST_UNIT_DIALECTTESTBASE_H

#include "dialects/moe/IR/MoeOps.h"

#include "mlir/IR/Block.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include <gtest/gtest.h>

namespace moec::test {

class DialectTest : public ::testing::Test {
protected:
  DialectTest() : builder(&context), loc(mlir::UnknownLoc::get(&context)) {
    context.loadDialect<moe::MoeDialect>();
    builder.setInsertionPointToEnd(&block);
  }

  /// A value of `type` to feed the op under test.
  mlir::Value value(mlir::Type type) { return block.addArgument(type, loc); }

  mlir::RankedTensorType tensor(llvm::ArrayRef<int64_t> shape,
                                mlir::Type element = {}) {
    return mlir::RankedTensorType::get(shape,
                                       element ? element : builder.getF32Type());
  }

  /// The inputs every expert computation takes: tokens `[T, H]`, their
  /// routing weights `[T, k]` and expert ids `[T, k]`.
  struct RoutedTokens {
    mlir::Value input, weights, ids;
  };
  RoutedTokens routedTokens(int64_t tokens, int64_t hidden, int64_t topK) {
    return {value(tensor({tokens, hidden})), value(tensor({tokens, topK})),
            value(tensor({tokens, topK}, builder.getI32Type()))};
  }

  /// The verifier's message for `op`, or "" when it verifies.
  std::string verifyMessage(mlir::Operation *op) {
    std::string message;
    mlir::ScopedDiagnosticHandler handler(
        &context, [&](mlir::Diagnostic &diag) {
          message = diag.str();
          return mlir::success();
        });
    if (mlir::succeeded(mlir::verify(op)))
      return "";
    return message;
  }

  static constexpr int64_t kDynamic = mlir::ShapedType::kDynamic;
  mlir::MLIRContext context;
  mlir::Block block;
  mlir::OpBuilder builder;
  mlir::Location loc;
};

} // namespace moec::test

#endif // MOEC_TEST_UNIT_DIALECTTESTBASE_H
