//===- NpuImage.h - What an NPU binary embeds -------------------*- C++ -*-===//
//
// The compiler writes one image per model: the chip description it
// compiled for and, per entry point, the tensors it takes and returns and
// one command-stream program per token-count bucket. The binary's host
// program reads it back and runs the bucket that holds a call's tokens.
// In a program, an input or weight segment's name is the index of the
// entry's argument it binds (inputs, then weights) and an output
// segment's the index of its result.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_NPU_MACHINE_NPUIMAGE_H
#define MOEC_TARGETS_NPU_MACHINE_NPUIMAGE_H

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace moec::npu {

constexpr uint32_t kImageFormatVersion = 2;

/// A tensor an entry point takes or returns; a dimension of -1 is dynamic
/// (the token count, or a state's context).
struct ImageTensor {
  uint32_t elemBytes = 4;
  std::vector<int64_t> dims;
  /// An input: 1 when it is state (bound in place). An output: the index
  /// of the state input it updates in place, or -1.
  int32_t state = -1;
};

/// Scalar expressions the host evaluates before a run (ScalarNode kinds).
enum class ScalarKind : int64_t {
  Const = 0,     // imm
  Extent = 1,    // the call's dynamic dimension number imm (Call segment)
  InputWord = 2, // the int32 at byte imm of input a
  Add = 3,
  Sub = 4,
  Mul = 5,
  Min = 6,
  Max = 7,
  Less = 8,
  LessEqual = 9,
  Equal = 10,
  And = 11,
  Select = 12, // a != 0 ? b : c
};
/// Nodes per bucket at most (evaluateScalar recurses through them).
constexpr uint32_t kMaxScalarNodes = 4096;
struct ScalarNode {
  ScalarKind kind = ScalarKind::Const;
  int64_t a = 0, b = 0, c = 0, imm = 0;
};

/// A run-time check the host makes before running a program: a condition
/// (node index) with up to four values for the message's {0}..{3}, or,
/// with `input` >= 0, that every element of that input is in [lo, hi)
/// (the offending element is {0}).
struct ImageCheck {
  std::string message;
  int64_t condition = -1;
  std::vector<int64_t> values;
  int64_t input = -1, lo = 0, hi = 0;
};

struct ImageBucket {
  int64_t tokens = 0;
  /// encodeProgram's bytes.
  std::string program;
  std::vector<ScalarNode> scalars;
  std::vector<ImageCheck> checks;
  /// Per output, the node giving its dynamic dimension (-1: the token
  /// count).
  std::vector<int64_t> outputRows;
  /// What each phase (up to its BARRIER_ALL) computes: the op it lowers.
  std::vector<std::string> phases;
};

/// The value of node `index` for a call: `extent(i)` is the call's dynamic
/// dimension i, `word(input, offset)` an input's int32. Returns false
/// (with `error`) for a node out of range or a cycle.
bool evaluateScalar(const std::vector<ScalarNode> &nodes, int64_t index,
                    const std::function<int64_t(int64_t)> &extent,
                    const std::function<int64_t(int64_t, int64_t)> &word,
                    int64_t &value, std::string &error);

struct ImageEntry {
  std::vector<ImageTensor> inputs, weights, outputs;
  std::vector<ImageBucket> buckets;
};

struct NpuImage {
  std::string chipText;
  std::vector<ImageEntry> entries;
};

std::string encodeImage(const NpuImage &image);
/// Decodes and bounds-checks an image (not the programs inside).
bool decodeImage(const uint8_t *data, size_t size, NpuImage &image,
                 std::string &error);

} // namespace moec::npu

#endif // MOEC_TARGETS_NPU_MACHINE_NPUIMAGE_H
