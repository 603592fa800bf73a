//===- NpuHost.cpp - An NPU binary's side of each call --------------------===//
//
// The generated entry points call moec_npu_call with the embedded image.
// On a machine without the chip (every machine, for this reference NPU) the
// programs run on the simulator: inputs are copied into segments the size
// of the smallest bucket that holds the call's tokens (zero rows after
// them), weights are bound where the runtime mapped them, and the outputs'
// first rows are returned. The binary's --trace and --npu-stats flags land
// here through moec_target_flag (BinaryAbi.h).
//
//===----------------------------------------------------------------------===//

#include "host/NpuHost.h"

#include "machine/NpuImage.h"
#include "moec/Runtime/BinaryAbi.h"
#include "sim/Simulator.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

using namespace moec::npu;

namespace {
struct HostState {
  NpuImage image;
  ChipDescription chip;
  /// Decoded programs, per entry and bucket (decoded on first use).
  std::vector<std::vector<std::unique_ptr<Program>>> programs;
  std::string tracePath;
  bool printStats = false, printPhases = false;
  unsigned calls = 0;
};

HostState &state() {
  static HostState s;
  return s;
}

[[noreturn]] void fail(const std::string &message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  std::exit(1);
}

void load(const uint8_t *data, uint64_t size) {
  HostState &s = state();
  if (!s.programs.empty())
    return;
  std::string error;
  if (!decodeImage(data, size, s.image, error))
    fail("the embedded NPU image: " + error);
  if (!parseChipDescription(s.image.chipText, s.chip, error))
    fail("the embedded chip description: " + error);
  s.programs.resize(s.image.entries.size());
  for (size_t i = 0; i < s.image.entries.size(); ++i)
    s.programs[i].resize(s.image.entries[i].buckets.size());
}

/// The words of one MLIR memref descriptor.
struct DescriptorView {
  int64_t *words;
  size_t rank;
  uint8_t *data(uint32_t elemBytes) const {
    return reinterpret_cast<uint8_t *>(intptr_t(words[1])) +
           words[2] * int64_t(elemBytes);
  }
  int64_t size(size_t i) const { return words[3 + i]; }
  uint64_t elements() const {
    uint64_t n = 1;
    for (size_t i = 0; i < rank; ++i)
      n *= uint64_t(size(i));
    return n;
  }
};

/// The value of a bucket's scalar node for this call.
int64_t evaluate(const ImageEntry &entry, const ImageBucket &bucket,
                 int64_t node, const std::vector<DescriptorView> &inputs,
                 const std::vector<int64_t> &extents) {
  std::string error;
  int64_t value = 0;
  auto extent = [&](int64_t i) -> int64_t {
    if (i < 0 || size_t(i) >= extents.size())
      fail("an NPU scalar reads extent " + std::to_string(i) + " of " +
           std::to_string(extents.size()));
    return extents[i];
  };
  auto word = [&](int64_t input, int64_t offset) -> int64_t {
    if (input < 0 || size_t(input) >= inputs.size() || offset < 0 ||
        uint64_t(offset) + 4 >
            inputs[input].elements() * entry.inputs[input].elemBytes)
      fail("an NPU scalar reads byte " + std::to_string(offset) + " of input " +
           std::to_string(input));
    int32_t v;
    std::memcpy(&v, inputs[input].data(entry.inputs[input].elemBytes) + offset,
                4);
    return v;
  };
  if (!evaluateScalar(bucket.scalars, node, extent, word, value, error))
    fail("the NPU image: " + error);
  return value;
}

/// The bucket's run-time checks; a failing one stops the binary with its
/// message, as the CPU code's moe.check does.
void checkCall(const ImageEntry &entry, const ImageBucket &bucket,
               const std::vector<DescriptorView> &inputs,
               const std::vector<int64_t> &extents) {
  for (const ImageCheck &check : bucket.checks) {
    if (check.input >= 0) {
      if (size_t(check.input) >= inputs.size())
        fail("an NPU check names input " + std::to_string(check.input));
      const ImageTensor &t = entry.inputs[check.input];
      const uint8_t *data = inputs[check.input].data(t.elemBytes);
      for (uint64_t i = 0, n = inputs[check.input].elements(); i < n; ++i) {
        int64_t v;
        if (t.elemBytes == 8) {
          std::memcpy(&v, data + 8 * i, 8);
        } else {
          int32_t w;
          std::memcpy(&w, data + 4 * i, 4);
          v = w;
        }
        if (v < check.lo || v >= check.hi)
          moec_check_failed(check.message.c_str(), v, 0, 0, 0);
      }
      continue;
    }
    if (evaluate(entry, bucket, check.condition, inputs, extents))
      continue;
    int64_t values[MOEC_ABI_CHECK_VALUES] = {};
    for (size_t i = 0; i < check.values.size() && i < MOEC_ABI_CHECK_VALUES;
         ++i)
      values[i] = evaluate(entry, bucket, check.values[i], inputs, extents);
    moec_check_failed(check.message.c_str(), values[0], values[1], values[2],
                      values[3]);
  }
}

uint64_t product(const std::vector<int64_t> &dims, int64_t tokens) {
  uint64_t n = 1;
  for (int64_t d : dims)
    n *= uint64_t(d < 0 ? tokens : d);
  return n;
}
} // namespace

