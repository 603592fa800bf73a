//===- TextFiles.h - A checkpoint's tokenizer files -------*- C++ -*-===//

#ifndef MOEC_LIB_FRONTEND_CHECKPOINT_TEXTFILES_H
#define MOEC_LIB_FRONTEND_CHECKPOINT_TEXTFILES_H

#include "mlir/IR/BuiltinOps.h"

namespace moec {

/// When `directory` holds tokenizer.json: checks it and the files beside
/// it (tokenizer_config.json, generation_config.json, chat_template.jinja,
/// config.json) as the binary will read them, and names them in the
/// module's `moec.text_files` for the packager to embed. Emits an error on
/// the module when a file is malformed, unsupported or does not fit the
/// model's vocabulary of `vocab` ids.
mlir::LogicalResult attachTextFiles(mlir::ModuleOp module,
                                    llvm::StringRef directory, int64_t vocab);

} // namespace moec

#endif // MOEC_LIB_FRONTEND_CHECKPOINT_TEXTFILES_H
