//===- OnnxImporter.cpp - ONNX models to the onnx dialect -----------------===//

#include "moec/Frontend/OnnxImporter.h"

#include "ImportUtils.h"
#include "dialects/moe/IR/MoeOps.h"
#include "dialects/moe/IR/WeightFiles.h"
#include "dialects/onnx/IR/OnnxOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <google/protobuf/io/coded_stream.h>

using namespace mlir;
using namespace moec;
using namespace moec::onnx_import;

namespace {

/// Element type of each output of a node when the model does not declare
/// it; null when it cannot be told without knowing the op.
static Type inferElementType(const ::onnx::NodeProto &node, unsigned output,
                             ArrayRef<Value> inputs, MLIRContext *context) {
  Builder b(context);
  auto inputElement = [&](unsigned i) -> Type {
    if (i >= inputs.size() || !inputs[i])
      return nullptr;
    if (auto shaped = dyn_cast<ShapedType>(inputs[i].getType()))
      return shaped.getElementType();
    return nullptr;
  };
  auto intAttr = [&](llvm::StringRef name, int64_t fallback) {
    for (const auto &attr : node.attribute())
      if (attr.name() == name)
        return attr.i();
    return fallback;
  };
  const std::string &op = node.op_type();
  if (op == "Shape" || op == "Size" || op == "NonZero" || op == "ArgMax" ||
      op == "ArgMin")
    return b.getI64Type();
  if (llvm::is_contained({"Equal", "Less", "Greater", "LessOrEqual",
                          "GreaterOrEqual", "Not", "And", "Or", "Xor", "IsNaN",
                          "IsInf"},
                         op))
    return b.getI1Type();
  if (op == "TopK")
    return output == 0 ? inputElement(0) : b.getI64Type();
  if (op == "Cast")
    return getElementType(context, intAttr("to", 0));
  if (op == "ConstantOfShape") {
    for (const auto &attr : node.attribute())
      if (attr.name() == "value" && attr.has_t())
        return getElementType(context, attr.t().data_type());
    return b.getF32Type();
  }
  if (op == "QuantizeLinear") {
    if (Type zeroPoint = inputElement(2))
      return zeroPoint;
    int64_t dtype = intAttr("output_dtype", 0);
    return dtype ? getElementType(context, dtype)
                 : IntegerType::get(context, 8, IntegerType::Unsigned);
  }
  if (op == "DequantizeLinear")
    return inputElement(1);
  if (op == "OneHot")
    return inputElement(2);
  if (op == "Where")
    return inputElement(1);
  if (op == "LayerNormalization" && output > 0)
    return getElementType(context, intAttr("stash_type", 1));
  if ((op == "SimplifiedLayerNormalization" ||
       op == "SkipSimplifiedLayerNormalization") &&
      (output == 1 || output == 2))
    return b.getF32Type();
  return inputElement(0);
}

class GraphImporter {
public:
  GraphImporter(MLIRContext *context, llvm::StringRef modelPath,
                const OnnxImportOptions &options)
      : context(context), builder(context), modelPath(modelPath.str()),
        options(options),
        modelLoc(FileLineColLoc::get(context, modelPath, 0, 0)) {
    modelDir = llvm::sys::path::parent_path(modelPath).str();
  }

  OwningOpRef<ModuleOp> import(const ::onnx::ModelProto &model);

private:
  InFlightDiagnostic error() { return emitError(modelLoc); }
  LogicalResult readOpsets(const ::onnx::ModelProto &model);
  FailureOr<Type> importValueType(const ::onnx::TypeProto &type,
                                  llvm::StringRef name);
  LogicalResult importInputs(const ::onnx::GraphProto &graph,
                             SmallVectorImpl<Type> &types,
                             SmallVectorImpl<std::string> &names);
  FailureOr<Value> importTensor(const ::onnx::TensorProto &tensor,
                                llvm::StringRef key, llvm::StringRef what);
  FailureOr<Value> importExternalTensor(const ::onnx::TensorProto &tensor,
                                        RankedTensorType type,
                                        llvm::StringRef key,
                                        llvm::StringRef what);
  Value weightOrConstant(RankedTensorType type, llvm::StringRef key,
                         ArrayRef<char> bytes);
  LogicalResult importNode(const ::onnx::NodeProto &node, unsigned index);
  LogicalResult importConstantNode(const ::onnx::NodeProto &node,
                                   unsigned index, Location loc);
  FailureOr<Attribute> importAttribute(const ::onnx::AttributeProto &attr,
                                       const ::onnx::NodeProto &node,
                                       unsigned index, Location loc);
  std::string describe(const ::onnx::NodeProto &node, unsigned index);
  std::string relativeToOutput(llvm::StringRef path);

