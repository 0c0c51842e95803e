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

}  // namespace varpulis::common
