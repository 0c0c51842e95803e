// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>

namespace varpulis::common {

/// Return a random UUID v4 in its 36-character text form.
std::string new_uuid();

}  // namespace varpulis::common