extern "C" void moec_npu_call(const uint8_t *image, uint64_t imageSize,
                              int64_t entryIndex, void **args) {
  load(image, imageSize);
  HostState &s = state();
  if (entryIndex < 0 || size_t(entryIndex) >= s.image.entries.size())
    fail("the NPU image has no entry point " + std::to_string(entryIndex));
  const ImageEntry &entry = s.image.entries[entryIndex];
  size_t at = entry.outputs.empty() ? 0 : 1;
  std::vector<DescriptorView> inputs, weights;
  for (const ImageTensor &t : entry.inputs)
    inputs.push_back({static_cast<int64_t *>(args[at++]), t.dims.size()});
  for (const ImageTensor &t : entry.weights)
    weights.push_back({static_cast<int64_t *>(args[at++]), t.dims.size()});

  // The call's extents: every dynamic dimension of an input, in order.
  // The token count is the first of an input that is not state (a state's
  // is its context).
  std::vector<int64_t> extents;
  int64_t tokens = 0;
  bool haveTokens = false;
  for (size_t i = 0; i < entry.inputs.size(); ++i)
    for (size_t d = 0; d < entry.inputs[i].dims.size(); ++d)
      if (entry.inputs[i].dims[d] < 0) {
        extents.push_back(inputs[i].size(d));
        if (!haveTokens && entry.inputs[i].state < 0) {
          tokens = extents.back();
          haveTokens = true;
        }
      }
  size_t bucketIndex = entry.buckets.size();
  for (size_t b = 0; b < entry.buckets.size(); ++b)
    if (entry.buckets[b].tokens >= tokens &&
        (bucketIndex == entry.buckets.size() ||
         entry.buckets[b].tokens < entry.buckets[bucketIndex].tokens))
      bucketIndex = b;
  if (bucketIndex == entry.buckets.size())
    fail("a call of " + std::to_string(tokens) +
         " tokens is larger than the NPU programs' largest bucket");
  const ImageBucket &bucket = entry.buckets[bucketIndex];
  std::unique_ptr<Program> &program = s.programs[entryIndex][bucketIndex];
  if (!program) {
    program = std::make_unique<Program>();
    std::string error;
    if (!decodeProgram(reinterpret_cast<const uint8_t *>(bucket.program.data()),
                       bucket.program.size(), *program, error))
      fail("the NPU program for " + std::to_string(bucket.tokens) +
           " tokens: " + error);
  }

  checkCall(entry, bucket, inputs, extents);

  // Bind the segments: workspace and outputs are zeroed buffers, inputs
  // copies padded to the bucket, weights the runtime's mapping, state the
  // runtime's buffers themselves, the call segment the extents.
  std::vector<std::vector<uint8_t>> owned(program->segments.size());
  std::vector<SegmentBinding> bindings(program->segments.size());
  std::vector<int> outputSegment(entry.outputs.size(), -1);
  for (size_t i = 0; i < program->segments.size(); ++i) {
    const Segment &segment = program->segments[i];
    SegmentBinding &binding = bindings[i];
    binding.bytes = segment.bytes;
    char *end = nullptr;
    long index = std::strtol(segment.name.c_str(), &end, 10);
    bool named = !segment.name.empty() && end && !*end && index >= 0;
    switch (segment.kind) {
    case SegmentKind::Workspace:
      owned[i].assign(segment.bytes, 0);
      binding.data = owned[i].data();
      binding.writable = true;
      break;
    case SegmentKind::Input: {
      if (!named || size_t(index) >= entry.inputs.size())
        fail("NPU segment " + std::to_string(i) + " names no input");
      const ImageTensor &t = entry.inputs[index];
      uint64_t bytes = product(t.dims, tokens) * t.elemBytes;
      if (bytes > segment.bytes)
        fail("input " + std::to_string(index) + " has " +
             std::to_string(bytes) + " bytes; its NPU segment holds " +
             std::to_string(segment.bytes));
      owned[i].assign(segment.bytes, 0);
      std::memcpy(owned[i].data(), inputs[index].data(t.elemBytes), bytes);
      binding.data = owned[i].data();
      break;
    }
    case SegmentKind::Weight: {
      size_t w = size_t(index) - entry.inputs.size();
      if (!named || size_t(index) < entry.inputs.size() ||
          w >= entry.weights.size())
        fail("NPU segment " + std::to_string(i) + " names no weight");
      const ImageTensor &t = entry.weights[w];
      if (product(t.dims, tokens) * t.elemBytes < segment.bytes)
        fail("weight " + std::to_string(w) + " is smaller than its segment");
      binding.data = weights[w].data(t.elemBytes);
      break;
    }
    case SegmentKind::State: {
      if (!named || size_t(index) >= entry.inputs.size() ||
          entry.inputs[index].state < 0)
        fail("NPU segment " + std::to_string(i) + " names no state input");
      const ImageTensor &t = entry.inputs[index];
      binding.data = inputs[index].data(t.elemBytes);
      binding.bytes = inputs[index].elements() * t.elemBytes;
      binding.writable = true;
      break;
    }
    case SegmentKind::Call:
      owned[i].assign(std::max<uint64_t>(segment.bytes, extents.size() * 8), 0);
      std::memcpy(owned[i].data(), extents.data(), extents.size() * 8);
      binding.data = owned[i].data();
      binding.bytes = owned[i].size();
      break;
    case SegmentKind::Output:
      if (!named || size_t(index) >= entry.outputs.size())
        fail("NPU segment " + std::to_string(i) + " names no output");
      owned[i].assign(segment.bytes, 0);
      binding.data = owned[i].data();
      binding.writable = true;
      outputSegment[index] = int(i);
      break;
    }
  }

  SimOptions options;
  options.tracePath = s.tracePath;
  // One trace per process: the first call's.
  if (s.calls++ > 0)
    options.tracePath.clear();
  SimStats stats;
  std::string error;
  if (!simulate(s.chip, *program, bindings, options, stats, error))
    fail("the NPU simulator: " + error);
  if (s.printStats)
    std::fprintf(stderr, "npu: %lld tokens on the %lld-token program\n%s",
                 (long long)tokens, (long long)bucket.tokens,
                 (formatStats(s.chip, stats) +
                  formatPhases(stats, bucket.phases, s.printPhases))
                     .c_str());

  // Results: a state the program updated in place is its buffer; every
  // other output its first rows (the token count, or what the program's
  // node for it says), in a fresh buffer.
  int64_t *result =
      entry.outputs.empty() ? nullptr : static_cast<int64_t *>(args[0]);
  for (size_t r = 0; r < entry.outputs.size(); ++r) {
    const ImageTensor &t = entry.outputs[r];
    size_t rank = t.dims.size();
    if (t.state >= 0) {
      if (size_t(t.state) >= inputs.size() || inputs[t.state].rank != rank)
        fail("NPU output " + std::to_string(r) + " names no state input");
      std::memcpy(result, inputs[t.state].words,
                  (3 + 2 * rank) * sizeof(int64_t));
      result += 3 + 2 * rank;
      continue;
    }
    if (outputSegment[r] < 0)
      fail("the NPU program writes no output " + std::to_string(r));
    int64_t rows = tokens;
    if (r < bucket.outputRows.size() && bucket.outputRows[r] >= 0)
      rows = evaluate(entry, bucket, bucket.outputRows[r], inputs, extents);
    if (rows < 0 || rows > bucket.tokens)
      fail("the NPU program's output " + std::to_string(r) + " has " +
           std::to_string(rows) + " rows, outside its bucket of " +
           std::to_string(bucket.tokens));
    uint64_t bytes = product(t.dims, rows) * t.elemBytes;
    size_t rounded = std::max<size_t>(64, (bytes + 63) / 64 * 64);
    auto *buffer = static_cast<uint8_t *>(std::aligned_alloc(64, rounded));
    if (!buffer)
      fail("cannot allocate " + std::to_string(bytes) + " bytes");
    std::memcpy(buffer, owned[outputSegment[r]].data(), bytes);
    result[0] = result[1] = int64_t(intptr_t(buffer));
    result[2] = 0;
    int64_t stride = 1;
    for (size_t i = rank; i-- > 0;) {
      result[3 + i] = t.dims[i] < 0 ? rows : t.dims[i];
      result[3 + rank + i] = stride;
      stride *= result[3 + i];
    }
    result += 3 + 2 * rank;
  }
}

extern "C" int moec_target_flag(const char *flag, const char *value) {
  HostState &s = state();
  std::string name = flag;
  if (name == "--npu-stats") {
    s.printStats = true;
    return 1;
  }
  if (name == "--npu-phases") {
    s.printStats = s.printPhases = true;
    return 1;
  }
  if (name == "--trace") {
    if (!value)
      fail("--trace needs a file name");
    s.tracePath = value;
    return 2;
  }
  return 0;
}

extern "C" const char moec_target_flags_help[] =
    "NPU (simulated):\n"
    "  --trace FILE           write the first call's pipelines as a "
    "Chrome/Perfetto\n"
    "                         trace (JSON; open in ui.perfetto.dev)\n"
    "  --npu-stats            print each call's cycles, time at the chip's "
    "clock,\n"
    "                         per-pipe utilisation and cycles by op to "
    "stderr\n"
    "  --npu-phases           --npu-stats, and every phase's cycles in "
    "order\n";
