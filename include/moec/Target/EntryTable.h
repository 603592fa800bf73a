//===- EntryTable.h - The entry points every binary exports ----*- C++ -*-===//
//
// The runtime calls entry N as `void (*)(void **args)` through the table
// moec_entries[moec_entry_count] (moec/Runtime/BinaryAbi.h). After
// translation to LLVM IR, an entry is the C interface `_mlir_ciface_` of
// the module's `moec_entry_N`; these helpers add the packed wrapper that
// unpacks `args` into its arguments, and the table itself.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGET_ENTRYTABLE_H
#define MOEC_TARGET_ENTRYTABLE_H

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <string>

namespace llvm {
class Function;
class Module;
} // namespace llvm

namespace moec {

/// Defines the internal `void moec_entry_N_packed(void **args)`: calls the
/// C interface of entry `index` with args[i] as its i-th (pointer)
/// argument: the result descriptors, if any, first, then inputs, then
/// weights. Null with `error` set when the module has no such entry.
llvm::Function *definePackedEntry(llvm::Module &module, int64_t index,
                                  std::string &error);

/// Defines the exported `moec_entries` table, holding `entries` in order,
/// and `moec_entry_count`.
void defineEntryTable(llvm::Module &module,
                      llvm::ArrayRef<llvm::Function *> entries);

} // namespace moec

#endif // MOEC_TARGET_ENTRYTABLE_H
