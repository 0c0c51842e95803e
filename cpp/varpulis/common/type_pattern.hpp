// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string_view>

namespace varpulis::common {

/// Return true when an event type matches a route pattern: `Exact`, `Prefix*` (trailing `*`
/// only) or `*`. Worker routes and the coordinator's routing use this one rule.
bool event_type_matches(std::string_view pattern, std::string_view type);

}  // namespace varpulis::common
