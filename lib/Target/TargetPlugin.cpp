//===- TargetPlugin.cpp - Targets loaded from shared libraries ------------===//

#include "moec/Target/TargetPlugin.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/DynamicLibrary.h"

using namespace moec;

/// The paths given as --load-target-plugin=PATH or --load-target-plugin
/// PATH in `argv`, in order.
static std::vector<std::string> findTargetPluginPaths(int argc, char **argv) {
  std::vector<std::string> paths;
  std::string flag = std::string("--") + kLoadTargetPluginFlag;
  for (int i = 1; i < argc; ++i) {
    llvm::StringRef arg = argv[i];
    if (arg == "--")
      break;
    if (arg.consume_front(flag + "="))
      paths.push_back(arg.str());
    else if (arg == flag && i + 1 < argc)
      paths.push_back(argv[++i]);
  }
  return paths;
}

static llvm::Error pluginError(const std::string &path,
                               const llvm::Twine &why) {
  return llvm::createStringError("target plugin '" + path + "': " + why);
}

llvm::Error moec::loadTargetPlugin(const std::string &path,
                                   TargetRegistry &registry) {
  std::string error;
  auto library =
      llvm::sys::DynamicLibrary::getPermanentLibrary(path.c_str(), &error);
  if (!library.isValid())
    return pluginError(path, "cannot be loaded: " + error);
  void *entry = library.getAddressOfSymbol(MOEC_TARGET_PLUGIN_ENTRY);
  if (!entry)
    return pluginError(path, "is not a moec target plugin (it does not "
                             "export " MOEC_TARGET_PLUGIN_ENTRY ")");
  MoecTargetPluginInfo info =
      reinterpret_cast<MoecTargetPluginInfo (*)()>(entry)();
  llvm::StringRef name = info.targetName ? info.targetName : "";
  if (info.apiVersion != kTargetApiVersion)
    return pluginError(path, "target '" + name +
                                 "' was built for target API "
                                 "version " +
                                 llvm::Twine(info.apiVersion) +
                                 ", this moec has version " +
                                 llvm::Twine(kTargetApiVersion));
  if (name.empty() || !info.registerTarget)
    return pluginError(path, "names no target or no registration function");
  if (registry.lookup(name))
    return pluginError(path, "adds target '" + name +
                                 "', which is already registered (" +
                                 registry.getOrigin(name) + ")");
  if (!info.registerTarget(kTargetApiVersion, &registry) ||
      !registry.lookup(name))
    return pluginError(path, "target '" + name + "' did not register");
  registry.setOrigin(name, path);
  return llvm::Error::success();
}

llvm::Error moec::loadTargetPlugins(int argc, char **argv,
                                    TargetRegistry &registry) {
  for (const std::string &path : findTargetPluginPaths(argc, argv))
    if (llvm::Error error = loadTargetPlugin(path, registry))
      return error;
  return llvm::Error::success();
}
