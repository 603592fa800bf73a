//===- OnnxImportFuzzer.cpp - Structure-aware fuzzing of the ONNX importer ===//
//
// libFuzzer target for the importer and convert-onnx-to-linalg. Inputs are
// serialized ModelProtos; the custom mutator parses one, changes a field
// somewhere in the message tree (an op type, a dimension, an attribute, an
// input name, raw bytes, a repeated field's length) through protobuf
// reflection, and serializes it again, so that most inputs get past the
// protobuf parser and exercise the importer and the lowerings. Every input
// must either import or fail with a diagnostic; a crash, sanitizer report or
// verifier failure after a successful lowering is a bug.
//
// Replay a corpus:  moec-onnx-import-fuzzer CORPUS_DIR -runs=0
//
//===----------------------------------------------------------------------===//

#include "dialects/moe/IR/MoeOps.h"
#include "dialects/onnx/IR/OnnxOps.h"
#include "moec/Frontend/OnnxImporter.h"
#include "passes/Conversion/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

extern "C" size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t maxSize);

namespace {

/// Strings worth trying in string fields: op types the importer knows and
/// some it does not, domains, attribute names, and hostile locations.
const char *const kStrings[] = {"",
                                "Add",
                                "MatMul",
                                "Gemm",
                                "TopK",
                                "Gather",
                                "GatherND",
                                "ScatterND",
                                "Reshape",
                                "Slice",
                                "Softmax",
                                "Concat",
                                "Split",
                                "Squeeze",
                                "Unsqueeze",
                                "Expand",
                                "Shape",
                                "Range",
                                "OneHot",
                                "NonZero",
                                "CumSum",
                                "Cast",
                                "Constant",
                                "ConstantOfShape",
                                "LayerNormalization",
                                "DequantizeLinear",
                                "QuantizeLinear",
                                "MatMulNBits",
                                "SkipSimplifiedLayerNormalization",
                                "Conv",
                                "com.microsoft",
                                "ai.onnx",
                                "axis",
                                "axes",
                                "perm",
                                "to",
                                "value",
                                "k",
                                "block_size",
                                "location",
                                "offset",
                                "length",
                                "../x",
                                "/etc/passwd",
                                "x",
                                "y",
                                "w"};

/// A small valid model to start from when an input does not parse.
::onnx::ModelProto seedModel() {
  ::onnx::ModelProto model;
  model.set_ir_version(8);
  auto *opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(17);
  auto *graph = model.mutable_graph();
  auto addValue = [](::onnx::ValueInfoProto *value, const char *name) {
    value->set_name(name);
    auto *tensor = value->mutable_type()->mutable_tensor_type();
    tensor->set_elem_type(1);
    tensor->mutable_shape()->add_dim()->set_dim_param("t");
    tensor->mutable_shape()->add_dim()->set_dim_value(4);
  };
  addValue(graph->add_input(), "x");
  addValue(graph->add_output(), "y");
  auto *w = graph->add_initializer();
  w->set_name("w");
  w->set_data_type(1);
  w->add_dims(4);
  w->add_dims(4);
  w->set_raw_data(std::string(64, '\0'));
  auto *node = graph->add_node();
  node->set_op_type("MatMul");
  node->add_input("x");
  node->add_input("w");
  node->add_output("y");
  return model;
}

/// Every message in the tree rooted at `message`, itself included.
void collectMessages(Message *message, std::vector<Message *> &out) {
  out.push_back(message);
  const Reflection *reflection = message->GetReflection();
  std::vector<const FieldDescriptor *> fields;
  reflection->ListFields(*message, &fields);
  for (const FieldDescriptor *field : fields) {
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE)
      continue;
    if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(*message, field); ++i)
        collectMessages(reflection->MutableRepeatedMessage(message, field, i),
                        out);
    } else {
      collectMessages(reflection->MutableMessage(message, field), out);
    }
  }
}

int64_t interestingInt(std::mt19937_64 &rng) {
  static const int64_t values[] = {
      0,  1,  -1, 2,  3,  4,   7,       8,         13,        16,       17,
      21, 22, 32, -2, 64, 255, 1 << 20, INT32_MAX, INT64_MAX, INT64_MIN};
  if (rng() % 4 == 0)
    return static_cast<int64_t>(rng() % 1024) - 512;
  return values[rng() % std::size(values)];
}

