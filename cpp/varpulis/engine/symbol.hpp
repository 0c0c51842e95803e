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

/// Return the symbol of `name` if it was ever interned (no allocation), else kNoSymbol.
Symbol find_symbol(std::string_view name);

/// Return the text of a symbol. The reference stays valid for the life of the process.
const std::string& symbol_name(Symbol s);

inline constexpr Symbol kNoSymbol = UINT32_MAX;

}  // namespace varpulis::engine
