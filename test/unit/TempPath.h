//===- TempPath.h - Unique temporary file paths for unit tests -*- C++ -*-===//

#ifndef MOEC_TEST_UNIT_TEMPPATH_H
#define MOEC_TEST_UNIT_TEMPPATH_H

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <unistd.h>

namespace moec::test {

/// A path in the test temp directory, unique per test and `name`, removed
/// when the object dies.
class TempPath {
public:
  explicit TempPath(const std::string &name) {
    const auto *info = ::testing::UnitTest::GetInstance()->current_test_info();
    path = ::testing::TempDir() + "moec-" + info->test_suite_name() + "-" +
           info->name() + "-" + std::to_string(::getpid()) + "-" + name;
  }
  ~TempPath() { std::remove(path.c_str()); }
  const std::string &str() const { return path; }

private:
  std::string path;
};

} // namespace moec::test

#endif // MOEC_TEST_UNIT_TEMPPATH_H
