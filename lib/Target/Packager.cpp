//===- Packager.cpp - Manifest and weights for every target's binary ------===//

#include "moec/Target/Packager.h"

#include "dialects/moe/IR/MoeDialect.h"
#include "dialects/moe/IR/WeightFiles.h"
#include "moec/Runtime/BinaryAbi.h"
#include "moec/Support/WeightStore.h"
#include "runtime/formats/Checksum.h"
#include "runtime/formats/Json.h"
#include "runtime/formats/MappedFile.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

using namespace mlir;
using namespace moec;

namespace {
struct LinkedWeight {
  std::string key;
  rt::DType dtype;
  std::vector<int64_t> shape;
  uint64_t size = 0;
  double routedFraction = 1.0;
  int64_t embeddedOffset = -1;
};
} // namespace

static void appendTensor(std::string &json, StringRef name, rt::DType dtype,
                         ArrayRef<int64_t> shape) {
  json += "{\"name\": ";
  rt::json::appendQuoted(json, name.str());
  json += ", \"dtype\": ";
  rt::json::appendQuoted(json, std::string(rt::dtypeName(dtype)));
  json += ", \"shape\": [";
  for (auto [i, dim] : llvm::enumerate(shape))
    json +=
        (i ? ", " : "") + std::to_string(ShapedType::isDynamic(dim) ? -1 : dim);
  json += "]";
}

/// The module attribute holding the default context (positions of the
/// state's dynamic first dimension), which the binary's --ctx-size changes.
static constexpr llvm::StringLiteral kContextAttr = "moec.context";
/// The module attribute naming files to embed ({name = "path"}).
static constexpr llvm::StringLiteral kTextFilesAttr = "moec.text_files";

namespace {
/// The model's persistent state, collected from the entries' inputs and
/// outputs marked `state`: one static type per name.
struct StateTable {
  llvm::MapVector<StringAttr, RankedTensorType> types;

  /// A state may have a dynamic first dimension, the context (a KV cache's
  /// positions), when the module gives its default in moec.context.
  LogicalResult note(ModuleOp module, StringAttr name, RankedTensorType type) {
    bool contextSized =
        type.getRank() > 0 && type.isDynamicDim(0) &&
        llvm::count_if(type.getShape(), ShapedType::isDynamic) == 1;
    if (!type.hasStaticShape() &&
        !(contextSized && module->hasAttr(kContextAttr)))
      return module.emitError("state '")
             << name.getValue() << "' has a dynamic shape " << type
             << "; state must have a static shape, or a dynamic first "
                "dimension (the context) in a module with '"
             << kContextAttr << "'";
    auto [it, inserted] = types.insert({name, type});
    if (!inserted && it->second != type)
      return module.emitError("state '")
             << name.getValue() << "' is " << it->second << " in one place and "
             << type << " in another";
    return success();
  }
};
} // namespace

/// Appends an entry's inputs or outputs and notes its state.
static LogicalResult appendValues(std::string &json, ModuleOp module,
                                  ArrayAttr values, StateTable &state) {
  for (auto [i, value] : llvm::enumerate(values)) {
    auto dict = cast<DictionaryAttr>(value);
    auto type =
        cast<RankedTensorType>(cast<TypeAttr>(dict.get("type")).getValue());
    std::optional<rt::DType> dtype = moe::getDType(type.getElementType());
    if (!dtype)
      return module.emitError("the binary cannot pass ")
             << type.getElementType() << " tensors in or out";
    json += i ? ",\n   " : "\n   ";
    appendTensor(json, cast<StringAttr>(dict.get("name")).getValue(), *dtype,
                 type.getShape());
    if (auto name = dict.getAs<StringAttr>("state")) {
      if (failed(state.note(module, name, type)))
        return failure();
      json += ", \"state\": ";
      rt::json::appendQuoted(json, name.str());
    }
    json += "}";
  }
  return success();
}

