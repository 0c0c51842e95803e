// SPDX-License-Identifier: Apache-2.0
#pragma once

// Events as JSON, in the two shapes Varpulis speaks: the flat output shape
// `{"event_type": "T", "field": ...}` and the input shape `{"event_type": "T", "fields": {...}}`.

#include <nlohmann/json.hpp>

#include "varpulis/common/status.hpp"
#include "varpulis/engine/event.hpp"

namespace varpulis::engine {

/// JSON that keeps object keys in insertion order: events show their fields in the order they
/// were written, and `event_type` first.
using OrderedJson = nlohmann::ordered_json;

/// Limits on events that come from outside (HTTP, MQTT, files, Python).
struct EventLimits {
    size_t max_fields = 1024;
    size_t max_string_bytes = 256 * 1024;
    size_t max_depth = 32;
};

/// Convert a value to JSON (durations as nanoseconds, timestamps as RFC 3339 strings).
OrderedJson value_json(const Value& v);

/// Convert JSON to a value, enforcing the limits. Integral numbers become ints.
common::Result<Value> json_value(const OrderedJson& j, const EventLimits& limits, size_t depth = 0);

/// `{"event_type": type, ...fields}`; with `with_timestamp`, also `"timestamp"` (RFC 3339, UTC).
OrderedJson event_json(const Event& e, bool with_timestamp = false);

/// Append `event_json(e, with_timestamp).dump()` to `out` without building a JSON tree: the
/// per-event path of sinks, where the tree's allocations cost more than the work itself.
void append_event_json(std::string& out, const Event& e, bool with_timestamp = false);

/// Build an event from a type and a JSON object of fields, enforcing the limits.
common::Result<EventPtr> event_from_json(std::string_view type, const OrderedJson& fields, int64_t timestamp,
                                         const EventLimits& limits = {});

/// Build an event from the flat shape sinks write, `{"event_type": T, "timestamp": ..., field: ...}`
/// (MQTT payloads). The type comes from "event_type", else "type", else `default_type`; the
/// timestamp may be RFC 3339 text or integer nanoseconds, and is `now_ns` when absent.
common::Result<EventPtr> event_from_flat_json(const OrderedJson& object, std::string_view default_type, int64_t now_ns,
                                              const EventLimits& limits = {});

/// Format nanoseconds since the epoch as RFC 3339 with millisecond precision ("2024-01-02T03:04:05.000Z").
std::string rfc3339(int64_t ns);

}  // namespace varpulis::engine
