//===- Codegen.cpp - LLVM IR and an object file for the CPU ---------------===//
//
// The LLVM-dialect module becomes LLVM IR with two additions the MLIR side
// cannot express: the entry wrapper the runtime calls with an array of
// memref descriptors, and, for every outlined parallel loop, a launcher
// that packs the loop's captured values into a context and hands a thunk to
// the runtime's thread pool.
//
//===----------------------------------------------------------------------===//

#include "targets/cpu/CpuOptions.h"
#include "targets/cpu/CpuTarget.h"

#include "targets/cpu/Passes.h"

#include "moec/Target/EntryTable.h"
#include "moec/Target/HostExecutable.h"

#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

#include <mutex>

using namespace mlir;
using namespace moec;

/// Host features in -mattr syntax.
static std::string hostFeatures() {
  std::string features;
  for (const auto &feature : llvm::sys::getHostCPUFeatures()) {
    if (!features.empty())
      features += ',';
    features += (feature.second ? "+" : "-") + feature.first().str();
  }
  return features;
}

/// The LLVM target machine for the host, or for the CPU and features that
/// --cpu and --mattr name; null with `error` set when they name no machine.
static std::unique_ptr<llvm::TargetMachine>
createTargetMachine(const TargetOptions &options, std::string &error) {
  static std::once_flag initialized;
  std::call_once(initialized, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    llvm::InitializeNativeTargetAsmParser(); // inline assembly (VNNI)
  });
  llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target) {
    error = "no LLVM target for " + triple.str() + ": " + error;
    return nullptr;
  }
  cpu::CpuOptions flags = cpu::getCpuOptions();
  std::string cpuName =
      flags.cpu.empty() ? llvm::sys::getHostCPUName().str() : flags.cpu;
  std::string features = flags.features;
  if (flags.cpu.empty() && features.empty())
    features = hostFeatures();
  static const llvm::CodeGenOptLevel levels[] = {
      llvm::CodeGenOptLevel::None, llvm::CodeGenOptLevel::Less,
      llvm::CodeGenOptLevel::Default, llvm::CodeGenOptLevel::Aggressive};
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      triple, cpuName, features, llvm::TargetOptions(), llvm::Reloc::PIC_,
      std::nullopt, levels[std::min(options.optLevel, 3u)]));
  if (!machine) {
    error = "cannot create an LLVM target machine for CPU '" + cpuName + "'";
    return nullptr;
  }
  if (!machine->getMCSubtargetInfo()->isCPUStringValid(cpuName)) {
    error = "unknown CPU '" + cpuName +
            "' (try x86-64, x86-64-v3, x86-64-v4, znver4 or native)";
    return nullptr;
  }
  return machine;
}

/// The value paired with the first feature set the target CPU has, in
/// order; 0 for none, or when the options name no valid CPU.
static int64_t
firstSupported(const TargetOptions &options,
               ArrayRef<std::pair<llvm::StringRef, int64_t>> choices) {
  std::string error;
  std::unique_ptr<llvm::TargetMachine> machine =
      createTargetMachine(options, error);
  if (!machine)
    return 0;
  const llvm::MCSubtargetInfo &subtarget = *machine->getMCSubtargetInfo();
  for (auto [features, value] : choices)
    if (subtarget.checkFeatures(features))
      return value;
  return 0;
}

int64_t cpu::getVectorLanes(const TargetOptions &options) {
  return firstSupported(options, {{"+avx512f,+fma", 16}, {"+avx2,+fma", 8}});
}

int64_t cpu::getInt8DotBytes(const TargetOptions &options) {
  return firstSupported(
      options, {{"+avx512f,+avx512bw,+avx512vnni", 64}, {"+avx2", 32}});
}

bool cpu::hasBf16DotProducts(const TargetOptions &options) {
  return firstSupported(options, {{"+avx512f,+avx512bw,+avx512bf16", 1}}) == 1;
}

