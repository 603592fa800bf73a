//===- ChipDescriptionFuzzer.cpp - libFuzzer target for chip descriptions -===//
//
// Feeds arbitrary bytes to parseChipDescription. Besides crashes and
// sanitizer reports, it aborts when a refusal is not a "line N: ..." message
// or when an accepted chip does not print and parse back to itself.
//
//===----------------------------------------------------------------------===//

#include "machine/ChipDescription.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

using namespace moec::npu;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size);
  ChipDescription chip;
  std::string error;
  if (!parseChipDescription(text, chip, error)) {
    // Messages quote the input cut short, however long the input.
    bool located = error.rfind("line ", 0) == 0 ||
                   error.rfind("the description is ", 0) == 0;
    if (!located || error.size() > 1024)
      abort();
    return 0;
  }
  if (!validateChipDescription(chip, error))
    abort();
  std::string printed = printChipDescription(chip);
  ChipDescription again;
  if (!parseChipDescription(printed, again, error) || again != chip ||
      printChipDescription(again) != printed)
    abort();
  return 0;
}