/// Appends the records of `moec.entries`.
static LogicalResult appendEntries(std::string &json, ModuleOp module,
                                   size_t numWeights, StateTable &state) {
  auto entries = module->getAttrOfType<ArrayAttr>("moec.entries");
  if (!entries || entries.empty())
    return module.emitError("the lowered module lacks moec.entries");
  for (auto [i, value] : llvm::enumerate(entries)) {
    auto entry = cast<DictionaryAttr>(value);
    json += i ? ",\n  {\"name\": " : "\n  {\"name\": ";
    rt::json::appendQuoted(json, entry.getAs<StringAttr>("name").str());
    json += ", \"inputs\": [";
    if (failed(appendValues(json, module, entry.getAs<ArrayAttr>("inputs"),
                            state)))
      return failure();
    json += "],\n   \"outputs\": [";
    if (failed(appendValues(json, module, entry.getAs<ArrayAttr>("outputs"),
                            state)))
      return failure();
    json += "],\n   \"weights\": [";
    for (auto [j, index] : llvm::enumerate(
             entry.getAs<DenseI64ArrayAttr>("weights").asArrayRef())) {
      if (index < 0 || size_t(index) >= numWeights)
        return module.emitError("entry '")
               << entry.get("name") << "' names weight " << index << " of "
               << numWeights;
      json += (j ? ", " : "") + std::to_string(index);
    }
    json += "]}";
  }
  return success();
}

