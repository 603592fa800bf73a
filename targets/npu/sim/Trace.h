//===- Trace.h - Chrome/Perfetto traces of a simulation ---------*- C++ -*-===//
//
// A JSON trace (the "traceEvents" format chrome://tracing and Perfetto
// read): one complete ("X") event per command, process = core, thread =
// pipe, times in microseconds at the chip's clock. Events stream to the
// file as the simulation makes them; past the limit they are counted, not
// written, and the trace says how many were dropped.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGETS_NPU_SIM_TRACE_H
#define MOEC_TARGETS_NPU_SIM_TRACE_H

#include "machine/ChipDescription.h"

#include <cstdint>
#include <cstdio>
#include <string>

namespace moec::npu {

class TraceWriter {
public:
  TraceWriter() = default;
  TraceWriter(const TraceWriter &) = delete;
  TraceWriter &operator=(const TraceWriter &) = delete;
  ~TraceWriter();

  /// Starts a trace at `path`; false with a message if it cannot be
  /// written.
  bool open(const std::string &path, double clockGHz, uint64_t eventLimit,
            std::string &error);
  bool enabled() const { return file != nullptr; }
  /// A command `name` on `pipe` of `core` from cycle `start` for `cycles`.
  /// `detail`, if not null, is a JSON object's members for "args".
  void add(unsigned core, Pipe pipe, const char *name, uint64_t start,
           uint64_t cycles, const char *detail = nullptr);
  /// Names the processes and threads of `cores` cores, notes the dropped
  /// events and closes the file.
  bool close(unsigned cores, std::string &error);
  uint64_t dropped() const { return droppedEvents; }

private:
  void flush();

  std::FILE *file = nullptr;
  std::string path, buffer;
  double microsecondsPerCycle = 0.001;
  uint64_t limit = 0, events = 0, droppedEvents = 0;
  bool failed = false;
};

} // namespace moec::npu

#endif // MOEC_TARGETS_NPU_SIM_TRACE_H