  MLIRContext *context;
  OpBuilder builder;
  std::string modelPath, modelDir;
  const OnnxImportOptions &options;
  Location modelLoc;
  llvm::StringMap<int64_t> opsets;
  llvm::StringMap<Value> values;
  llvm::StringMap<Type> declaredTypes;
  Value none;
};

} // namespace

std::string GraphImporter::describe(const ::onnx::NodeProto &node,
                                    unsigned index) {
  std::string domain = node.domain().empty() ? "ai.onnx" : node.domain();
  std::string name = node.name().empty() ? "#" + std::to_string(index)
                                         : "'" + node.name() + "'";
  auto it = opsets.find(node.domain() == "ai.onnx" ? "" : node.domain());
  std::string opset =
      it == opsets.end() ? "not imported" : std::to_string(it->second);
  return "node " + name + " (op type '" + node.op_type() + "', domain '" +
         domain + "', opset " + opset + ")";
}

std::string GraphImporter::relativeToOutput(llvm::StringRef path) {
  llvm::SmallString<256> base;
  if (llvm::sys::fs::real_path(
          options.outputDir.empty() ? "." : options.outputDir, base))
    return path.str();
  llvm::StringRef rest = path;
  if (rest.consume_front(base) && !rest.empty() &&
      llvm::sys::path::is_separator(rest.front()))
    return rest.drop_front().str();
  return path.str();
}

LogicalResult GraphImporter::readOpsets(const ::onnx::ModelProto &model) {
  for (const auto &opset : model.opset_import()) {
    std::string domain = opset.domain() == "ai.onnx" ? "" : opset.domain();
    if (opset.version() < 1)
      return error() << "the model imports domain '"
                     << (domain.empty() ? "ai.onnx" : domain)
                     << "' at invalid opset " << opset.version();
    opsets[domain] = opset.version();
  }
  auto it = opsets.find("");
  if (it == opsets.end()) {
    // A model may import only a custom domain; its default-domain nodes
    // would then have no opset.
    bool usesDefault = llvm::any_of(model.graph().node(), [](const auto &n) {
      return n.domain().empty() || n.domain() == "ai.onnx";
    });
    if (usesDefault)
      return error() << "the model does not import the default ONNX domain "
                        "('ai.onnx') that its nodes use";
    return success();
  }
  if (it->second < kMinOnnxOpset || it->second > kMaxOnnxOpset)
    return error() << "the model imports opset " << it->second
                   << " of the default ONNX domain; moec supports opsets "
                   << kMinOnnxOpset << " to " << kMaxOnnxOpset;
  return success();
}

FailureOr<Type> GraphImporter::importValueType(const ::onnx::TypeProto &type,
                                               llvm::StringRef name) {
  if (!type.has_tensor_type())
    return error() << "value '" << name
                   << "' is not a tensor (sequences, maps and optionals are "
                      "not supported)",
           failure();
  const auto &tensor = type.tensor_type();
  Type element = getElementType(context, tensor.elem_type());
  if (!element)
    return error() << "value '" << name << "' has unsupported element type "
                   << dataTypeName(tensor.elem_type()),
           failure();
  if (!tensor.has_shape())
    return Type(UnrankedTensorType::get(element));
  SmallVector<int64_t> shape;
  for (const auto &dim : tensor.shape().dim()) {
    if (dim.has_dim_value() && dim.dim_value() < 0)
      return error() << "value '" << name << "' has negative dimension "
                     << dim.dim_value(),
             failure();
    shape.push_back(dim.has_dim_value() ? dim.dim_value()
                                        : ShapedType::kDynamic);
  }
  return Type(RankedTensorType::get(shape, element));
}

