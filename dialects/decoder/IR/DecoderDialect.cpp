//===- DecoderDialect.cpp - The decoder dialect ---------------------------===//

#include "dialects/decoder/IR/DecoderDialect.h"

#include "dialects/decoder/IR/DecoderOps.h"

using namespace moec::decoder;

#include "dialects/decoder/IR/DecoderDialect.cpp.inc"

void DecoderDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/decoder/IR/DecoderOps.cpp.inc"
      >();
}
