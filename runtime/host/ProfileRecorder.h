//===- ProfileRecorder.h - Routing statistics of an instrumented run -*- C++
//-*-===//
//
// A binary built with `moec --profile-routing` calls
// moec_profile_record once per MoE layer and run (see
// passes/Sparsity/InstrumentRouting.cpp); the calls add to one
// RoutingProfile that the command line writes out with --profile-out.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_RUNTIME_HOST_PROFILERECORDER_H
#define MOEC_RUNTIME_HOST_PROFILERECORDER_H

#include "runtime/formats/RoutingProfile.h"

namespace moec::rt {

/// The profile the generated code records into.
RoutingProfile &recordedProfile();
/// Turns recording on or off (off for timed --bench runs).
void setProfileRecording(bool enabled);
/// A recording error (a layer whose shape changed between calls); empty
/// when none.
const std::string &profileRecordingError();

} // namespace moec::rt

#endif // MOEC_RUNTIME_HOST_PROFILERECORDER_H
