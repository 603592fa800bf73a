//===- MemrefCopy.cpp - Strided copies for generated code -----------------===//
//
// MLIR lowers a memref.copy between non-contiguous layouts to a call to
// `memrefCopy` (contiguous copies become memcpy). This is that function,
// so binaries need no MLIR runner library.
//
//===----------------------------------------------------------------------===//

#include <cstdint>
#include <cstring>
#include <vector>

namespace {
/// An unranked memref as generated code passes it: rank and a pointer to
/// the ranked descriptor {allocated, aligned, offset, sizes[rank],
/// strides[rank]}.
struct UnrankedMemRef {
  int64_t rank;
  void *descriptor;
};

struct View {
  char *aligned;
  int64_t offset;
  const int64_t *sizes;
  const int64_t *strides;
};

View viewOf(const UnrankedMemRef &memref) {
  auto *words = static_cast<int64_t *>(memref.descriptor);
  View view;
  std::memcpy(&view.aligned, &words[1], sizeof(char *));
  view.offset = words[2];
  view.sizes = words + 3;
  view.strides = words + 3 + memref.rank;
  return view;
}
} // namespace

extern "C" void memrefCopy(int64_t elementSize, UnrankedMemRef *source,
                           UnrankedMemRef *target) {
  int64_t rank = source->rank;
  View src = viewOf(*source), dst = viewOf(*target);
  for (int64_t d = 0; d < rank; ++d)
    if (src.sizes[d] == 0)
      return;
  char *from = src.aligned + src.offset * elementSize;
  char *to = dst.aligned + dst.offset * elementSize;
  if (rank == 0) {
    std::memcpy(to, from, elementSize);
    return;
  }
  // Odometer over every element, innermost dimension fastest.
  std::vector<int64_t> index(rank, 0);
  for (;;) {
    int64_t s = 0, t = 0;
    for (int64_t d = 0; d < rank; ++d) {
      s += index[d] * src.strides[d];
      t += index[d] * dst.strides[d];
    }
    std::memcpy(to + t * elementSize, from + s * elementSize, elementSize);
    int64_t d = rank - 1;
    while (d >= 0 && ++index[d] == src.sizes[d])
      index[d--] = 0;
    if (d < 0)
      return;
  }
}