LogicalResult GraphImporter::importInputs(const ::onnx::GraphProto &graph,
                                          SmallVectorImpl<Type> &types,
                                          SmallVectorImpl<std::string> &names) {
  llvm::StringSet<> initializers;
  for (const auto &init : graph.initializer())
    initializers.insert(init.name());
  llvm::StringSet<> seen;
  for (const auto &input : graph.input()) {
    if (input.name().empty())
      return error() << "a graph input has an empty name";
    if (!seen.insert(input.name()).second)
      return error() << "graph input '" << input.name() << "' is listed twice";
    FailureOr<Type> type = importValueType(input.type(), input.name());
    if (failed(type))
      return failure();
    // Models of IR version < 4 list their initializers as inputs too.
    if (initializers.contains(input.name())) {
      declaredTypes[input.name()] = *type;
      continue;
    }
    auto override = options.inputShapes.find(input.name());
    if (override != options.inputShapes.end()) {
      Type element = cast<ShapedType>(*type).getElementType();
      ArrayRef<int64_t> shape = override->second;
      if (auto ranked = dyn_cast<RankedTensorType>(*type)) {
        if (ranked.getRank() != static_cast<int64_t>(shape.size()))
          return error() << "--input-shape gives input '" << input.name()
                         << "' rank " << shape.size()
                         << " but the model declares " << ranked;
        for (auto [declared, given] : llvm::zip(ranked.getShape(), shape))
          if (!ShapedType::isDynamic(declared) && declared != given)
            return error() << "--input-shape gives input '" << input.name()
                           << "' a dimension " << given
                           << " where the model declares " << ranked;
      }
      *type = RankedTensorType::get(shape, element);
    }
    types.push_back(*type);
    names.push_back(input.name());
  }
  for (const auto &entry : options.inputShapes)
    if (!llvm::is_contained(names, entry.getKey()))
      return error() << "--input-shape names '" << entry.getKey()
                     << "', which is not an input of the model",
             failure();
  return success();
}

Value GraphImporter::weightOrConstant(RankedTensorType type,
                                      llvm::StringRef key,
                                      ArrayRef<char> bytes) {
  std::optional<rt::DType> dtype = moe::getDType(type.getElementType());
  if (bytes.size() >= options.inlineMaxBytes && dtype) {
    auto &store =
        context->getOrLoadDialect<moe::MoeDialect>()->getWeightStore();
    std::vector<uint8_t> blob(bytes.begin(), bytes.end());
    std::string stored =
        store.addBlob(key, *dtype, type.getShape(), std::move(blob));
    return moe::WeightOp::create(builder, modelLoc, type, stored);
  }
  return arith::ConstantOp::create(builder, modelLoc, type,
                                   denseFromRawData(type, bytes));
}

FailureOr<Value>
GraphImporter::importExternalTensor(const ::onnx::TensorProto &tensor,
                                    RankedTensorType type, llvm::StringRef key,
                                    llvm::StringRef what) {
  std::string location;
  uint64_t offset = 0;
  std::optional<uint64_t> length;
  for (const auto &entry : tensor.external_data()) {
    uint64_t number = 0;
    bool isNumber = !llvm::StringRef(entry.value()).getAsInteger(10, number);
    if (entry.key() == "location") {
      location = entry.value();
    } else if (entry.key() == "offset" || entry.key() == "length") {
      if (!isNumber)
        return error() << what << " has a non-numeric external data "
                       << entry.key() << " '" << entry.value() << "'",
               failure();
      (entry.key() == "offset" ? offset : length.emplace()) = number;
    }
  }
  uint64_t size = rawDataSize(type.getElementType(), type.getNumElements());
  if (length && *length != size)
    return error() << what << " declares " << *length
                   << " bytes of external data but its shape " << type
                   << " needs " << size,
           failure();
  llvm::Expected<std::string> path =
      resolveExternalLocation(modelDir, location);
  if (!path)
    return error() << what << ": " << llvm::toString(path.takeError()),
           failure();
  auto &store = context->getOrLoadDialect<moe::MoeDialect>()->getWeightStore();
  std::optional<rt::DType> dtype = moe::getDType(type.getElementType());
  if (size >= options.inlineMaxBytes && dtype) {
    if (llvm::Error err =
            store.addFileRange(key, *path, offset, *dtype, type.getShape()))
      return error() << what << ": " << llvm::toString(std::move(err)),
             failure();
    return Value(moe::WeightOp::create(
        builder, modelLoc, type, builder.getStringAttr(key),
        builder.getStringAttr(relativeToOutput(*path)),
        builder.getI64IntegerAttr(static_cast<int64_t>(offset))));
  }
  uint64_t fileSize = 0;
  if (std::error_code ec = llvm::sys::fs::file_size(*path, fileSize))
    return error() << what << ": cannot read '" << *path
                   << "': " << ec.message(),
           failure();
  if (offset > fileSize || size > fileSize - offset)
    return error() << what << " needs bytes [" << offset << ", "
                   << offset + size << ") of external data file '" << *path
                   << "', which has only " << fileSize,
           failure();
  auto buffer = llvm::MemoryBuffer::getFileSlice(*path, size, offset);
  if (!buffer)
    return error() << what << ": cannot read " << size << " bytes at offset "
                   << offset << " of '" << *path
                   << "': " << buffer.getError().message(),
           failure();
  return Value(arith::ConstantOp::create(
      builder, modelLoc, type,
      denseFromRawData(type, ArrayRef<char>((*buffer)->getBufferStart(),
                                            (*buffer)->getBufferSize()))));
}