/// Changes one field of `message`: sets a scalar, edits a string or bytes,
/// or adds, removes or duplicates an element of a repeated field.
void mutateField(Message *message, std::mt19937_64 &rng) {
  const Reflection *reflection = message->GetReflection();
  const auto *descriptor = message->GetDescriptor();
  if (descriptor->field_count() == 0)
    return;
  const FieldDescriptor *field =
      descriptor->field(rng() % descriptor->field_count());
  if (field->is_repeated()) {
    int size = reflection->FieldSize(*message, field);
    switch (rng() % 3) {
    case 0:
      if (size > 0)
        reflection->RemoveLast(message, field);
      return;
    case 1:
      if (size > 1)
        reflection->SwapElements(message, field, rng() % size, rng() % size);
      return;
    default:
      break;
    }
    switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      reflection->AddInt32(message, field, interestingInt(rng));
      return;
    case FieldDescriptor::CPPTYPE_INT64:
      reflection->AddInt64(message, field, interestingInt(rng));
      return;
    case FieldDescriptor::CPPTYPE_UINT64:
      reflection->AddUInt64(message, field, interestingInt(rng));
      return;
    case FieldDescriptor::CPPTYPE_FLOAT:
      reflection->AddFloat(message, field, interestingInt(rng) * 0.5f);
      return;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      reflection->AddDouble(message, field, interestingInt(rng) * 0.25);
      return;
    case FieldDescriptor::CPPTYPE_STRING:
      reflection->AddString(message, field,
                            kStrings[rng() % std::size(kStrings)]);
      return;
    case FieldDescriptor::CPPTYPE_MESSAGE:
      if (size > 0)
        reflection->AddMessage(message, field)
            ->CopyFrom(
                reflection->GetRepeatedMessage(*message, field, rng() % size));
      else
        reflection->AddMessage(message, field);
      return;
    default:
      return;
    }
  }
  switch (field->cpp_type()) {
  case FieldDescriptor::CPPTYPE_INT32:
    reflection->SetInt32(message, field, interestingInt(rng));
    return;
  case FieldDescriptor::CPPTYPE_INT64:
    reflection->SetInt64(message, field, interestingInt(rng));
    return;
  case FieldDescriptor::CPPTYPE_UINT64:
    reflection->SetUInt64(message, field, interestingInt(rng));
    return;
  case FieldDescriptor::CPPTYPE_FLOAT:
    reflection->SetFloat(message, field, interestingInt(rng) * 0.5f);
    return;
  case FieldDescriptor::CPPTYPE_DOUBLE:
    reflection->SetDouble(message, field, interestingInt(rng) * 0.25);
    return;
  case FieldDescriptor::CPPTYPE_ENUM: {
    const auto *values = field->enum_type();
    reflection->SetEnum(message, field,
                        values->value(rng() % values->value_count()));
    return;
  }
  case FieldDescriptor::CPPTYPE_STRING: {
    if (field->type() == FieldDescriptor::TYPE_BYTES) {
      // Raw tensor data: resize or flip bytes.
      std::string bytes = reflection->GetString(*message, field);
      if (rng() % 2 || bytes.empty())
        bytes.resize(rng() % 2 ? bytes.size() / 2 : bytes.size() + rng() % 64);
      else
        bytes[rng() % bytes.size()] ^= static_cast<char>(1 << (rng() % 8));
      reflection->SetString(message, field, bytes);
      return;
    }
    reflection->SetString(message, field,
                          kStrings[rng() % std::size(kStrings)]);
    return;
  }
  case FieldDescriptor::CPPTYPE_MESSAGE:
    if (reflection->HasField(*message, field) && rng() % 4 == 0)
      reflection->ClearField(message, field);
    else
      reflection->MutableMessage(message, field);
    return;
  default:
    return;
  }
}

} // namespace

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size,
                                          size_t maxSize, unsigned int seed) {
  std::mt19937_64 rng(seed);
  ::onnx::ModelProto model;
  if (!model.ParseFromArray(data, static_cast<int>(size)))
    model = seedModel();
  // Now and then a byte-level change, which the parser must also survive.
  if (rng() % 8 == 0)
    return LLVMFuzzerMutate(data, size, maxSize);
  for (int i = 0, n = 1 + rng() % 3; i < n; ++i) {
    // Collected anew each time: a mutation may delete submessages.
    std::vector<Message *> messages;
    collectMessages(&model, messages);
    mutateField(messages[rng() % messages.size()], rng);
  }
  std::string bytes = model.SerializeAsString();
  if (bytes.size() > maxSize)
    return size;
  std::copy(bytes.begin(), bytes.end(), data);
  return bytes.size();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // A fresh context per input: the weight store keeps what it loads.
  mlir::DialectRegistry registry;
  registry.insert<mlir::func::FuncDialect, moec::moe::MoeDialect,
                  moec::onnx::OnnxDialect>();
  mlir::MLIRContext context(registry);
  context.disableMultithreading();
  mlir::ScopedDiagnosticHandler quiet(
      &context, [](mlir::Diagnostic &) { return mlir::success(); });
  moec::OnnxImportOptions options;
  // External data resolves against a directory with nothing in it.
  mlir::OwningOpRef<mlir::ModuleOp> module = moec::importOnnxModelFromBytes(
      &context, llvm::StringRef(reinterpret_cast<const char *>(data), size),
      "/nonexistent-moec-fuzz-dir/model.onnx", options);
  if (!module)
    return 0;
  if (mlir::failed(mlir::verify(*module)))
    abort(); // The importer produced invalid IR.
  mlir::PassManager pm(&context);
  pm.enableVerifier(false);
  pm.addPass(moec::createMoeRaiseOnnxPatterns());
  pm.addPass(moec::createConvertOnnxToLinalg());
  if (mlir::succeeded(pm.run(*module)) && mlir::failed(mlir::verify(*module)))
    abort(); // A lowering produced invalid IR without reporting an error.
  return 0;
}
