// SPDX-License-Identifier: Apache-2.0
#pragma once

// A folder of its own for the running test, under the system's temp directory.

#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <unistd.h>

namespace varpulis::testing {

/// `<tmp>/<prefix><pid>-<test name>`, emptied: the caller removes it when the test ends.
inline std::filesystem::path fresh_test_dir(const std::string& prefix) {
    auto dir = std::filesystem::temp_directory_path() /
               (prefix + std::to_string(::getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir);
    return dir;
}

}  // namespace varpulis::testing