FailureOr<Value> GraphImporter::importTensor(const ::onnx::TensorProto &tensor,
                                             llvm::StringRef key,
                                             llvm::StringRef what) {
  Type element = getElementType(context, tensor.data_type());
  if (!element)
    return error() << what << " has unsupported element type "
                   << dataTypeName(tensor.data_type()),
           failure();
  SmallVector<int64_t> shape;
  uint64_t count = 1;
  for (int64_t dim : tensor.dims()) {
    if (dim < 0)
      return error() << what << " has negative dimension " << dim, failure();
    if (dim != 0 && count > (uint64_t(1) << 62) / static_cast<uint64_t>(dim))
      return error() << what << " has too many elements", failure();
    count *= static_cast<uint64_t>(dim);
    shape.push_back(dim);
  }
  auto type = RankedTensorType::get(shape, element);
  auto declared = declaredTypes.find(key);
  if (declared != declaredTypes.end()) {
    auto ranked = dyn_cast<RankedTensorType>(declared->second);
    bool contradicts =
        cast<ShapedType>(declared->second).getElementType() != element ||
        (ranked &&
         (ranked.getRank() != type.getRank() ||
          llvm::any_of(llvm::zip(ranked.getShape(), shape), [](auto dims) {
            auto [d, s] = dims;
            return !ShapedType::isDynamic(d) && d != s;
          })));
    if (contradicts)
      return error() << what << " is " << type << " but the graph declares it "
                     << declared->second,
             failure();
  }
  if (tensor.data_location() == ::onnx::TensorProto::EXTERNAL)
    return importExternalTensor(tensor, type, key, what);
  uint64_t size = rawDataSize(element, count);
  if (tensor.has_raw_data()) {
    if (tensor.raw_data().size() != size)
      return error() << what << " has " << tensor.raw_data().size()
                     << " bytes of data but its shape " << type << " needs "
                     << size,
             failure();
    return weightOrConstant(type, key,
                            ArrayRef<char>(tensor.raw_data().data(), size));
  }
  llvm::Expected<DenseElementsAttr> attr =
      denseFromTypedFields(type, tensor.data_type(), tensor);
  if (!attr)
    return error() << what << ": " << llvm::toString(attr.takeError()),
           failure();
  if (size >= options.inlineMaxBytes && !attr->isSplat()) {
    ArrayRef<char> raw = attr->getRawData();
    if (raw.size() == size)
      return weightOrConstant(type, key, raw);
  }
  return Value(arith::ConstantOp::create(builder, modelLoc, type, *attr));
}

