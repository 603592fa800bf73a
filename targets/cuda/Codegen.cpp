//===- Codegen.cpp - The host object of a CUDA binary ---------------------===//
//
// The lowered module is host code in the LLVM dialect with the kernels'
// fatbin in its gpu.binary ops (embedded by the translation, loaded through
// the runtime's mgpuModuleLoad). Each entry the runtime calls is wrapped:
// moec_cuda_call receives a table of the entry's arguments (rank, element
// size, role) and moves them between host and device around the call.
//
//===----------------------------------------------------------------------===//

#include "targets/cuda/CudaTarget.h"

#include "moec/Runtime/BinaryAbi.h"
#include "moec/Target/EntryTable.h"
#include "moec/Target/HostExecutable.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

#include <mutex>

using namespace mlir;
using namespace moec;

static int64_t elementBytes(Type type) {
  auto tensor = cast<RankedTensorType>(type);
  return (tensor.getElementType().getIntOrFloatBitWidth() + 7) / 8;
}

static int64_t rankOf(Type type) {
  return cast<RankedTensorType>(type).getRank();
}

/// The argument table moec_cuda_call reads (host/CudaRuntime.cpp):
/// outputs, inputs, weights; then per output {rank, element bytes, the
/// input it is the new state of or -1}, per input {rank, element bytes,
/// 1 for state}, per weight {rank, element bytes}.
static std::vector<int64_t> argumentTable(DictionaryAttr entry,
                                          ArrayAttr weights) {
  auto outputs = entry.getAs<ArrayAttr>("outputs");
  auto inputs = entry.getAs<ArrayAttr>("inputs");
  auto used = entry.getAs<DenseI64ArrayAttr>("weights");
  std::vector<int64_t> table = {int64_t(outputs.size()), int64_t(inputs.size()),
                                int64_t(used.size())};
  auto typeOf = [](Attribute record) {
    return cast<DictionaryAttr>(record).getAs<TypeAttr>("type").getValue();
  };
  auto stateOf = [](Attribute record) {
    return cast<DictionaryAttr>(record).getAs<StringAttr>("state");
  };
  for (Attribute output : outputs) {
    int64_t stateInput = -1;
    if (StringAttr state = stateOf(output))
      for (auto [i, input] : llvm::enumerate(inputs))
        if (stateOf(input) == state)
          stateInput = int64_t(i);
    table.insert(table.end(), {rankOf(typeOf(output)),
                               elementBytes(typeOf(output)), stateInput});
  }
  for (Attribute input : inputs)
    table.insert(table.end(),
                 {rankOf(typeOf(input)), elementBytes(typeOf(input)),
                  int64_t(bool(stateOf(input)))});
  for (int64_t weight : used.asArrayRef())
    table.insert(table.end(), {rankOf(typeOf(weights[weight])),
                               elementBytes(typeOf(weights[weight]))});
  return table;
}

/// moec_cuda_entry_N(args): moec_cuda_call(table, args, packed entry N).
static llvm::Function *defineCudaEntry(llvm::Module &module, int64_t index,
                                       ArrayRef<int64_t> table,
                                       std::string &error) {
  llvm::Function *packed = definePackedEntry(module, index, error);
  if (!packed)
    return nullptr;
  llvm::LLVMContext &ctx = module.getContext();
  llvm::Type *ptr = llvm::PointerType::get(ctx, 0);
  llvm::Type *voidTy = llvm::Type::getVoidTy(ctx);
  auto *tableType =
      llvm::ArrayType::get(llvm::Type::getInt64Ty(ctx), table.size());
  std::vector<llvm::Constant *> words;
  for (int64_t word : table)
    words.push_back(llvm::ConstantInt::get(llvm::Type::getInt64Ty(ctx), word));
  auto *tableGlobal =
      new llvm::GlobalVariable(module, tableType, /*isConstant=*/true,
                               llvm::GlobalValue::InternalLinkage,
                               llvm::ConstantArray::get(tableType, words),
                               "moec_cuda_arguments_" + std::to_string(index));
  llvm::FunctionCallee call = module.getOrInsertFunction(
      "moec_cuda_call",
      llvm::FunctionType::get(voidTy, {ptr, ptr, ptr}, false));
  auto *entry = llvm::Function::Create(
      llvm::FunctionType::get(voidTy, {ptr}, false),
      llvm::GlobalValue::InternalLinkage,
      "moec_cuda_entry_" + std::to_string(index), module);
  llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", entry));
  b.CreateCall(call, {tableGlobal, entry->getArg(0), packed});
  b.CreateRetVoid();
  return entry;
}

