// SPDX-License-Identifier: Apache-2.0
#include "varpulis/common/type_pattern.hpp"

namespace varpulis::common {

bool event_type_matches(std::string_view pattern, std::string_view type) {
    if (pattern == "*") return true;
    if (!pattern.empty() && pattern.back() == '*') return type.starts_with(pattern.substr(0, pattern.size() - 1));
    return pattern == type;
}

}  // namespace varpulis::common
