//===- Codegen.cpp - LLVM IR and an object file for the CPU ---------------===//
//
// The LLVM-dialect module becomes LLVM IR with two additions the MLIR side
// cannot express: the entry wrapper the runtime calls with an array of
// memref descriptors, and, for every outlined parallel loop, a launcher
// that packs the loop's captured values into a context and hands a thunk to
// the runtime's thread pool.
//
//===----------------------------------------------------------------------===//

#include "targets/cpu/CpuMachine.h"
#include "targets/cpu/CpuOptions.h"
#include "targets/cpu/CpuTarget.h"

#include "targets/cpu/Passes.h"

#include "moec/Target/EntryTable.h"
#include "moec/Target/HostExecutable.h"

#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Transforms/Utils/ModuleUtils.h"

using namespace mlir;
using namespace moec;

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

/// The names of the vector-unit check's functions start with this.
static constexpr llvm::StringLiteral kVectorCheckPrefix = "moec_vector_check";

/// A constructor that stops the binary, before any vector instruction
/// runs, on a CPU without the vector extension the code uses or with
/// vectors shorter than it was compiled for (--vector-bits): the
/// kernels would compute garbage there, or die of an illegal
/// instruction with no word why.
static void defineVectorUnitCheck(llvm::Module &module,
                                  const llvm::Triple &triple,
                                  const cpu::VectorRequirement &requirement) {
  llvm::LLVMContext &ctx = module.getContext();
  llvm::Type *i32 = llvm::Type::getInt32Ty(ctx);
  llvm::Type *i64 = llvm::Type::getInt64Ty(ctx);
  llvm::Type *ptr = llvm::PointerType::get(ctx, 0);
  llvm::Type *voidTy = llvm::Type::getVoidTy(ctx);
  bool aarch64 = triple.getArch() == llvm::Triple::aarch64;
  // getauxval(AT_HWCAP)'s bit of the extension: HWCAP_SVE, or RISC-V's
  // single-letter 'V'.
  uint64_t hwcapBit = aarch64 ? uint64_t(1) << 22 : uint64_t(1) << ('V' - 'A');
  // llvm.vscale counts 128-bit blocks on aarch64, 64-bit ones on riscv64.
  uint64_t blockBits = aarch64 ? 128 : 64;
  llvm::FunctionCallee getauxval = module.getOrInsertFunction(
      "getauxval", llvm::FunctionType::get(i64, {i64}, false));
  llvm::FunctionCallee write = module.getOrInsertFunction(
      "write", llvm::FunctionType::get(i64, {i32, ptr, i64}, false));
  llvm::FunctionCallee exit = module.getOrInsertFunction(
      "_exit", llvm::FunctionType::get(voidTy, {i32}, false));
  auto function = [&](llvm::Type *result, const std::string &name) {
    auto *f = llvm::Function::Create(llvm::FunctionType::get(result, false),
                                     llvm::GlobalValue::InternalLinkage, name,
                                     module);
    f->addFnAttr(llvm::Attribute::NoInline);
    return f;
  };
  auto fail = [&](llvm::IRBuilder<> &b, const std::string &message) {
    llvm::Value *text = b.CreateGlobalString(message);
    b.CreateCall(write, {b.getInt32(2), text, b.getInt64(message.size())});
    b.CreateCall(exit, {b.getInt32(1)});
    b.CreateUnreachable();
  };

  // The length is read in a function of its own, called only once the
  // extension is known to be there: nothing hoists its instruction.
  llvm::Function *length = function(i64, (kVectorCheckPrefix + "_bits").str());
  {
    llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", length));
    llvm::Value *vscale = b.CreateIntrinsic(llvm::Intrinsic::vscale, {i64}, {});
    b.CreateRet(b.CreateMul(vscale, b.getInt64(blockBits)));
  }
  llvm::Function *check = function(voidTy, kVectorCheckPrefix.str());
  auto *entry = llvm::BasicBlock::Create(ctx, "entry", check);
  auto *missing = llvm::BasicBlock::Create(ctx, "missing", check);
  auto *measure = llvm::BasicBlock::Create(ctx, "measure", check);
  auto *shorter = llvm::BasicBlock::Create(ctx, "shorter", check);
  auto *done = llvm::BasicBlock::Create(ctx, "done", check);
  llvm::IRBuilder<> b(entry);
  llvm::Value *hwcap = b.CreateCall(getauxval, {b.getInt64(16)}); // AT_HWCAP
  b.CreateCondBr(
      b.CreateICmpNE(b.CreateAnd(hwcap, b.getInt64(hwcapBit)), b.getInt64(0)),
      measure, missing);
  b.SetInsertPoint(missing);
  fail(b, "error: this binary uses the " + requirement.extension +
              " vector extension, which this CPU does not have\n");
  b.SetInsertPoint(measure);
  llvm::Value *bits = b.CreateCall(length);
  b.CreateCondBr(b.CreateICmpULT(bits, b.getInt64(requirement.minBits)),
                 shorter, done);
  b.SetInsertPoint(shorter);
  fail(b, "error: this binary was compiled for " + requirement.extension +
              " vectors of at least " + std::to_string(requirement.minBits) +
              " bits (--vector-bits), and this CPU's are shorter\n");
  b.SetInsertPoint(done);
  b.CreateRetVoid();
  llvm::appendToGlobalCtors(module, check, /*Priority=*/0);
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
      cpu::createTargetMachine(options.optLevel, error);
  if (!machine)
    return module.emitError(error);
  llvm::Triple triple = machine->getTargetTriple();
  llvmModule->setDataLayout(machine->createDataLayout());
  llvmModule->setTargetTriple(triple);

  if (!defineParallelLaunchers(*llvmModule, error) ||
      !defineEntries(*llvmModule, int64_t(entries.size()), error))
    return module.emitError(error);
  cpu::VectorRequirement requirement = cpu::getVectorRequirement(*machine);
  if (!requirement.extension.empty())
    defineVectorUnitCheck(*llvmModule, triple, requirement);
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
    // SVE's length (--vector-bits): fixed-width vectors up to it go to
    // SVE registers. Not in the check of that length, which it would fold.
    if (requirement.extension == "SVE" && requirement.minBits &&
        !f.getName().starts_with(kVectorCheckPrefix))
      f.addFnAttr(llvm::Attribute::getWithVScaleRangeArgs(
          llvmContext, requirement.minBits / 128, 16));
  }
  for (llvm::GlobalVariable &g : llvmModule->globals())
    if (!g.isDeclaration() && !g.getName().starts_with("llvm.") &&
        g.getName() != cpu::kEntryTable && g.getName() != cpu::kEntryCount)
      g.setLinkage(llvm::GlobalValue::InternalLinkage);

  optimizeModule(*llvmModule, *machine, options.optLevel);

  result.targetIR.clear();
  llvm::raw_string_ostream irStream(result.targetIR);
  llvmModule->print(irStream, nullptr);

  if (!emitObject(*llvmModule, *machine, result.object))
    return module.emitError("the LLVM target cannot emit object files");
  return success();
}
