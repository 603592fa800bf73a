//===- roofline.cpp - Read bandwidth of this machine, for the benchmarks ---===//
//
// usage: moec-roofline [--gib N] [--threads N] [--repeats N]
//
// Fills N GiB (default 2, at least 1) once, then times read-only passes
// over all of it: each thread sums its contiguous share as 64-bit integers,
// read as 8 streams side by side (8 regions of the share, 64 bytes of each
// in turn, each prefetched 512 bytes ahead), as the model's kernels read
// several weight rows at once. One stream per core measures the latency of
// a core's outstanding misses, not the memory: about 14 GB/s on the 2
// cores of the benchmark machine, against 30 with 8 streams. Prints the
// best and the median pass as one line:
//
//   roofline: gib=2 threads=2 repeats=7 best_gb_per_s=... median_gb_per_s=...
//
//===----------------------------------------------------------------------===//

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

/// 64 bytes of 64-bit lanes (GCC/Clang vector extension: the compiler
/// uses the widest loads the target has).
typedef uint64_t Lanes __attribute__((vector_size(64)));

static uint64_t sumRange(const uint64_t *data, size_t count) {
  constexpr size_t kStreams = 8, kLanes = 8, kAhead = 64;
  size_t perStream = count / kStreams / kLanes * kLanes;
  Lanes sums[kStreams] = {};
  for (size_t i = 0; i < perStream; i += kLanes)
    for (size_t s = 0; s < kStreams; ++s) {
      const uint64_t *p = data + s * perStream + i;
      __builtin_prefetch(p + kAhead);
      Lanes v;
      std::memcpy(&v, p, sizeof(v));
      sums[s] += v;
    }
  uint64_t total = 0;
  for (const Lanes &s : sums)
    for (size_t j = 0; j < kLanes; ++j)
      total += s[j];
  for (size_t i = perStream * kStreams; i < count; ++i)
    total += data[i];
  return total;
}

int main(int argc, char **argv) {
  double gib = 2;
  int threads = int(std::max(1u, std::thread::hardware_concurrency()));
  int repeats = 7;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 < argc && arg == "--gib")
      gib = std::atof(argv[++i]);
    else if (i + 1 < argc && arg == "--threads")
      threads = std::atoi(argv[++i]);
    else if (i + 1 < argc && arg == "--repeats")
      repeats = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: %s [--gib N] [--threads N] [--repeats N]\n",
                   argv[0]);
      return 2;
    }
  }
  if (gib < 1 || threads < 1 || repeats < 1) {
    std::fprintf(stderr, "error: needs --gib >= 1, --threads >= 1, "
                         "--repeats >= 1\n");
    return 2;
  }
  size_t count = size_t(gib * double(1ull << 30)) / sizeof(uint64_t);
  std::vector<uint64_t> data(count);
  for (size_t i = 0; i < count; ++i)
    data[i] = i * 0x9e3779b97f4a7c15ull;

  std::vector<double> gbPerS;
  uint64_t checksum = 0;
  for (int r = 0; r < repeats; ++r) {
    std::vector<uint64_t> partial(threads);
    std::vector<std::thread> workers;
    auto start = std::chrono::steady_clock::now();
    for (int t = 0; t < threads; ++t)
      workers.emplace_back([&, t] {
        size_t begin = count * t / threads, end = count * (t + 1) / threads;
        partial[t] = sumRange(data.data() + begin, end - begin);
      });
    for (std::thread &w : workers)
      w.join();
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    for (uint64_t p : partial)
      checksum += p;
    gbPerS.push_back(double(count * sizeof(uint64_t)) / seconds / 1e9);
  }
  std::vector<double> sorted = gbPerS;
  std::sort(sorted.begin(), sorted.end());
  std::printf("roofline: gib=%g threads=%d repeats=%d best_gb_per_s=%.2f "
              "median_gb_per_s=%.2f checksum=%llx\n",
              gib, threads, repeats, sorted.back(),
              sorted[sorted.size() / 2], (unsigned long long)(checksum & 0xff));
  return 0;
}
