//===- Link.cpp - Weights, manifest, runtime: the standalone binary -------===//
//
// Weights never become LLVM constants. Those under the embed threshold are
// laid out 64-byte aligned in one blob that an assembler `.incbin` places
// in a read-only section; the rest go to OUT.weights.safetensors beside the
// executable, which the runtime maps and checks against the checksum the
// manifest records. The manifest (JSON, also `.incbin`) tells the runtime
// the model's inputs, outputs and weights. clang drives lld to link the
// object, the blobs and the runtime archive.
//
//===----------------------------------------------------------------------===//

#include "targets/cpu/CpuTarget.h"

#include "dialects/moe/IR/MoeDialect.h"
#include "dialects/moe/IR/WeightFiles.h"
#include "moec/Support/WeightStore.h"
#include "runtime/Checksum.h"
#include "runtime/Json.h"
#include "runtime/SafeTensors.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace moec;

namespace {
struct LinkedWeight {
  std::string key;
  rt::DType dtype;
  std::vector<int64_t> shape;
  llvm::ArrayRef<uint8_t> bytes;
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

/// Appends the entries of `moec.inputs` / `moec.outputs`.
static LogicalResult appendValues(std::string &json, ModuleOp module,
                                  StringRef attrName) {
  auto values = module->getAttrOfType<ArrayAttr>(attrName);
  if (!values)
    return module.emitError("the lowered module lacks ") << attrName;
  for (auto [i, value] : llvm::enumerate(values)) {
    auto dict = cast<DictionaryAttr>(value);
    auto type =
        cast<RankedTensorType>(cast<TypeAttr>(dict.get("type")).getValue());
    std::optional<rt::DType> dtype = moe::getDType(type.getElementType());
    if (!dtype)
      return module.emitError("the CPU binary cannot pass ")
             << type.getElementType() << " tensors in or out";
    json += i ? ", " : "";
    appendTensor(json, cast<StringAttr>(dict.get("name")).getValue(), *dtype,
                 type.getShape());
    json += "}";
  }
  return success();
}

static LogicalResult writeFile(ModuleOp module, StringRef path,
                               StringRef contents) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (!ec) {
    os << contents;
    os.close();
    if (!os.has_error())
      return success();
    ec = os.error();
    os.clear_error();
  }
  return module.emitError("cannot write '") << path << "': " << ec.message();
}

/// The directory holding the moec executable, to find an installed runtime.
static std::string toolDirectory() {
  static int anchor;
  std::string exe = llvm::sys::fs::getMainExecutable(nullptr, &anchor);
  return llvm::sys::path::parent_path(exe).str();
}

static std::string findRuntimeLibrary() {
  llvm::SmallString<256> installed(toolDirectory());
  llvm::sys::path::append(installed, "..", "lib", "libMoecBinaryRuntime.a");
  if (llvm::sys::fs::exists(installed))
    return installed.str().str();
  return MOEC_BINARY_RUNTIME_LIBRARY;
}

LogicalResult cpu::linkExecutable(ModuleOp module,
                                  const SerializedModule &serialized,
                                  const TargetOptions &options) {
  WeightStore &store = module.getContext()
                           ->getOrLoadDialect<moe::MoeDialect>()
                           ->getWeightStore();
  auto records = module->getAttrOfType<ArrayAttr>("moec.weights");
  if (!records)
    return module.emitError("the lowered module lacks moec.weights");

  // Place each weight: embedded blob or weights file.
  std::vector<LinkedWeight> weights;
  std::string blob;
  std::vector<rt::TensorToWrite> fileTensors;
  uint64_t checksum = 0;
  for (Attribute record : records) {
    auto dict = cast<DictionaryAttr>(record);
    LinkedWeight weight;
    weight.key = cast<StringAttr>(dict.get("key")).getValue().str();
    llvm::Expected<WeightView> view = store.lookup(weight.key);
    if (!view)
      return module.emitError("weight '")
             << weight.key << "': " << llvm::toString(view.takeError());
    weight.dtype = view->dtype;
    weight.shape.assign(view->shape.begin(), view->shape.end());
    weight.bytes = view->bytes;
    if (auto fraction = dict.getAs<FloatAttr>("routed_fraction"))
      weight.routedFraction = fraction.getValueAsDouble();
    if (weight.bytes.size() < options.embedMaxBytes) {
      blob.resize((blob.size() + 63) / 64 * 64, '\0');
      weight.embeddedOffset = int64_t(blob.size());
      blob.append(weight.bytes.begin(), weight.bytes.end());
    } else {
      fileTensors.push_back({weight.key, weight.dtype, weight.shape,
                             weight.bytes.data(), weight.bytes.size()});
      checksum =
          rt::foldChecksum(checksum, rt::checksumBytes(weight.bytes.data(),
                                                       weight.bytes.size()));
    }
    weights.push_back(std::move(weight));
  }

  std::string output = options.outputPath;
  // The executable is renamed into place: never over a device, a FIFO or a
  // directory (as root, /dev/full would be replaced).
  llvm::sys::fs::file_status existing;
  if (!llvm::sys::fs::status(output, existing) &&
      existing.type() != llvm::sys::fs::file_type::regular_file &&
      existing.type() != llvm::sys::fs::file_type::file_not_found) {
    llvm::errs() << "moec: error: cannot write '" << output
                 << "': not a regular file\n";
    return failure();
  }
  std::string weightsFile =
      llvm::sys::path::filename(output).str() + ".weights.safetensors";

  // The manifest.
  std::string json = "{\"format\": 1, \"model\": ";
  rt::json::appendQuoted(json, options.modelName);
  json += ", \"max_tokens\": " + std::to_string(options.maxTokens);
  if (auto layers = module->getAttrOfType<IntegerAttr>("moec.profiled_layers"))
    json += ", \"profiled_layers\": " + std::to_string(layers.getInt());
  json += ",\n \"inputs\": [";
  if (failed(appendValues(json, module, "moec.inputs")))
    return failure();
  json += "],\n \"outputs\": [";
  if (failed(appendValues(json, module, "moec.outputs")))
    return failure();
  json += "],\n \"weights\": [";
  for (auto [i, w] : llvm::enumerate(weights)) {
    json += i ? ",\n  " : "\n  ";
    appendTensor(json, w.key, w.dtype, w.shape);
    json += ", \"bytes\": " + std::to_string(w.bytes.size());
    if (w.embeddedOffset >= 0)
      json += ", \"embedded_offset\": " + std::to_string(w.embeddedOffset);
    if (w.routedFraction != 1.0)
      json += ", \"routed_fraction\": " + std::to_string(w.routedFraction);
    json += "}";
  }
  json += "],\n \"weights_file\": ";
  rt::json::appendQuoted(json, fileTensors.empty() ? "" : weightsFile);
  json += ", \"weights_checksum\": ";
  rt::json::appendQuoted(json, rt::checksumToHex(checksum));
  json += "}\n";

  // Scratch files for the link.
  llvm::SmallString<128> scratch;
  if (std::error_code ec =
          llvm::sys::fs::createUniqueDirectory("moec-link", scratch))
    return module.emitError("cannot create a temporary directory: ")
           << ec.message();
  llvm::scope_exit cleanup([&] { llvm::sys::fs::remove_directories(scratch); });
  auto scratchPath = [&](StringRef name) {
    llvm::SmallString<128> path(scratch);
    llvm::sys::path::append(path, name);
    return path.str().str();
  };
  std::string objectPath = scratchPath("model.o");
  std::string manifestPath = scratchPath("manifest.json");
  std::string blobPath = scratchPath("weights.bin");
  std::string assemblyPath = scratchPath("data.s");
  std::string logPath = scratchPath("link.log");
  std::string assembly =
      "  .section .rodata." MOEC_ABI_MANIFEST ",\"a\",@progbits\n"
      "  .globl " MOEC_ABI_MANIFEST "_begin\n" MOEC_ABI_MANIFEST "_begin:\n"
      "  .incbin \"" +
      manifestPath +
      "\"\n"
      "  .globl " MOEC_ABI_MANIFEST "_end\n" MOEC_ABI_MANIFEST "_end:\n"
      "  .byte 0\n"
      "  .section .rodata." MOEC_ABI_WEIGHTS ",\"a\",@progbits\n"
      "  .p2align 6\n"
      "  .globl " MOEC_ABI_WEIGHTS "_begin\n" MOEC_ABI_WEIGHTS "_begin:\n"
      "  .incbin \"" +
      blobPath +
      "\"\n"
      "  .globl " MOEC_ABI_WEIGHTS "_end\n" MOEC_ABI_WEIGHTS "_end:\n"
      "  .byte 0\n"
      "  .section .note.GNU-stack,\"\",@progbits\n";
  if (failed(writeFile(module, objectPath, serialized.object)) ||
      failed(writeFile(module, manifestPath, json)) ||
      failed(writeFile(module, blobPath, blob)) ||
      failed(writeFile(module, assemblyPath, assembly)))
    return failure();

  // The weights file first: the binary is useless without it.
  llvm::SmallString<256> weightsPath(llvm::sys::path::parent_path(output));
  llvm::sys::path::append(weightsPath, weightsFile);
  if (!fileTensors.empty()) {
    std::string error;
    if (!rt::writeSafeTensors(weightsPath.str().str(), fileTensors,
                              {{"moec.checksum", rt::checksumToHex(checksum)}},
                              error))
      return module.emitError("cannot write the weights file: ") << error;
  }

  std::string linked = output + ".moec-tmp";
  std::string runtime = findRuntimeLibrary();
  std::vector<std::string> args = {
      MOEC_CLANGXX,     "-fuse-ld=lld", "-o",       linked,
      objectPath,       assemblyPath,   runtime,    "-static-libstdc++",
      "-static-libgcc", "-lm",          "-pthread", "-Wl,--gc-sections"};
  std::vector<StringRef> argRefs(args.begin(), args.end());
  std::optional<StringRef> redirects[] = {std::nullopt, StringRef(logPath),
                                          StringRef(logPath)};
  std::string execError;
  int status = llvm::sys::ExecuteAndWait(MOEC_CLANGXX, argRefs, std::nullopt,
                                         redirects, 0, 0, &execError);
  if (status != 0) {
    llvm::sys::fs::remove(linked);
    std::string log;
    if (auto buffer = llvm::MemoryBuffer::getFile(logPath))
      log = (*buffer)->getBuffer().str();
    return module.emitError("linking failed (")
           << (execError.empty() ? "exit " + std::to_string(status) : execError)
           << ") running " << MOEC_CLANGXX << ":\n"
           << log;
  }
  if (std::error_code ec = llvm::sys::fs::rename(linked, output)) {
    llvm::sys::fs::remove(linked);
    return module.emitError("cannot write '")
           << output << "': " << ec.message();
  }
  return success();
}