/// Defines each moec_par_launch_N: pack the captured values, call
/// moec_parallel_for(count, cost, thunk, context); the thunk unpacks them
/// and runs moec_par_body_N(begin, end, captured...).
static bool defineParallelLaunchers(llvm::Module &module, std::string &error) {
  llvm::LLVMContext &ctx = module.getContext();
  llvm::Type *i64 = llvm::Type::getInt64Ty(ctx);
  llvm::Type *ptr = llvm::PointerType::get(ctx, 0);
  llvm::Type *voidTy = llvm::Type::getVoidTy(ctx);
  llvm::FunctionCallee parallelFor = module.getOrInsertFunction(
      cpu::kParallelFor,
      llvm::FunctionType::get(voidTy, {i64, i64, ptr, ptr}, false));
  std::vector<llvm::Function *> launchers;
  for (llvm::Function &f : module)
    if (f.isDeclaration() &&
        f.getName().starts_with(cpu::kParallelLaunchPrefix))
      launchers.push_back(&f);
  for (llvm::Function *launch : launchers) {
    llvm::StringRef id =
        launch->getName().drop_front(strlen(cpu::kParallelLaunchPrefix));
    llvm::Function *body =
        module.getFunction((cpu::kParallelBodyPrefix + id).str());
    if (!body || body->arg_size() != launch->arg_size()) {
      error = ("parallel loop " + id + " has no matching body").str();
      return false;
    }
    std::vector<llvm::Type *> fields;
    for (llvm::Argument &arg : llvm::drop_begin(launch->args(), 2))
      fields.push_back(arg.getType());
    llvm::StructType *context = llvm::StructType::get(ctx, fields);

    auto *thunk = llvm::Function::Create(
        llvm::FunctionType::get(voidTy, {ptr, i64, i64}, false),
        llvm::GlobalValue::InternalLinkage, ("moec_par_thunk_" + id).str(),
        module);
    {
      llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", thunk));
      std::vector<llvm::Value *> args = {thunk->getArg(1), thunk->getArg(2)};
      for (unsigned i = 0; i < fields.size(); ++i)
        args.push_back(b.CreateLoad(
            fields[i], b.CreateStructGEP(context, thunk->getArg(0), i)));
      b.CreateCall(body, args);
      b.CreateRetVoid();
    }
    launch->setLinkage(llvm::GlobalValue::InternalLinkage);
    llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", launch));
    llvm::Value *packed = b.CreateAlloca(context);
    for (unsigned i = 0; i < fields.size(); ++i)
      b.CreateStore(launch->getArg(i + 2),
                    b.CreateStructGEP(context, packed, i));
    b.CreateCall(parallelFor,
                 {launch->getArg(0), launch->getArg(1), thunk, packed});
    b.CreateRetVoid();
  }
  return true;
}

/// The ABI's table of entry points, one per record of `moec.entries`.
static bool defineEntries(llvm::Module &module, int64_t count,
                          std::string &error) {
  std::vector<llvm::Function *> wrappers;
  for (int64_t i = 0; i < count; ++i) {
    llvm::Function *wrapper = definePackedEntry(module, i, error);
    if (!wrapper)
      return false;
    wrappers.push_back(wrapper);
  }
  defineEntryTable(module, wrappers);
  return true;
}

LogicalResult cpu::serializeToObject(ModuleOp module,
                                     const TargetOptions &options,
                                     SerializedModule &result) {
  auto entries = module->getAttrOfType<ArrayAttr>("moec.entries");
  if (!entries)
    return module.emitError("the lowered module lacks moec.entries");
  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, llvmContext, "moec_model");
  if (!llvmModule)
    return module.emitError("cannot translate the lowered module to LLVM IR");

  std::string error;
  std::unique_ptr<llvm::TargetMachine> machine =
      createTargetMachine(options, error);
  if (!machine)
    return module.emitError(error);
  llvm::Triple triple = machine->getTargetTriple();
  llvmModule->setDataLayout(machine->createDataLayout());
  llvmModule->setTargetTriple(triple);

  if (!defineParallelLaunchers(*llvmModule, error) ||
      !defineEntries(*llvmModule, int64_t(entries.size()), error))
    return module.emitError(error);
  // Only the entry table is visible outside the object: everything else
  // may be inlined, specialised or dropped.
  for (llvm::Function &f : *llvmModule) {
    if (f.isDeclaration())
      continue;
    f.setLinkage(llvm::GlobalValue::InternalLinkage);
    // Inlining a part, called once, would undo cpu-split-model-function.
    if (f.getName().starts_with(cpu::kEntryPrefix) &&
        f.getName().contains(cpu::kPartInfix))
      f.addFnAttr(llvm::Attribute::NoInline);
    f.addFnAttr("target-cpu", machine->getTargetCPU());
    if (!machine->getTargetFeatureString().empty())
      f.addFnAttr("target-features", machine->getTargetFeatureString());
  }
  for (llvm::GlobalVariable &g : llvmModule->globals())
    if (!g.isDeclaration() && g.getName() != cpu::kEntryTable &&
        g.getName() != cpu::kEntryCount)
      g.setLinkage(llvm::GlobalValue::InternalLinkage);

  optimizeModule(*llvmModule, *machine, options.optLevel);

  result.targetIR.clear();
  llvm::raw_string_ostream irStream(result.targetIR);
  llvmModule->print(irStream, nullptr);

  if (!emitObject(*llvmModule, *machine, result.object))
    return module.emitError("the LLVM target cannot emit object files");
  return success();
}
