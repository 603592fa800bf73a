//===- ExternalData.cpp - Safe resolution of external-data locations ------===//
//
// An ONNX file names its external data by a path; a model from an untrusted
// source must not make the importer read files outside its own directory.
//
//===----------------------------------------------------------------------===//

#include "ImportUtils.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

using namespace moec;

llvm::Expected<std::string>
onnx_import::resolveExternalLocation(llvm::StringRef modelDir,
                                     llvm::StringRef location) {
  auto unsafe = [&](const char *why) {
    return llvm::createStringError("external data location '%s' is unsafe: %s",
                                   location.str().c_str(), why);
  };
  if (location.empty())
    return llvm::createStringError("external data has an empty location");
  if (location.contains('\0'))
    return unsafe("it contains a NUL character");
  if (llvm::sys::path::is_absolute(location, llvm::sys::path::Style::posix) ||
      llvm::sys::path::is_absolute(location, llvm::sys::path::Style::windows) ||
      location.starts_with("\\"))
    return unsafe("it is an absolute path");
  llvm::SmallVector<llvm::StringRef> parts;
  llvm::SplitString(location, parts, "/\\");
  if (llvm::is_contained(parts, ".."))
    return unsafe("it leaves the model's directory with '..'");

  llvm::SmallString<256> path(modelDir.empty() ? "." : modelDir);
  llvm::sys::path::append(path, location);
  llvm::SmallString<256> realDir, realFile;
  if (std::error_code ec =
          llvm::sys::fs::real_path(modelDir.empty() ? "." : modelDir, realDir))
    return llvm::createStringError(
        ec, "cannot resolve model directory '%s': %s", modelDir.str().c_str(),
        ec.message().c_str());
  if (std::error_code ec = llvm::sys::fs::real_path(path, realFile))
    return llvm::createStringError(ec, "external data file '%s' not found: %s",
                                   path.c_str(), ec.message().c_str());
  // A symlink inside the directory may still point outside it.
  llvm::StringRef inside(realFile);
  if (!inside.consume_front(realDir) ||
      !llvm::sys::path::is_separator(inside.empty() ? '\0' : inside.front()))
    return unsafe("it resolves (through a symbolic link) to a file outside "
                  "the model's directory");
  // A directory fails to read; a FIFO or a device would block or never end.
  llvm::sys::fs::file_status status;
  if (std::error_code ec = llvm::sys::fs::status(realFile, status))
    return llvm::createStringError(ec, "external data file '%s': %s",
                                   path.c_str(), ec.message().c_str());
  if (status.type() != llvm::sys::fs::file_type::regular_file)
    return llvm::createStringError(
        "external data location '%s' is not a regular file",
        location.str().c_str());
  return std::string(realFile);
}
