/*===- BinaryAbi.h - The contract between generated code and runtime -===*\
|*                                                                        *|
|* A compiled model is generated code plus the binary's runtime. This C   *|
|* header is the one place where the symbols between them are named and   *|
|* typed: the compiler emits and calls them by these names, the runtime   *|
|* defines or reads them with these types. Every target's code generation *|
|* and every runtime include it, so that a name is written once.          *|
|*                                                                        *|
\*===----------------------------------------------------------------------===*/

#ifndef MOEC_RUNTIME_BINARYABI_H
#define MOEC_RUNTIME_BINARYABI_H

#include <stdint.h>

/* Symbol names, for the compiler. */
#define MOEC_ABI_ENTRIES "moec_entries"
/* Entry point N is the function MOEC_ABI_ENTRY_PREFIX "N" before code
 * generation wraps it for the table. */
#define MOEC_ABI_ENTRY_PREFIX "moec_entry_"
#define MOEC_ABI_ENTRY_COUNT "moec_entry_count"
#define MOEC_ABI_PARALLEL_FOR "moec_parallel_for"
#define MOEC_ABI_CHECK_FAILED "moec_check_failed"
#define MOEC_ABI_PROFILE_RECORD "moec_profile_record"
#define MOEC_ABI_MANIFEST "moec_manifest"
#define MOEC_ABI_WEIGHTS "moec_weights"
/* The most values a failed check's message names ({0} ... {3}). */
#define MOEC_ABI_CHECK_VALUES 4

#ifdef __cplusplus
extern "C" {
#endif

/* The manifest format the packager writes and the runtime reads. */
#define MOEC_ABI_MANIFEST_FORMAT 2

/* Generated: one function per entry point of the model, in the order of the
 * manifest's "entries". Each takes args = [a pointer to its result
 * descriptors, when it has results], then one pointer to an MLIR memref
 * descriptor per input (state inputs included, in signature order), then
 * one per weight it lists. A state input is the runtime's persistent buffer,
 * which the entry may update in place; the runtime copies a state result
 * into that buffer after the call when the two differ. */
typedef void (*moec_entry_fn)(void **args);
extern const moec_entry_fn moec_entries[];
extern const int64_t moec_entry_count;

/* Runtime: runs fn(context, begin, end) over disjoint ranges covering
 * [0, count). `cost` estimates the work of one iteration; small loops run
 * inline on the calling thread. Blocks until every range is done. */
void moec_parallel_for(int64_t count, int64_t cost,
                       void (*fn)(void *context, int64_t begin, int64_t end),
                       void *context);

/* Runtime: a run-time check failed (an extent or an index only the run
 * time knows). Prints the message, which names the ONNX node, with the
 * values in place of {0} ... {3} and {{ as a brace, and exits with status
 * 1. */
#ifdef __cplusplus
[[noreturn]]
#endif
void moec_check_failed(const char *message, int64_t v0, int64_t v1,
                       int64_t v2, int64_t v3);

/* Generated (by the target's link step): the JSON manifest and the blob of
 * embedded weights, 64-byte aligned, each with its size in bytes. Plain
 * arrays and sizes, so that a target may define them in C as well as in
 * assembly. */
extern const char moec_manifest[];
extern const uint64_t moec_manifest_size;
extern const uint8_t moec_weights[];
extern const uint64_t moec_weights_size;

/* Optional, defined by a target's host code: a command-line flag of the
 * binary that the runtime does not know. Returns 0 when the flag is not the
 * target's, 1 when it took the flag alone, 2 when it took the flag and
 * `value` (the next argument, null when there is none). */
#define MOEC_ABI_TARGET_FLAG "moec_target_flag"
int moec_target_flag(const char *flag, const char *value)
    __attribute__((weak));
/* Optional: the target's flags for --help, one or more lines. */
extern const char moec_target_flags_help[] __attribute__((weak));

/* Optional: called after the runtime zeroed every state buffer (a new
 * session), for a target that keeps its own copy of the state (the cuda
 * target's, in device memory). */
void moec_target_state_cleared(void) __attribute__((weak));

#ifdef __cplusplus
}
#endif

#endif /* MOEC_RUNTIME_BINARYABI_H */
