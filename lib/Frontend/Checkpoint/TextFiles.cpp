//===- TextFiles.cpp - A checkpoint's tokenizer files, for the binary -----===//
//
// The binary generates text with the checkpoint's own tokenizer.json and
// the files beside it (runtime/tokenizer/TextSettings.h). They are read
// here with the binary's code, so that a file it would reject fails the
// compile, and named in `moec.text_files` for the packager to embed.
//
//===----------------------------------------------------------------------===//

#include "TextFiles.h"

#include "runtime/tokenizer/TextSettings.h"

#include "mlir/IR/Builders.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

using namespace mlir;

LogicalResult moec::attachTextFiles(ModuleOp module, llvm::StringRef directory,
                                    int64_t vocab) {
  rt::TextFiles files;
  std::vector<std::unique_ptr<llvm::MemoryBuffer>> buffers;
  NamedAttrList named;
  Builder b(module.getContext());
  for (size_t i = 0; i < std::size(rt::kTextFileNames); ++i) {
    llvm::SmallString<256> path(directory);
    llvm::sys::path::append(path, rt::kTextFileNames[i]);
    if (!llvm::sys::fs::exists(path)) {
      // Without tokenizer.json the binary takes token ids only.
      if (i == 0)
        return success();
      continue;
    }
    llvm::sys::fs::make_absolute(path);
    auto buffer = llvm::MemoryBuffer::getFile(path);
    if (!buffer)
      return module.emitError("cannot read '")
             << path << "': " << buffer.getError().message();
    *files.byIndex(i) = (*buffer)->getBuffer();
    buffers.push_back(std::move(*buffer));
    named.append(rt::kTextFileNames[i], b.getStringAttr(path));
  }
  rt::TextSettings settings;
  std::string error;
  if (!rt::loadTextSettings(files, settings, error))
    return module.emitError("the checkpoint's ")
           << error << " (moec --no-tokenizer builds a binary that takes "
           << "token ids only)";
  if (settings.tokenizer->vocabularySize() > vocab)
    return module.emitError("the checkpoint's tokenizer.json has ")
           << settings.tokenizer->vocabularySize()
           << " ids, more than the model's vocabulary of " << vocab;
  module->setAttr("moec.text_files", named.getDictionary(module.getContext()));
  return success();
}
