// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace varpulis::common {

/// Split a URL path into its segments: "/api/v1/pipelines/x" -> {"api", "v1", "pipelines", "x"}
/// (empty segments skipped). A path that does not start with '/' has no segments: it routes
/// nowhere.
std::vector<std::string> split_path(std::string_view path);

struct HostPort {
    std::string host;
    int port = 0;
};

/// Read "host:port" (the port `default_port` when there is no colon); nothing when the host is
/// empty or the port is not a number from 1 to 65535.
std::optional<HostPort> split_host_port(const std::string& text, int default_port);

}  // namespace varpulis::common
