//===- Checksum.cpp - The weights file checksum ---------------------------===//

#include "runtime/formats/Checksum.h"

#include <cstring>

using namespace moec::rt;

static constexpr uint64_t kMultiplier = 0x9E3779B97F4A7C15ull;

static uint64_t mix(uint64_t h) {
  h ^= h >> 31;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 29;
  return h;
}

uint64_t moec::rt::hashChunk(const uint8_t *data, size_t size) {
  // Four independent lanes keep the multiplies from serialising.
  uint64_t lanes[4] = {1, 2, 3, 4};
  size_t i = 0;
  for (; i + 32 <= size; i += 32)
    for (int lane = 0; lane < 4; ++lane) {
      uint64_t word;
      std::memcpy(&word, data + i + 8 * lane, 8);
      lanes[lane] = (lanes[lane] ^ word) * kMultiplier;
      lanes[lane] ^= lanes[lane] >> 32;
    }
  uint64_t h = size;
  for (uint64_t lane : lanes)
    h = mix(h ^ lane) * kMultiplier;
  for (; i < size; ++i)
    h = (h ^ data[i]) * kMultiplier;
  return mix(h);
}

uint64_t moec::rt::foldChecksum(uint64_t running, uint64_t next) {
  return mix((running ^ next) * kMultiplier + 0x632BE59BD9B4E019ull);
}

uint64_t moec::rt::checksumBytes(const uint8_t *data, size_t size) {
  uint64_t running = 0;
  for (size_t offset = 0; offset < size || offset == 0;
       offset += kChecksumChunkBytes) {
    size_t chunk = size - offset < kChecksumChunkBytes ? size - offset
                                                       : kChecksumChunkBytes;
    running = foldChecksum(running, hashChunk(data + offset, chunk));
    if (size == 0)
      break;
  }
  return running;
}

void ChecksumStream::update(const uint8_t *data, size_t size) {
  while (size) {
    if (partial.empty() && size >= kChecksumChunkBytes) {
      running = foldChecksum(running, hashChunk(data, kChecksumChunkBytes));
      hashedAny = true;
      data += kChecksumChunkBytes;
      size -= kChecksumChunkBytes;
      continue;
    }
    size_t take = kChecksumChunkBytes - partial.size();
    if (take > size)
      take = size;
    partial.insert(partial.end(), data, data + take);
    data += take;
    size -= take;
    if (partial.size() == kChecksumChunkBytes) {
      running =
          foldChecksum(running, hashChunk(partial.data(), partial.size()));
      hashedAny = true;
      partial.clear();
    }
  }
}

uint64_t ChecksumStream::finish() {
  if (!partial.empty() || !hashedAny)
    running = foldChecksum(running, hashChunk(partial.data(), partial.size()));
  partial.clear();
  hashedAny = true;
  return running;
}

std::string moec::rt::checksumToHex(uint64_t checksum) {
  static const char digits[] = "0123456789abcdef";
  std::string text(16, '0');
  for (int i = 15; i >= 0; --i, checksum >>= 4)
    text[i] = digits[checksum & 15];
  return text;
}