/// The host's target machine: generic x86-64, since the binary runs on the
/// GPU's machine, not on the one that compiled it.
static std::unique_ptr<llvm::TargetMachine>
createHostMachine(const TargetOptions &options, std::string &error) {
  static std::once_flag initialized;
  std::call_once(initialized, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
  llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return nullptr;
  static const llvm::CodeGenOptLevel levels[] = {
      llvm::CodeGenOptLevel::None, llvm::CodeGenOptLevel::Less,
      llvm::CodeGenOptLevel::Default, llvm::CodeGenOptLevel::Aggressive};
  llvm::TargetOptions targetOptions;
  targetOptions.UseInitArray = true; // the kernels' module-load constructor
  return std::unique_ptr<llvm::TargetMachine>(target->createTargetMachine(
      triple, "x86-64", "", targetOptions, llvm::Reloc::PIC_, std::nullopt,
      levels[std::min(options.optLevel, 3u)]));
}

/// `text` as LLVM IR comment lines, so that --emit=llvm stays parseable.
static std::string commented(StringRef text) {
  std::string lines;
  llvm::SmallVector<StringRef> split;
  text.split(split, '\n');
  for (StringRef line : split)
    lines += ("; " + line + "\n").str();
  return lines;
}

LogicalResult cuda::serializeHost(ModuleOp module, const TargetOptions &options,
                                  SerializedModule &result) {
  auto entries = module->getAttrOfType<ArrayAttr>("moec.entries");
  auto weights = module->getAttrOfType<ArrayAttr>("moec.weights");
  if (!entries || !weights)
    return module.emitError("the lowered module lacks moec.entries");
  std::string ptx;
  for (auto binary : module.getOps<gpu::BinaryOp>())
    if (auto sources = binary->getAttrOfType<ArrayAttr>("moec.ptx"))
      for (Attribute source : sources)
        ptx += "; kernel module " + binary.getSymName().str() + "\n" +
               commented(cast<StringAttr>(source).getValue());
  // The PTX has done its work once it is in the fatbin.
  for (auto binary : module.getOps<gpu::BinaryOp>())
    binary->removeAttr("moec.ptx");

  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, llvmContext, "moec_model");
  if (!llvmModule)
    return module.emitError("cannot translate the lowered module to LLVM IR");
  std::string error;
  std::unique_ptr<llvm::TargetMachine> machine =
      createHostMachine(options, error);
  if (!machine)
    return module.emitError("no LLVM target for the host: ") << error;
  llvmModule->setDataLayout(machine->createDataLayout());
  llvmModule->setTargetTriple(machine->getTargetTriple());

  std::vector<llvm::Function *> wrappers;
  for (auto [index, record] : llvm::enumerate(entries)) {
    llvm::Function *wrapper = defineCudaEntry(
        *llvmModule, int64_t(index),
        argumentTable(cast<DictionaryAttr>(record), weights), error);
    if (!wrapper)
      return module.emitError(error);
    wrappers.push_back(wrapper);
  }
  defineEntryTable(*llvmModule, wrappers);
  for (llvm::Function &f : *llvmModule)
    if (!f.isDeclaration())
      f.setLinkage(llvm::GlobalValue::InternalLinkage);
  for (llvm::GlobalVariable &g : llvmModule->globals())
    if (!g.isDeclaration() && !g.hasAppendingLinkage() &&
        g.getName() != MOEC_ABI_ENTRIES && g.getName() != MOEC_ABI_ENTRY_COUNT)
      g.setLinkage(llvm::GlobalValue::InternalLinkage);

  optimizeModule(*llvmModule, *machine, options.optLevel ? 2 : 0);

  result.targetIR.clear();
  llvm::raw_string_ostream irStream(result.targetIR);
  llvmModule->print(irStream, nullptr);
  irStream << ptx;

  if (!emitObject(*llvmModule, *machine, result.object))
    return module.emitError("the LLVM target cannot emit object files");
  return success();
}
