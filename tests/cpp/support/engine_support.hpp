// SPDX-License-Identifier: Apache-2.0
#pragma once

// Helpers for engine tests: a runtime from VPL source.

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "varpulis/engine/runtime.hpp"

namespace varpulis::engine {

/// Start a runtime for `source`, failing the test with its diagnostics when it does not start.
inline std::unique_ptr<Runtime> load(const std::string& source, RuntimeOptions options = {}) {
    auto r = Runtime::from_source(source, options);
    EXPECT_TRUE(r.runtime) << vpl::format_diagnostics(r.diagnostics, source);
    return std::move(r.runtime);
}

}  // namespace varpulis::engine
