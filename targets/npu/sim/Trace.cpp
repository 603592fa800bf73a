//===- Trace.cpp - Chrome/Perfetto traces of a simulation -----------------===//

#include "sim/Trace.h"

#include <cerrno>
#include <cstring>

using namespace moec::npu;

static const char *const kPipeLabels[kPipeCount] = {"S",    "M",    "V",
                                                    "MTE1", "MTE2", "MTE3"};

TraceWriter::~TraceWriter() {
  if (file)
    std::fclose(file);
}

bool TraceWriter::open(const std::string &tracePath, double clockGHz,
                       uint64_t eventLimit, std::string &error) {
  path = tracePath;
  file = std::fopen(path.c_str(), "wb");
  if (!file) {
    error = "cannot write the trace '" + path + "': " + std::strerror(errno);
    return false;
  }
  microsecondsPerCycle = clockGHz > 0 ? 1e-3 / clockGHz : 1e-3;
  limit = eventLimit;
  buffer = "{\"traceEvents\":[\n";
  return true;
}

void TraceWriter::flush() {
  if (!buffer.empty() &&
      std::fwrite(buffer.data(), 1, buffer.size(), file) != buffer.size())
    failed = true;
  buffer.clear();
}

void TraceWriter::add(unsigned core, Pipe pipe, const char *name,
                      uint64_t start, uint64_t cycles, const char *detail) {
  if (events >= limit) {
    ++droppedEvents;
    return;
  }
  ++events;
  char line[320];
  int n = std::snprintf(
      line, sizeof(line),
      "{\"name\":\"%s\",\"ph\":\"X\",\"pid\":%u,\"tid\":%u,\"ts\":%.6f,"
      "\"dur\":%.6f%s%s%s},\n",
      name, core, unsigned(pipe), double(start) * microsecondsPerCycle,
      double(cycles) * microsecondsPerCycle, detail ? ",\"args\":{" : "",
      detail ? detail : "", detail ? "}" : "");
  buffer.append(line, size_t(n) < sizeof(line) ? size_t(n) : sizeof(line) - 1);
  if (buffer.size() > (1 << 16))
    flush();
}

bool TraceWriter::close(unsigned cores, std::string &error) {
  if (!file)
    return true;
  char line[160];
  for (unsigned core = 0; core < cores; ++core) {
    std::snprintf(line, sizeof(line),
                  "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%u,"
                  "\"args\":{\"name\":\"core %u\"}},\n",
                  core, core);
    buffer += line;
    for (unsigned pipe = 0; pipe < kPipeCount; ++pipe) {
      std::snprintf(line, sizeof(line),
                    "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%u,"
                    "\"tid\":%u,\"args\":{\"name\":\"%s\"}},\n",
                    core, pipe, kPipeLabels[pipe]);
      buffer += line;
    }
  }
  // The last array element carries no comma; the drop count rides along.
  std::snprintf(line, sizeof(line),
                "{\"name\":\"trace_info\",\"ph\":\"M\",\"pid\":0,\"args\":{"
                "\"events\":%llu,\"dropped_events\":%llu}}\n],\n",
                (unsigned long long)events, (unsigned long long)droppedEvents);
  buffer += line;
  std::snprintf(line, sizeof(line),
                "\"displayTimeUnit\":\"ns\",\"otherData\":{\"truncated\":%s,"
                "\"dropped_events\":%llu}}\n",
                droppedEvents ? "true" : "false",
                (unsigned long long)droppedEvents);
  buffer += line;
  flush();
  bool ok = !failed && std::fclose(file) == 0;
  file = nullptr;
  if (!ok)
    error = "cannot write the trace '" + path + "'";
  return ok;
}
