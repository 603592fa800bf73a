//===- NpuHost.h - An NPU binary's side of each call ------------*- C++ -*-===//
//
// The one function the generated entry points of an NPU binary call.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_NPU_HOST_NPUHOST_H
#define MOEC_TARGETS_NPU_HOST_NPUHOST_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The symbol of the embedded image and its size, in the generated code.
#define MOEC_NPU_IMAGE "moec_npu_image"
#define MOEC_NPU_IMAGE_SIZE "moec_npu_image_size"

/// Runs entry point `entry` of the image on `args` (BinaryAbi.h's
/// moec_entry_fn arguments); exits with a message on failure.
void moec_npu_call(const uint8_t *image, uint64_t imageSize, int64_t entry,
                   void **args);

#ifdef __cplusplus
}
#endif

#endif // MOEC_TARGETS_NPU_HOST_NPUHOST_H
