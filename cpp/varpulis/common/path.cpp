// SPDX-License-Identifier: Apache-2.0
#include "varpulis/common/path.hpp"

#include <algorithm>

namespace varpulis::common {

std::vector<std::string> split_path(std::string_view path) {
    std::vector<std::string> parts;
    if (!path.starts_with('/')) return parts;
    parts.reserve(static_cast<size_t>(std::count(path.begin(), path.end(), '/')));
    while (!path.empty()) {
        size_t slash = path.find('/');
        if (slash != 0) parts.emplace_back(path.substr(0, slash));
        if (slash == std::string_view::npos) break;
        path.remove_prefix(slash + 1);
    }
    return parts;
}

std::optional<HostPort> split_host_port(const std::string& text, int default_port) {
    const size_t colon = text.rfind(':');
    HostPort out{text.substr(0, colon), default_port};
    if (colon != std::string::npos) {
        try {
            out.port = std::stoi(text.substr(colon + 1));
        } catch (...) {
            return std::nullopt;
        }
    }
    if (out.host.empty() || out.port < 1 || out.port > 65535) return std::nullopt;
    return out;
}

}  // namespace varpulis::common