LogicalResult moec::packageModel(ModuleOp module, const TargetOptions &options,
                                 PackagedModel &result) {
  WeightStore &store = module.getContext()
                           ->getOrLoadDialect<moe::MoeDialect>()
                           ->getWeightStore();
  auto records = module->getAttrOfType<ArrayAttr>("moec.weights");
  if (!records)
    return module.emitError("the lowered module lacks moec.weights");

  // Place each weight: embedded blob or weights file.
  std::vector<LinkedWeight> weights;
  std::string &blob = result.embedded;
  std::vector<rt::TensorToWrite> &fileTensors = result.fileTensors;
  uint64_t &checksum = result.checksum;
  for (Attribute record : records) {
    auto dict = cast<DictionaryAttr>(record);
    LinkedWeight weight;
    weight.key = cast<StringAttr>(dict.get("key")).getValue().str();
    // In pieces: a stack of experts is copied part by part, never joined.
    llvm::Expected<WeightPieces> view = store.lookupPieces(weight.key);
    if (!view)
      return module.emitError("weight '")
             << weight.key << "': " << llvm::toString(view.takeError());
    weight.dtype = view->dtype;
    weight.shape.assign(view->shape.begin(), view->shape.end());
    weight.size = view->size;
    if (auto fraction = dict.getAs<FloatAttr>("routed_fraction"))
      weight.routedFraction = fraction.getValueAsDouble();
    if (weight.size < options.embedMaxBytes) {
      blob.resize((blob.size() + 63) / 64 * 64, '\0');
      weight.embeddedOffset = int64_t(blob.size());
      for (const WeightView &piece : view->pieces)
        blob.append(piece.bytes.begin(), piece.bytes.end());
    } else {
      // Pieces mapped from files (a checkpoint, a weights file) are hashed
      // and later written a piece at a time, their pages dropped after
      // each, so that packaging a model never holds it all in memory.
      rt::TensorToWrite tensor{weight.key, weight.dtype, weight.shape, nullptr,
                               size_t(weight.size)};
      tensor.releasePieces = true;
      rt::ChecksumStream hash;
      for (const WeightView &piece : view->pieces) {
        tensor.pieces.push_back({piece.bytes.data(), piece.bytes.size()});
        tensor.releasePieces &= !piece.file.empty();
        hash.update(piece.bytes.data(), piece.bytes.size());
        if (!piece.file.empty())
          rt::releaseMappedPages(piece.bytes.data(), piece.bytes.size());
      }
      checksum = rt::foldChecksum(checksum, hash.finish());
      fileTensors.push_back(std::move(tensor));
    }
    weights.push_back(std::move(weight));
  }

  // The checkpoint's text files (tokenizer.json, ...), embedded whole.
  std::string filesJson;
  if (auto files = module->getAttrOfType<DictionaryAttr>(kTextFilesAttr)) {
    for (NamedAttribute file : files) {
      StringRef path = cast<StringAttr>(file.getValue()).getValue();
      auto buffer = llvm::MemoryBuffer::getFile(path);
      if (!buffer)
        return module.emitError("cannot read '")
               << path << "': " << buffer.getError().message();
      blob.resize((blob.size() + 63) / 64 * 64, '\0');
      filesJson += filesJson.empty() ? "\n  {\"name\": " : ",\n  {\"name\": ";
      rt::json::appendQuoted(filesJson, file.getName().str());
      filesJson +=
          ", \"bytes\": " + std::to_string((*buffer)->getBufferSize()) +
          ", \"embedded_offset\": " + std::to_string(blob.size()) + "}";
      blob += (*buffer)->getBuffer();
    }
  }

  result.weightsFileName = llvm::sys::path::filename(options.outputPath).str() +
                           ".weights.safetensors";
  const std::string &weightsFile = result.weightsFileName;

  // The manifest.
  std::string &json = result.manifest;
  json = "{\"format\": " + std::to_string(MOEC_ABI_MANIFEST_FORMAT) +
         ", \"model\": ";
  rt::json::appendQuoted(json, options.modelName);
  json += ", \"max_tokens\": " + std::to_string(options.maxTokens);
  if (auto context = module->getAttrOfType<IntegerAttr>(kContextAttr)) {
    if (context.getInt() < 1)
      return module.emitError("'") << kContextAttr << "' must be positive";
    json += ", \"context\": " + std::to_string(context.getInt());
  }
  if (auto layers = module->getAttrOfType<IntegerAttr>("moec.profiled_layers"))
    json += ", \"profiled_layers\": " + std::to_string(layers.getInt());
  StateTable state;
  json += ",\n \"entries\": [";
  if (failed(appendEntries(json, module, weights.size(), state)))
    return failure();
  json += "],\n \"state\": [";
  for (auto [i, named] : llvm::enumerate(state.types)) {
    json += i ? ",\n  " : "\n  ";
    appendTensor(json, named.first.getValue(),
                 *moe::getDType(named.second.getElementType()),
                 named.second.getShape());
    json += "}";
  }
  json += "],\n \"weights\": [";
  for (auto [i, w] : llvm::enumerate(weights)) {
    json += i ? ",\n  " : "\n  ";
    appendTensor(json, w.key, w.dtype, w.shape);
    json += ", \"bytes\": " + std::to_string(w.size);
    if (w.embeddedOffset >= 0)
      json += ", \"embedded_offset\": " + std::to_string(w.embeddedOffset);
    if (w.routedFraction != 1.0) {
      char fraction[32];
      std::snprintf(fraction, sizeof fraction, "%.17g", w.routedFraction);
      json += ", \"routed_fraction\": " + std::string(fraction);
    }
    json += "}";
  }
  json += "],\n \"files\": [" + filesJson + "],\n \"weights_file\": ";
  rt::json::appendQuoted(json, fileTensors.empty() ? "" : weightsFile);
  json += ", \"weights_checksum\": ";
  rt::json::appendQuoted(json, rt::checksumToHex(checksum));
  json += "}\n";

  return success();
}

LogicalResult moec::writeWeightsFile(ModuleOp module,
                                     const TargetOptions &options,
                                     const PackagedModel &package) {
  if (package.fileTensors.empty())
    return success();
  llvm::SmallString<256> path(llvm::sys::path::parent_path(options.outputPath));
  llvm::sys::path::append(path, package.weightsFileName);
  std::string error;
  if (!rt::writeSafeTensors(
          path.str().str(), package.fileTensors,
          {{"moec.checksum", rt::checksumToHex(package.checksum)}}, error))
    return module.emitError("cannot write the weights file: ") << error;
  return success();
}
