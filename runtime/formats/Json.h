//===- Json.h - A small strict JSON reader and string escaper -*- C++ -*-===//
//
// Enough JSON for safetensors headers and routing profiles, without a
// dependency the standalone binary would have to carry. Parsing is strict
// (RFC 8259), bounded in nesting depth, and never throws.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_RUNTIME_FORMATS_JSON_H
#define MOEC_RUNTIME_FORMATS_JSON_H

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace moec::rt::json {

struct Value {
  enum class Kind { Null, Bool, Number, String, Array, Object };
  Kind kind = Kind::Null;
  bool boolean = false;
  double number = 0;
  /// The number's source text, so integers beyond 2^53 stay exact.
  std::string numberText;
  std::string string;
  std::vector<Value> array;
  /// Object members in source order (duplicate keys are a parse error).
  std::vector<std::pair<std::string, Value>> object;

  const Value *find(std::string_view key) const;
};

/// Parses `text` as one JSON value. On failure returns false and sets
/// `error` to a message with the byte offset of the problem.
bool parse(std::string_view text, Value &out, std::string &error);

/// Parses a JSON number's text as a non-negative integer that fits in
/// uint64_t; false for fractions, exponents, signs or overflow.
bool toUInt64(const Value &value, uint64_t &out);

/// Appends `text` to `out` as a quoted JSON string.
void appendQuoted(std::string &out, std::string_view text);

} // namespace moec::rt::json

#endif // MOEC_RUNTIME_FORMATS_JSON_H
