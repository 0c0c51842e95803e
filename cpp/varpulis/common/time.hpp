// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace varpulis::common {

/// Return the wall-clock time in nanoseconds since the Unix epoch.
int64_t wall_clock_ns();
/// Return the wall-clock time in milliseconds since the Unix epoch.
int64_t wall_clock_ms();

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);

/// Parse `YYYY-MM-DD[THH:MM:SS[.fff...][Z|±HH:MM]]` (UTC when no offset is given) into nanoseconds
/// since the epoch; nothing when the text has another shape or an impossible date or time.
std::optional<int64_t> parse_rfc3339(std::string_view text);

}  // namespace varpulis::common
