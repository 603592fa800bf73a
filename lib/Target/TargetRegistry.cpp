//===- TargetRegistry.cpp - The targets a moec driver knows ---------------===//

#include "moec/Target/TargetRegistry.h"

#include "llvm/ADT/STLExtras.h"

using namespace moec;

TargetBackend::~TargetBackend() = default;

bool TargetRegistry::add(std::unique_ptr<TargetBackend> target) {
  std::string name = target->getName().str();
  return targets.try_emplace(name, std::move(target)).second;
}

const TargetBackend *TargetRegistry::lookup(llvm::StringRef name) const {
  auto it = targets.find(name);
  return it == targets.end() ? nullptr : it->second.get();
}

std::vector<const TargetBackend *> TargetRegistry::getTargets() const {
  std::vector<const TargetBackend *> result;
  for (const auto &entry : targets)
    result.push_back(entry.second.get());
  llvm::sort(result, [](const TargetBackend *a, const TargetBackend *b) {
    return a->getName() < b->getName();
  });
  return result;
}

std::string TargetRegistry::getOrigin(llvm::StringRef name) const {
  auto it = origins.find(name);
  return it == origins.end() ? "built in" : it->second;
}

void TargetRegistry::setOrigin(llvm::StringRef name, std::string origin) {
  origins[name] = std::move(origin);
}
