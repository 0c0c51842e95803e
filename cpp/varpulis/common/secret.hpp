// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string_view>

namespace varpulis::common {

/// Compare two secrets (API keys, join and heartbeat tokens) in time that does not depend on
/// where they differ.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace varpulis::common
