//===- EntryTable.cpp - The entry points every binary exports -------------===//

#include "moec/Target/EntryTable.h"

#include "moec/Runtime/BinaryAbi.h"

#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Module.h"

using namespace moec;

llvm::Function *moec::definePackedEntry(llvm::Module &module, int64_t index,
                                        std::string &error) {
  std::string name = MOEC_ABI_ENTRY_PREFIX + std::to_string(index);
  llvm::Function *ciface = module.getFunction("_mlir_ciface_" + name);
  if (!ciface) {
    error = "the lowered module has no _mlir_ciface_" + name;
    return nullptr;
  }
  llvm::LLVMContext &ctx = module.getContext();
  llvm::Type *ptr = llvm::PointerType::get(ctx, 0);
  auto *wrapper = llvm::Function::Create(
      llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr}, false),
      llvm::GlobalValue::InternalLinkage, name + "_packed", module);
  llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", wrapper));
  std::vector<llvm::Value *> args;
  for (llvm::Argument &arg : ciface->args()) {
    if (!arg.getType()->isPointerTy()) {
      error = "entry function " + name + " takes a non-memref argument";
      return nullptr;
    }
    llvm::Value *slot =
        b.CreateConstGEP1_64(ptr, wrapper->getArg(0), args.size());
    args.push_back(b.CreateLoad(ptr, slot));
  }
  b.CreateCall(ciface, args);
  b.CreateRetVoid();
  return wrapper;
}

void moec::defineEntryTable(llvm::Module &module,
                            llvm::ArrayRef<llvm::Function *> entries) {
  llvm::LLVMContext &ctx = module.getContext();
  std::vector<llvm::Constant *> functions(entries.begin(), entries.end());
  auto *tableType =
      llvm::ArrayType::get(llvm::PointerType::get(ctx, 0), functions.size());
  new llvm::GlobalVariable(module, tableType, /*isConstant=*/true,
                           llvm::GlobalValue::ExternalLinkage,
                           llvm::ConstantArray::get(tableType, functions),
                           MOEC_ABI_ENTRIES);
  llvm::Type *i64 = llvm::Type::getInt64Ty(ctx);
  new llvm::GlobalVariable(
      module, i64, /*isConstant=*/true, llvm::GlobalValue::ExternalLinkage,
      llvm::ConstantInt::get(i64, entries.size()), MOEC_ABI_ENTRY_COUNT);
}
