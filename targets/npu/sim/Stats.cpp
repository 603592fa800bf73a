//===- Stats.cpp - The simulator's report ---------------------------------===//
//
// formatStats: what a run cost, in the terms a schedule is judged by (time,
// how busy each pipe was, GM bandwidth against the chip's).
//
//===----------------------------------------------------------------------===//

#include "sim/Simulator.h"

#include <algorithm>
#include <cstdio>

using namespace moec::npu;

static const char *const kPipeLabels[kPipeCount] = {"S",    "M",    "V",
                                                    "MTE1", "MTE2", "MTE3"};

static std::string format(const char *pattern, double a, double b = 0,
                          double c = 0) {
  char text[160];
  std::snprintf(text, sizeof(text), pattern, a, b, c);
  return text;
}

std::string moec::npu::formatStats(const ChipDescription &chip,
                                   const SimStats &stats) {
  double seconds =
      chip.clockGHz > 0 ? double(stats.cycles) / (chip.clockGHz * 1e9) : 0;
  std::string out =
      "cycles: " + std::to_string(stats.cycles) +
      format(" (%.3f us at %.3g GHz)\n", seconds * 1e6, chip.clockGHz);
  out += "commands: " + std::to_string(stats.commands) +
         ", cube ops: " + std::to_string(stats.cubeOps);
  if (seconds > 0)
    out += format(" (%.3g Tops/s)", double(stats.cubeOps) / seconds / 1e12);
  out += "\nGM: " + std::to_string(stats.gmBytes) + " bytes";
  if (seconds > 0 && chip.gmBytesPerSecond() > 0) {
    double achieved = double(stats.gmBytes) / seconds;
    out += format(", %.3g GB/s of %.3g GB/s (%.1f%%)", achieved / 1e9,
                  chip.gmBytesPerSecond() / 1e9,
                  100 * achieved / chip.gmBytesPerSecond());
  }
  out += "\npipe utilisation (busy / total cycles):\n        ";
  for (const char *label : kPipeLabels) {
    char cell[16];
    std::snprintf(cell, sizeof(cell), "%7s", label);
    out += cell;
  }
  out += "\n";
  double total = double(stats.cycles ? stats.cycles : 1);
  double sums[kPipeCount] = {};
  for (size_t core = 0; core < stats.cores.size(); ++core) {
    char label[32];
    std::snprintf(label, sizeof(label), "core %-3zu", core);
    out += label;
    for (int pipe = 0; pipe < kPipeCount; ++pipe) {
      double share = double(stats.cores[core][pipe].busyCycles) / total;
      sums[pipe] += share;
      out += format("%6.1f%%", 100 * share);
    }
    out += "\n";
  }
  if (!stats.cores.empty()) {
    out += "average ";
    for (double sum : sums)
      out += format("%6.1f%%", 100 * sum / double(stats.cores.size()));
    out += "\n";
  }
  if (stats.traceEventsDropped)
    out += "trace: " + std::to_string(stats.traceEventsDropped) +
           " events dropped past the limit\n";
  return out;
}

std::string moec::npu::formatPhases(const SimStats &stats,
                                    const std::vector<std::string> &labels,
                                    bool each) {
  if (labels.size() != stats.barrierCycles.size() || labels.empty())
    return "";
  // Cycles and phases per label, the most expensive first.
  std::vector<std::pair<std::string, std::pair<uint64_t, unsigned>>> byLabel;
  uint64_t start = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    uint64_t cycles = stats.barrierCycles[i] - start;
    start = stats.barrierCycles[i];
    auto found = std::find_if(byLabel.begin(), byLabel.end(), [&](auto &entry) {
      return entry.first == labels[i];
    });
    if (found == byLabel.end())
      byLabel.push_back({labels[i], {cycles, 1}});
    else
      found->second = {found->second.first + cycles, found->second.second + 1};
  }
  std::stable_sort(byLabel.begin(), byLabel.end(), [](auto &a, auto &b) {
    return a.second.first > b.second.first;
  });
  double total = double(stats.cycles ? stats.cycles : 1);
  std::string out;
  if (each) {
    out += "cycles by phase:\n";
    uint64_t at = 0;
    for (size_t i = 0; i < labels.size(); ++i) {
      out += format("%6.0f %12.0f cycles  ", double(i),
                    double(stats.barrierCycles[i] - at)) +
             labels[i] + "\n";
      at = stats.barrierCycles[i];
    }
  }
  out += "cycles by op (phases end at BARRIER_ALL):\n";
  for (auto &[label, figures] : byLabel)
    out +=
        format("%6.1f%% %12.0f cycles  ", 100 * double(figures.first) / total,
               double(figures.first), 0) +
        label + format(" (%.0f phases)\n", double(figures.second), 0, 0);
  return out;
}
