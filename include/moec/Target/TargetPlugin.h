//===- TargetPlugin.h - Targets loaded from shared libraries ----*- C++ -*-===//
//
// A target built outside moec's tree is a shared library that defines
//
//   extern "C" MoecTargetPluginInfo moecGetTargetPluginInfo(void);
//
// (MOEC_DEFINE_TARGET_PLUGIN does it). `moec --load-target-plugin=PATH`
// and `moec-opt --load-target-plugin=PATH` dlopen the library before they
// parse their command line, so that the target's own flags exist, check the
// API version and register the target. docs/target-plugins.md is the guide.
//
//===----------------------------------------------------------------------===//

#ifndef MOEC_TARGET_TARGETPLUGIN_H
#define MOEC_TARGET_TARGETPLUGIN_H

#include "moec/Target/TargetRegistry.h"

#include "llvm/Support/Error.h"

#include <string>
#include <vector>

extern "C" {
/// What a plugin's entry point returns.
struct MoecTargetPluginInfo {
  /// kTargetApiVersion of the SDK the plugin was built against.
  uint32_t apiVersion;
  /// The target's name (its --target= value).
  const char *targetName;
  /// Adds the target to the registry; see TargetEntryPoint.
  moec::TargetEntryPoint registerTarget;
};
}

/// The symbol every target plugin exports.
#define MOEC_TARGET_PLUGIN_ENTRY "moecGetTargetPluginInfo"

/// Defines the entry point of a plugin whose target NAME registers through
/// REGISTER (a moec::TargetEntryPoint).
#define MOEC_DEFINE_TARGET_PLUGIN(NAME, REGISTER)                              \
  extern "C" __attribute__((visibility("default"))) MoecTargetPluginInfo       \
  moecGetTargetPluginInfo() {                                                  \
    return {moec::kTargetApiVersion, NAME, REGISTER};                          \
  }

namespace moec {

/// The flag both drivers accept, repeatable.
constexpr const char kLoadTargetPluginFlag[] = "load-target-plugin";

/// Loads the plugin at `path` and registers its target, recording `path` as
/// the target's origin. Fails, naming the file, when it cannot be loaded,
/// lacks the entry point, was built for another API version, or names a
/// target the registry already has.
llvm::Error loadTargetPlugin(const std::string &path, TargetRegistry &registry);

/// Loads, in order, every plugin `argv` names as --load-target-plugin=PATH
/// or --load-target-plugin PATH; stops at the first failure.
llvm::Error loadTargetPlugins(int argc, char **argv, TargetRegistry &registry);

} // namespace moec

#endif // MOEC_TARGET_TARGETPLUGIN_H
