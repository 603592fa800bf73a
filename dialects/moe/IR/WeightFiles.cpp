//===- WeightFiles.cpp - Connect moe.weight ops to the store --------------===//

#include "dialects/moe/IR/WeightFiles.h"

#include "dialects/moe/IR/MoeDialect.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Path.h"

using namespace mlir;
using namespace moec;
using namespace moec::moe;

std::optional<rt::DType> moe::getDType(Type type) {
  if (type.isF32())
    return rt::DType::F32;
  if (type.isF16())
    return rt::DType::F16;
  if (type.isBF16())
    return rt::DType::BF16;
  if (type.isF64())
    return rt::DType::F64;
  if (isa<Float8E4M3FNType>(type))
    return rt::DType::F8E4M3;
  if (isa<Float8E5M2Type>(type))
    return rt::DType::F8E5M2;
  if (isa<Float8E8M0FNUType>(type))
    return rt::DType::F8E8M0;
  auto integer = dyn_cast<IntegerType>(type);
  if (!integer)
    return std::nullopt;
  bool isUnsigned = integer.isUnsigned();
  switch (integer.getWidth()) {
  case 1:
    return integer.isSignless() ? std::optional(rt::DType::Bool) : std::nullopt;
  case 8:
    return isUnsigned ? rt::DType::U8 : rt::DType::I8;
  case 16:
    return isUnsigned ? rt::DType::U16 : rt::DType::I16;
  case 32:
    return isUnsigned ? rt::DType::U32 : rt::DType::I32;
  case 64:
    return isUnsigned ? rt::DType::U64 : rt::DType::I64;
  default:
    return std::nullopt;
  }
}

Type moe::getElementType(MLIRContext *context, rt::DType dtype) {
  Builder b(context);
  auto unsignedType = [&](unsigned width) {
    return IntegerType::get(context, width, IntegerType::Unsigned);
  };
  switch (dtype) {
  case rt::DType::Bool:
    return b.getI1Type();
  case rt::DType::U8:
    return unsignedType(8);
  case rt::DType::I8:
    return b.getI8Type();
  case rt::DType::U16:
    return unsignedType(16);
  case rt::DType::I16:
    return b.getI16Type();
  case rt::DType::U32:
    return unsignedType(32);
  case rt::DType::I32:
    return b.getI32Type();
  case rt::DType::U64:
    return unsignedType(64);
  case rt::DType::I64:
    return b.getI64Type();
  case rt::DType::F16:
    return b.getF16Type();
  case rt::DType::BF16:
    return b.getBF16Type();
  case rt::DType::F32:
    return b.getF32Type();
  case rt::DType::F64:
    return b.getF64Type();
  case rt::DType::F8E4M3:
    return Float8E4M3FNType::get(context);
  case rt::DType::F8E5M2:
    return Float8E5M2Type::get(context);
  case rt::DType::F8E8M0:
    return Float8E8M0FNUType::get(context);
  }
  llvm_unreachable("unknown dtype");
}

std::string moe::resolveWeightPath(ModuleOp module, StringRef path) {
  if (llvm::sys::path::is_absolute(path))
    return path.str();
  auto fileLoc = module.getLoc()->findInstanceOf<FileLineColLoc>();
  if (!fileLoc)
    return path.str();
  StringRef source = fileLoc.getFilename().getValue();
  if (source.empty() || source == "-" || source == "<stdin>")
    return path.str();
  llvm::SmallString<256> resolved = llvm::sys::path::parent_path(source);
  llvm::sys::path::append(resolved, path);
  return std::string(resolved);
}

LogicalResult moe::loadWeightFiles(ModuleOp module) {
  auto files =
      module->getAttrOfType<ArrayAttr>(MoeDialect::kWeightFilesAttrName);
  if (!files)
    return success();
  auto *dialect = module.getContext()->getOrLoadDialect<MoeDialect>();
  for (auto file : files.getAsValueRange<StringAttr>()) {
    std::string path = resolveWeightPath(module, file);
    if (llvm::Error error = dialect->getWeightStore().addSafeTensorsFile(path))
      return module.emitError("cannot load weights: ")
             << llvm::toString(std::move(error));
  }
  return success();
}

