// SPDX-License-Identifier: Apache-2.0
#pragma once

// JSON text written without a JSON tree (the event writer, log lines).

#include <cstddef>
#include <string>
#include <string_view>

namespace varpulis::common {

/// Length of the well-formed UTF-8 sequence at `s[i]` (RFC 3629: no overlongs, no surrogates,
/// nothing above U+10FFFF), or 0 when the bytes there are not one.
size_t utf8_sequence_length(std::string_view s, size_t i);

/// Append `s` as a JSON string literal. Bytes that are not UTF-8 become U+FFFD, as a JSON tree's
/// dump does with `error_handler_t::replace`: what is written is always valid JSON.
void append_json_string(std::string& out, std::string_view s);

}  // namespace varpulis::common
