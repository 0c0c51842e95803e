// SPDX-License-Identifier: Apache-2.0
#pragma once

// `.evt` files (vpl-language.md §2.1): one event per line, `BATCH <ms>` and `@<offset>` setting
// the event time (timestamp = offset from the Unix epoch), comments, three event forms.

#include <functional>
#include <istream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "varpulis/common/status.hpp"
#include "varpulis/common/string_hash.hpp"
#include "varpulis/engine/event.hpp"

namespace varpulis::engine {

/// Parses `.evt` text line by line.
class EventFileReader {
  public:
    /// Parse one line. Returns the event, nullptr for lines without one (blank, comment, BATCH),
    /// or an error whose span carries `line_number`.
    common::Result<EventPtr> parse_line(std::string_view line, uint32_t line_number);

  private:
    /// Intern through a reader-local cache: field names repeat on every line.
    Symbol symbol(std::string_view name);
    /// The same for the name at `position` of a line (0: the type, then the fields), checked first
    /// against the name there on the line before: lines of one file mostly repeat their layout.
    Symbol symbol_at(size_t position, std::string_view name);

    int64_t batch_offset_ns_ = 0;
    common::StringMap<Symbol> symbols_;
    std::vector<std::pair<std::string, Symbol>> recent_;  ///< by position
    std::vector<std::string_view> parts_;                 ///< the current line's fields
};

/// Parse a value literal of an `.evt` field: true/false, null/nil, quoted strings, numbers,
/// [arrays]; anything else is an unquoted string.
Value parse_evt_value(std::string_view text, int depth = 0);

/// Read every event of a stream, calling `on_event` for each; stops at the first bad line.
common::Status read_event_stream(std::istream& in, const std::function<common::Status(EventPtr)>& on_event);

/// Read a whole `.evt` file.
common::Status read_event_file(const std::string& path, const std::function<common::Status(EventPtr)>& on_event);

}  // namespace varpulis::engine
