//===- OnnxToLinalg.h - What convert-onnx-to-linalg supports ----*- C++ -*-===//

#ifndef MOEC_PASSES_CONVERSION_ONNXTOLINALG_ONNXTOLINALG_H
#define MOEC_PASSES_CONVERSION_ONNXTOLINALG_ONNXTOLINALG_H

#include <string>
#include <vector>

namespace moec {

/// The ops convert-onnx-to-linalg lowers, as "OpType" for the default
/// domain and "domain.OpType" otherwise, sorted.
std::vector<std::string> getLowerableOnnxOps();

} // namespace moec

#endif // MOEC_PASSES_CONVERSION_ONNXTOLINALG_ONNXTOLINALG_H