FailureOr<Attribute>
GraphImporter::importAttribute(const ::onnx::AttributeProto &attr,
                               const ::onnx::NodeProto &node, unsigned index,
                               Location loc) {
  using AP = ::onnx::AttributeProto;
  AP::AttributeType kind = attr.type();
  // Old exporters leave `type` unset; the field that is set tells it.
  if (kind == AP::UNDEFINED) {
    if (attr.has_f())
      kind = AP::FLOAT;
    else if (attr.has_i())
      kind = AP::INT;
    else if (attr.has_s())
      kind = AP::STRING;
    else if (attr.has_t())
      kind = AP::TENSOR;
    else if (attr.floats_size())
      kind = AP::FLOATS;
    else if (attr.ints_size())
      kind = AP::INTS;
    else if (attr.strings_size())
      kind = AP::STRINGS;
  }
  switch (kind) {
  case AP::FLOAT:
    return Attribute(builder.getF32FloatAttr(attr.f()));
  case AP::INT:
    return Attribute(builder.getI64IntegerAttr(attr.i()));
  case AP::STRING:
    return Attribute(builder.getStringAttr(attr.s()));
  case AP::FLOATS:
    return Attribute(builder.getDenseF32ArrayAttr(
        SmallVector<float>(attr.floats().begin(), attr.floats().end())));
  case AP::INTS:
    return Attribute(builder.getDenseI64ArrayAttr(
        SmallVector<int64_t>(attr.ints().begin(), attr.ints().end())));
  case AP::STRINGS: {
    SmallVector<Attribute> strings;
    for (const std::string &s : attr.strings())
      strings.push_back(builder.getStringAttr(s));
    return Attribute(builder.getArrayAttr(strings));
  }
  case AP::TENSOR: {
    // Tensor attributes (ConstantOfShape's value) are small by nature.
    Type element = getElementType(context, attr.t().data_type());
    if (!element)
      break;
    auto type = RankedTensorType::get(
        SmallVector<int64_t>(attr.t().dims().begin(), attr.t().dims().end()),
        element);
    if (llvm::any_of(type.getShape(), [](int64_t d) { return d < 0; }))
      break;
    uint64_t size = rawDataSize(element, type.getNumElements());
    if (attr.t().has_raw_data()) {
      if (attr.t().raw_data().size() != size)
        break;
      return Attribute(denseFromRawData(
          type, ArrayRef<char>(attr.t().raw_data().data(), size)));
    }
    llvm::Expected<DenseElementsAttr> dense =
        denseFromTypedFields(type, attr.t().data_type(), attr.t());
    if (!dense) {
      llvm::consumeError(dense.takeError());
      break;
    }
    return Attribute(*dense);
  }
  default:
    break;
  }
  return emitError(loc) << "attribute '" << attr.name() << "' of "
                        << describe(node, index)
                        << " has a kind or value moec does not import "
                           "(graphs, sparse tensors, types, malformed "
                           "tensors)",
         failure();
}

LogicalResult GraphImporter::importConstantNode(const ::onnx::NodeProto &node,
                                                unsigned index, Location loc) {
  if (node.attribute_size() != 1 || node.output_size() != 1)
    return emitError(loc) << describe(node, index)
                          << ": a Constant needs exactly one attribute and "
                             "one output";
  const auto &attr = node.attribute(0);
  const std::string &name = node.output(0);
  FailureOr<Value> value;
  if (attr.name() == "value" && attr.has_t()) {
    value = importTensor(attr.t(), name, "constant '" + name + "'");
  } else if (attr.name() == "value_float" || attr.name() == "value_int") {
    bool isFloat = attr.name() == "value_float";
    auto type = RankedTensorType::get({}, isFloat ? Type(builder.getF32Type())
                                                  : Type(builder.getI64Type()));
    Attribute scalar = isFloat ? Attribute(builder.getF32FloatAttr(attr.f()))
                               : Attribute(builder.getI64IntegerAttr(attr.i()));
    value = Value(arith::ConstantOp::create(
        builder, loc, type, DenseElementsAttr::get(type, scalar)));
  } else if (attr.name() == "value_floats") {
    SmallVector<float> data(attr.floats().begin(), attr.floats().end());
    auto type = RankedTensorType::get({static_cast<int64_t>(data.size())},
                                      builder.getF32Type());
    value = Value(arith::ConstantOp::create(
        builder, loc, type, DenseElementsAttr::get(type, ArrayRef(data))));
  } else if (attr.name() == "value_ints") {
    SmallVector<int64_t> data(attr.ints().begin(), attr.ints().end());
    auto type = RankedTensorType::get({static_cast<int64_t>(data.size())},
                                      builder.getI64Type());
    value = Value(arith::ConstantOp::create(
        builder, loc, type, DenseElementsAttr::get(type, ArrayRef(data))));
  } else {
    return emitError(loc) << describe(node, index) << ": Constant attribute '"
                          << attr.name() << "' is not supported";
  }
  if (failed(value))
    return failure();
  values[name] = *value;
  return success();
}

