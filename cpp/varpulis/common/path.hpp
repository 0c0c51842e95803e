// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace varpulis::common {

/// Split a URL path into its segments: "/api/v1/pipelines/x" -> {"api", "v1", "pipelines", "x"}
/// (empty segments skipped). A path that does not start with '/' has no segments: it routes
/// nowhere.
std::vector<std::string> split_path(std::string_view path);

}  // namespace varpulis::common
