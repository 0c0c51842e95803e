// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>

namespace varpulis::common {

/// A 1-based source position range; line 0 means "no position".
struct Span {
    uint32_t line = 0;
    uint32_t column = 0;
    uint32_t end_line = 0;
    uint32_t end_column = 0;

    bool known() const { return line != 0; }
};

}  // namespace varpulis::common
