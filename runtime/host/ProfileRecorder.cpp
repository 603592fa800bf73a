//===- ProfileRecorder.cpp - The generated code's profiling hook ---------===//

#include "runtime/host/ProfileRecorder.h"

#include <cstdint>

using namespace moec::rt;

namespace {
/// Ranked memref descriptors as MLIR passes them through
/// `llvm.emit_c_interface`.
template <typename T, int Rank> struct MemRef {
  T *allocated;
  T *aligned;
  int64_t offset;
  int64_t sizes[Rank];
  int64_t strides[Rank];

  const T &at(int64_t i) const { return aligned[offset + i * strides[0]]; }
  /// Row i of a rank-2 memref whose rows are contiguous.
  const T *row(int64_t i) const { return aligned + offset + i * strides[0]; }
};

RoutingProfile profile;
bool recording = true;
std::string recordingError;
} // namespace

RoutingProfile &moec::rt::recordedProfile() { return profile; }
void moec::rt::setProfileRecording(bool enabled) { recording = enabled; }
const std::string &moec::rt::profileRecordingError() { return recordingError; }

/// One layer's routing and expert rows after the sparse path: `ids` and
/// `weights` [T, k], the dispatched `rows` [M, H], `permutation` [M],
/// `offsets` [E + 1], the down projection's input `hidden` [M, I] and the
/// expert outputs `out` [M, H].
extern "C" void _mlir_ciface_moec_profile_record(
    int64_t layerIndex, MemRef<int32_t, 2> *ids, MemRef<float, 2> *weights,
    MemRef<float, 2> *rows, MemRef<int32_t, 1> *permutation,
    MemRef<int32_t, 1> *offsets, MemRef<float, 2> *hidden,
    MemRef<float, 2> *out) {
  if (!recording || layerIndex < 0 || !recordingError.empty())
    return;
  int64_t tokens = ids->sizes[0], k = ids->sizes[1];
  int64_t experts = offsets->sizes[0] - 1;
  int64_t width = rows->sizes[1], intermediate = hidden->sizes[1];
  if (size_t(layerIndex) >= profile.layers.size())
    profile.layers.resize(layerIndex + 1);
  LayerProfile &layer = profile.layers[layerIndex];
  if (layer.experts == 0)
    layer.reset(experts, k, width, intermediate);
  if (layer.experts != experts || layer.topK != k || layer.hidden != width ||
      layer.intermediate != intermediate || ids->strides[1] != 1 ||
      weights->strides[1] != 1 || rows->strides[1] != 1 ||
      hidden->strides[1] != 1 || out->strides[1] != 1) {
    recordingError = "MoE layer " + std::to_string(layerIndex) +
                     " changed shape or layout between runs";
    return;
  }
  for (int64_t t = 0; t < tokens; ++t)
    layer.addRouting(ids->row(t), weights->row(t));
  for (int64_t e = 0; e < experts; ++e)
    for (int64_t i = offsets->at(e); i < offsets->at(e + 1); ++i) {
      int64_t p = permutation->at(i);
      if (p < 0) // an empty slot of a static-capacity dispatch
        continue;
      float w = weights->row(p / k)[p % k];
      layer.addExpertRow(e, w, rows->row(i), hidden->row(i), out->row(i));
    }
}
