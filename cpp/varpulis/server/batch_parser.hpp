// SPDX-License-Identifier: Apache-2.0
#pragma once

// simdjson parse of event bodies straight into events (no JSON tree of our own): a batch
// `{"events": [{"event_type": ..., "fields": {...}}, ...]}` with per-index errors for invalid
// events, and a single event `{"event_type", "fields", "timestamp"?, "max_output_events"?}`.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "varpulis/common/status.hpp"
#include "varpulis/engine/event.hpp"
#include "varpulis/engine/event_json.hpp"

namespace varpulis::server {

struct BatchError {
    size_t index = 0;
    std::string message;
    std::string code;  ///< invalid_event | limit_exceeded
};

struct ParsedBatch {
    std::vector<engine::EventPtr> events;
    std::vector<size_t> positions;  ///< of each event, its index in the "events" array
    std::vector<BatchError> errors;
    size_t total = 0;  ///< elements of the "events" array
};

/// Parse a batch body. Events without a "timestamp" get `default_ts`. A body that is not JSON or
/// has no "events" array is an error (invalid_json / invalid_request in the message's code).
common::Result<ParsedBatch> parse_batch(std::string_view body, int64_t default_ts, const engine::EventLimits& limits);

struct ParsedEvent {
    engine::EventPtr event;
    std::optional<uint64_t> max_output_events;  ///< present and a non-negative integer when set
    bool max_output_events_invalid = false;     ///< present but not a non-negative integer
};

/// Parse a single-event body. Errors: Invalid with code "invalid_json" (`code` set) for a body
/// that is not JSON, else the event's error with "invalid_event" or "limit_exceeded".
common::Result<ParsedEvent> parse_event_body(std::string_view body, int64_t default_ts, const engine::EventLimits& limits,
                                             std::string& code);

}  // namespace varpulis::server
