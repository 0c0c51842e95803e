// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "varpulis/common/value.hpp"
#include "varpulis/engine/symbol.hpp"

namespace varpulis::engine {

using common::Value;

/// One event: a type, an event time, and fields in insertion order. Immutable once shared.
struct Event {
    Symbol type = kNoSymbol;
    int64_t timestamp = 0;  ///< nanoseconds since the Unix epoch (event time)
    std::vector<std::pair<Symbol, Value>> fields;

    /// Return the field's value, or nullptr when the event has no such field.
    const Value* get(Symbol name) const {
        for (const auto& [k, v] : fields) {
            if (k == name) return &v;
        }
        return nullptr;
    }
    /// Set a field, replacing an existing one or appending a new one.
    void set(Symbol name, Value v);

    const std::string& type_name() const { return symbol_name(type); }
};

using EventPtr = std::shared_ptr<const Event>;

/// Build an event from names and values (convenience for tests and bindings).
EventPtr make_event(std::string_view type, std::vector<std::pair<std::string, Value>> fields, int64_t timestamp = 0);

/// Render an event as `Type {a: 1, b: "x"}` (for .print, logs and test failures).
std::string describe(const Event& e);

}  // namespace varpulis::engine
