// SPDX-License-Identifier: Apache-2.0
#pragma once

// Interned names: event types and field names become small integers once, so routing and field
// lookups compare integers instead of strings.

#include <cstdint>
#include <string>
#include <string_view>

namespace varpulis::engine {

using Symbol = uint32_t;

/// Return the symbol of `name`, creating it on first use. Thread-safe.
Symbol intern(std::string_view name);

/// The same for a name that came with an event (a field name or an event type), or kNoSymbol
/// once the names that came with events reach kMaxEventNames or kMaxEventNameBytes. Names are
/// never freed, so events with ever-new names would otherwise grow the process without end,
/// and abort it at 16.7 million names.
Symbol intern_event_name(std::string_view name);
inline constexpr size_t kMaxEventNames = 1'000'000;
inline constexpr size_t kMaxEventNameBytes = size_t{64} << 20;
/// The error for a name intern_event_name refused.
std::string event_names_full_message();

/// Return the symbol of `name` if it was ever interned (no allocation), else kNoSymbol.
Symbol find_symbol(std::string_view name);

/// Return the text of a symbol. The reference stays valid for the life of the process.
const std::string& symbol_name(Symbol s);

inline constexpr Symbol kNoSymbol = UINT32_MAX;

}  // namespace varpulis::engine
