//===- GmBandwidth.h - GM bandwidth shared by the cores ---------*- C++ -*-===//
//
// The chip-wide GM bandwidth as a calendar: time in buckets of kBucket
// cycles, each able to serve gm_bytes_per_cycle * kBucket bytes. A transfer
// takes bytes from the buckets from its start on, at most its engine's
// rate in each, so transfers that overlap in time share the bandwidth
// whatever order the simulator meets them in (cores are simulated
// interleaved, and a command is often met long before it starts).
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_NPU_SIM_GMBANDWIDTH_H
#define MOEC_TARGETS_NPU_SIM_GMBANDWIDTH_H

#include <algorithm>
#include <cstdint>
#include <vector>

namespace moec::npu {

class GmBandwidth {
public:
  static constexpr uint64_t kBucket = 32;

  void setBytesPerCycle(double bytesPerCycle) {
    capacity = bytesPerCycle * double(kBucket);
  }

  /// Serves `bytes` from cycle `start` at up to `rate` bytes a cycle; returns
  /// the (fractional) cycle the last byte is served.
  double serve(double start, double bytes, double rate) {
    double t = start;
    while (bytes > 1e-9) {
      uint64_t bucket = uint64_t(t) / kBucket;
      if (bucket >= used.size())
        used.resize(bucket + 1 + used.size() / 2, 0.0);
      double bucketEnd = double((bucket + 1) * kBucket);
      double free = capacity - used[bucket];
      double byRate = rate * (bucketEnd - t);
      double take = std::min({bytes, free, byRate});
      if (take > 0) {
        used[bucket] += take;
        bytes -= take;
        // Done within this bucket at the engine's rate, or at its end when
        // the bucket's bandwidth ran out first.
        if (bytes <= 1e-9)
          return take < free && take < byRate ? t + take / rate : bucketEnd;
      }
      t = bucketEnd;
    }
    return t;
  }

private:
  double capacity = 0;
  /// Bytes served in each bucket so far.
  std::vector<double> used;
};

} // namespace moec::npu

#endif // MOEC_TARGETS_NPU_SIM_GMBANDWIDTH_H