LogicalResult GraphImporter::importNode(const ::onnx::NodeProto &node,
                                        unsigned index) {
  Location loc = NameLoc::get(
      builder.getStringAttr(node.name().empty()
                                ? node.op_type() + "#" + std::to_string(index)
                                : node.name()),
      modelLoc);
  std::string domain = node.domain() == "ai.onnx" ? "" : node.domain();
  auto opset = opsets.find(domain);
  if (opset == opsets.end())
    return emitError(loc) << describe(node, index)
                          << ": the model does not import domain '"
                          << node.domain() << "'";
  if (node.op_type().empty())
    return emitError(loc) << describe(node, index) << " has no op type";
  for (const std::string &output : node.output())
    if (!output.empty() && values.count(output))
      return emitError(loc)
             << describe(node, index) << " redefines '" << output << "'";
  if (domain.empty() && node.op_type() == "Constant")
    return importConstantNode(node, index, loc);

  SmallVector<Value> inputs;
  for (const std::string &input : node.input()) {
    if (input.empty()) {
      inputs.push_back(none);
      continue;
    }
    auto it = values.find(input);
    if (it == values.end())
      return emitError(loc) << describe(node, index) << ": input '" << input
                            << "' is not a graph input, an initializer or "
                               "the output of an earlier node";
    inputs.push_back(it->second);
  }
  SmallVector<NamedAttribute> attrs;
  llvm::StringSet<> attrNames;
  for (const auto &attr : node.attribute()) {
    if (attr.name().empty() || !attrNames.insert(attr.name()).second ||
        llvm::is_contained({"op_type", "domain", "opset"}, attr.name()) ||
        llvm::StringRef(attr.name()).contains('.'))
      return emitError(loc) << describe(node, index)
                            << " has an empty, repeated or reserved "
                               "attribute name '"
                            << attr.name() << "'";
    FailureOr<Attribute> value = importAttribute(attr, node, index, loc);
    if (failed(value))
      return failure();
    attrs.emplace_back(builder.getStringAttr(attr.name()), *value);
  }
  SmallVector<Type> resultTypes;
  for (auto [i, output] : llvm::enumerate(node.output())) {
    auto declared = declaredTypes.find(output);
    if (declared != declaredTypes.end()) {
      resultTypes.push_back(declared->second);
      continue;
    }
    Type element = inferElementType(node, i, inputs, context);
    resultTypes.push_back(element ? Type(UnrankedTensorType::get(element))
                                  : Type(builder.getNoneType()));
  }
  auto op = moec::onnx::NodeOp::create(
      builder, loc, resultTypes, builder.getStringAttr(node.op_type()),
      builder.getStringAttr(domain), builder.getI64IntegerAttr(opset->second),
      inputs);
  for (const NamedAttribute &attr : attrs)
    op->setAttr(attr.getName(), attr.getValue());
  for (auto [output, result] : llvm::zip(node.output(), op.getResults()))
    if (!output.empty())
      values[output] = result;
  return success();
}

