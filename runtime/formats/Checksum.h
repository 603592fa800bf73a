//===- Checksum.h - The weights file checksum -------------------*- C++ -*-===//
//
// A 64-bit checksum the compiler records and the binary verifies when it
// maps the weights file. Bytes are hashed in fixed 1 MiB chunks whose
// hashes are folded in order, so the binary can hash chunks on all threads
// and still get the compiler's value. It detects corruption and
// truncation; it is not cryptographic.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_RUNTIME_FORMATS_CHECKSUM_H
#define MOEC_RUNTIME_FORMATS_CHECKSUM_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace moec::rt {

constexpr size_t kChecksumChunkBytes = size_t(1) << 20;

/// The hash of one chunk (at most kChecksumChunkBytes bytes).
uint64_t hashChunk(const uint8_t *data, size_t size);
/// Folds the next chunk's (or tensor's) hash into a running checksum.
uint64_t foldChecksum(uint64_t running, uint64_t next);
/// hashChunk over each chunk of [data, data + size), folded in order.
uint64_t checksumBytes(const uint8_t *data, size_t size);
/// checksumBytes over bytes that arrive in pieces: finish() returns what
/// one checksumBytes call on their concatenation returns.
class ChecksumStream {
public:
  void update(const uint8_t *data, size_t size);
  uint64_t finish();

private:
  uint64_t running = 0;
  bool hashedAny = false;
  /// The start of a chunk that the next piece completes.
  std::vector<uint8_t> partial;
};

/// 16 lowercase hex digits.
std::string checksumToHex(uint64_t checksum);

} // namespace moec::rt

#endif // MOEC_RUNTIME_FORMATS_CHECKSUM_H