LogicalResult moe::loadWeightRanges(ModuleOp module) {
  auto *dialect = module.getContext()->getOrLoadDialect<MoeDialect>();
  WalkResult result = module.walk([&](WeightOp op) {
    if (!op.getFile())
      return WalkResult::advance();
    auto type = cast<RankedTensorType>(op.getType());
    std::optional<rt::DType> dtype = getDType(type.getElementType());
    if (!dtype) {
      op.emitOpError() << "cannot read element type " << type.getElementType()
                       << " from a file";
      return WalkResult::interrupt();
    }
    std::string path = resolveWeightPath(module, *op.getFile());
    if (llvm::Error error = dialect->getWeightStore().addFileRange(
            op.getKey(), path, op.getOffsetAttr().getInt(), *dtype,
            type.getShape())) {
      op.emitOpError("cannot load weight: ")
          << llvm::toString(std::move(error));
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return failure(result.wasInterrupted());
}

LogicalResult moe::verifyWeightInStore(WeightOp op) {
  auto *dialect = op.getContext()->getOrLoadDialect<MoeDialect>();
  llvm::Expected<WeightView> view =
      dialect->getWeightStore().lookup(op.getKey());
  if (!view) {
    llvm::consumeError(view.takeError());
    return op.emitOpError() << "refers to weight '" << op.getKey()
                            << "', which no weight file of the module holds";
  }
  auto type = cast<RankedTensorType>(op.getType());
  std::optional<rt::DType> expected = getDType(type.getElementType());
  if (!expected || *expected != view->dtype)
    return op.emitOpError() << "declares element type " << type.getElementType()
                            << " but weight '" << op.getKey() << "' is "
                            << rt::dtypeName(view->dtype);
  if (type.getShape() != view->shape) {
    auto diag = op.emitOpError() << "declares shape " << type << " but weight '"
                                 << op.getKey() << "' has shape [";
    llvm::interleaveComma(view->shape, diag);
    return diag << "]";
  }
  return success();
}

std::optional<std::vector<uint8_t>> moe::getConstantBytes(Attribute value) {
  auto shaped = dyn_cast<ShapedType>(cast<TypedAttr>(value).getType());
  std::optional<rt::DType> dtype = getDType(shaped.getElementType());
  if (!dtype)
    return std::nullopt;
  size_t elementSize = rt::dtypeSize(*dtype);
  size_t numElements = shaped.getNumElements();
  std::vector<uint8_t> bytes;
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(value)) {
    AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    if (!blob || blob->getData().size() != numElements * elementSize)
      return std::nullopt;
    ArrayRef<char> data = blob->getData();
    bytes.assign(data.begin(), data.end());
    return bytes;
  }
  auto dense = dyn_cast<DenseElementsAttr>(value);
  if (!dense)
    return std::nullopt;
  if (*dtype == rt::DType::Bool) {
    for (bool element : dense.getValues<bool>())
      bytes.push_back(element);
    return bytes;
  }
  ArrayRef<char> raw = dense.getRawData();
  if (dense.isSplat()) {
    // A splat stores one element; the store holds them all.
    bytes.reserve(numElements * elementSize);
    for (size_t i = 0; i < numElements; ++i)
      bytes.insert(bytes.end(), raw.begin(), raw.begin() + elementSize);
  } else {
    bytes.assign(raw.begin(), raw.end());
  }
  return bytes;
}

std::optional<std::vector<uint8_t>> moe::getKnownBytes(Value value,
                                                       Operation *user) {
  if (auto weight = value.getDefiningOp<WeightOp>()) {
    FailureOr<WeightView> view = lookupWeight(weight, user);
    if (failed(view))
      return std::nullopt;
    return std::vector<uint8_t>(view->bytes.begin(), view->bytes.end());
  }
  Attribute constant;
  if (value && matchPattern(value, m_Constant(&constant)))
    return getConstantBytes(constant);
  return std::nullopt;
}

FailureOr<WeightView> moe::lookupWeight(WeightOp weight, Operation *user) {
  WeightStore &store =
      user->getContext()->getOrLoadDialect<MoeDialect>()->getWeightStore();
  if (!store.contains(weight.getKey())) {
    auto module = user->getParentOfType<ModuleOp>();
    if (failed(loadWeightFiles(module)) || failed(loadWeightRanges(module)))
      return failure();
  }
  llvm::Expected<WeightView> view = store.lookup(weight.getKey());
  if (!view)
    return user->emitOpError("weight '")
           << weight.getKey() << "': " << llvm::toString(view.takeError());
  return *view;
}
