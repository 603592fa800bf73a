//===- RopeFrequencies.h - inv_freq of each rotary scaling ------*- C++ -*-===//

#ifndef MOEC_LIB_FRONTEND_CHECKPOINT_ROPEFREQUENCIES_H
#define MOEC_LIB_FRONTEND_CHECKPOINT_ROPEFREQUENCIES_H

#include "moec/Frontend/DecoderConfig.h"

#include <vector>

namespace moec {

/// The rotary inverse frequencies [rotaryDim / 2] with the config's scaling
/// applied (the amplitude, yarn's attention factor, is rope.attentionFactor).
std::vector<double> computeInvFreq(const RopeConfig &rope);

} // namespace moec

#endif // MOEC_LIB_FRONTEND_CHECKPOINT_ROPEFREQUENCIES_H