OwningOpRef<ModuleOp> GraphImporter::import(const ::onnx::ModelProto &model) {
  context->loadDialect<arith::ArithDialect, func::FuncDialect, moe::MoeDialect,
                       moec::onnx::OnnxDialect>();
  if (!model.has_graph())
    return error() << "the model has no graph", nullptr;
  if (failed(readOpsets(model)))
    return nullptr;
  const ::onnx::GraphProto &graph = model.graph();
  for (const auto &info : graph.value_info()) {
    FailureOr<Type> type = importValueType(info.type(), info.name());
    if (failed(type))
      return nullptr;
    declaredTypes[info.name()] = *type;
  }
  SmallVector<Type> inputTypes;
  SmallVector<std::string> inputNames;
  if (failed(importInputs(graph, inputTypes, inputNames)))
    return nullptr;
  for (const auto &output : graph.output()) {
    FailureOr<Type> type = importValueType(output.type(), output.name());
    if (failed(type))
      return nullptr;
    declaredTypes[output.name()] = *type;
  }

  OwningOpRef<ModuleOp> module = ModuleOp::create(modelLoc);
  builder.setInsertionPointToEnd(module->getBody());
  auto func = func::FuncOp::create(builder, modelLoc, "main",
                                   builder.getFunctionType(inputTypes, {}));
  Block *body = func.addEntryBlock();
  builder.setInsertionPointToStart(body);
  for (auto [i, name] : llvm::enumerate(inputNames)) {
    values[name] = body->getArgument(i);
    func.setArgAttr(i, "moe.name", builder.getStringAttr(name));
  }
  none = moec::onnx::NoneOp::create(builder, modelLoc, builder.getNoneType());

  for (const auto &init : graph.initializer()) {
    if (init.name().empty())
      return error() << "an initializer has an empty name", nullptr;
    if (values.count(init.name()))
      return error() << "initializer '" << init.name() << "' is defined twice",
             nullptr;
    FailureOr<Value> value =
        importTensor(init, init.name(), "initializer '" + init.name() + "'");
    if (failed(value))
      return nullptr;
    values[init.name()] = *value;
  }
  for (auto [index, node] : llvm::enumerate(graph.node()))
    if (failed(importNode(node, index)))
      return nullptr;

  SmallVector<Value> results;
  for (const auto &output : graph.output()) {
    auto it = values.find(output.name());
    if (it == values.end())
      return error() << "graph output '" << output.name()
                     << "' is not produced by the graph",
             nullptr;
    results.push_back(it->second);
  }
  if (results.empty())
    return error() << "the graph has no outputs", nullptr;
  func::ReturnOp::create(builder, modelLoc, results);
  func.setFunctionType(
      builder.getFunctionType(inputTypes, ValueRange(results).getTypes()));
  for (auto [i, output] : llvm::enumerate(graph.output()))
    func.setResultAttr(i, "moe.name", builder.getStringAttr(output.name()));
  if (none.use_empty())
    none.getDefiningOp()->erase();
  return module;
}

static OwningOpRef<ModuleOp> importParsed(MLIRContext *context,
                                          const ::onnx::ModelProto &model,
                                          llvm::StringRef modelPath,
                                          const OnnxImportOptions &options) {
  GraphImporter importer(context, modelPath, options);
  return importer.import(model);
}

OwningOpRef<ModuleOp>
moec::importOnnxModelFromBytes(MLIRContext *context, llvm::StringRef bytes,
                               llvm::StringRef modelPath,
                               const OnnxImportOptions &options) {
  ::onnx::ModelProto model;
  google::protobuf::io::CodedInputStream stream(
      reinterpret_cast<const uint8_t *>(bytes.data()),
      static_cast<int>(std::min<size_t>(bytes.size(), INT32_MAX)));
  stream.SetRecursionLimit(100);
  if (bytes.size() > INT32_MAX || !model.ParseFromCodedStream(&stream) ||
      !stream.ConsumedEntireMessage())
    return emitError(FileLineColLoc::get(context, modelPath, 0, 0))
               << "not a valid ONNX model: the protobuf cannot be parsed",
           nullptr;
  return importParsed(context, model, modelPath, options);
}

OwningOpRef<ModuleOp> moec::importOnnxModel(MLIRContext *context,
                                            llvm::StringRef path,
                                            const OnnxImportOptions &options) {
  // Regular files only: reading a FIFO or a device would block or not end.
  llvm::sys::fs::file_status status;
  if (!llvm::sys::fs::status(path, status) &&
      status.type() != llvm::sys::fs::file_type::regular_file)
    return emitError(FileLineColLoc::get(context, path, 0, 0))
               << "cannot read model: not a regular file",
           nullptr;
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return emitError(FileLineColLoc::get(context, path, 0, 0))
               << "cannot read model: " << buffer.getError().message(),
           nullptr;
  return importOnnxModelFromBytes(context, (*buffer)->getBuffer(), path,
                                  options);
}

std::string
moec::parseInputShape(llvm::StringRef text,
                      llvm::StringMap<llvm::SmallVector<int64_t>> &shapes) {
  auto [name, dims] = text.split('=');
  if (name.empty() || !text.contains('='))
    return "expected NAME=D0,D1,... but got '" + text.str() + "'";
  llvm::SmallVector<int64_t> shape;
  llvm::SmallVector<llvm::StringRef> parts;
  if (!dims.empty())
    dims.split(parts, ',');
  for (llvm::StringRef part : parts) {
    int64_t dim;
    if (part.trim().getAsInteger(10, dim) || dim < 0)
      return "dimension '" + part.str() + "' of input '" + name.str() +
             "' is not a non-negative integer";
    shape.push_back(dim);
  }
  if (!shapes.try_emplace(name, shape).second)
    return "input '" + name.str() + "' is given two shapes";
  return "";
}
