//===- ProfileFuzzer.cpp - libFuzzer target for routing profiles ----------===//
//
// A routing profile's JSON (its sidecar is a safetensors file, fuzzed on
// its own) must be accepted or rejected cleanly, without allocating what
// the file merely declares.
//
//===----------------------------------------------------------------------===//

#include "FormatFuzzers.h"

#include "runtime/formats/Json.h"
#include "runtime/formats/RoutingProfile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string error;
  moec::rt::json::Value value;
  moec::rt::json::parse(
      std::string_view(reinterpret_cast<const char *>(data), size), value,
      error);
  std::string path = moec::fuzz::writeScratch(data, size, ".json");
  moec::rt::RoutingProfile profile;
  moec::rt::readRoutingProfile(path, profile, error);
  return 0;
}
